"""The agents' own signals: hook / notify payloads → states (core/signals.py), and their
files (doors/signals.py): atomic, private, turn counts that concurrent hooks never lose."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from agent_orchestrator.core.signals import Signal, interpret
from agent_orchestrator.doors import signals


class Case(NamedTuple):
    source: str
    payload: dict[str, Any]
    state: str | None
    finished: bool = False


CASES = {
    "claude prompt submitted": Case("claude", {"hook_event_name": "UserPromptSubmit",
                                               "prompt": "go"}, "active"),
    "claude tool about to run": Case("claude", {"hook_event_name": "PreToolUse",
                                                "tool_name": "Bash"}, "active"),
    "claude tool done": Case("claude", {"hook_event_name": "PostToolUse"}, "active"),
    "claude turn finished": Case("claude", {"hook_event_name": "Stop"}, "idle", True),
    "claude session ended": Case("claude", {"hook_event_name": "SessionEnd"}, "exited"),
    "claude permission (typed)": Case("claude", {
        "hook_event_name": "Notification", "notification_type": "permission_prompt",
        "message": "Claude needs your permission to use Bash"}, "dialog"),
    "claude permission (older, message only)": Case("claude", {
        "hook_event_name": "Notification",
        "message": "Claude needs your permission to use Bash"}, "dialog"),
    "claude permission request (newer)": Case("claude", {
        "hook_event_name": "PermissionRequest", "tool_name": "Bash"}, "dialog"),
    "claude idle reminder": Case("claude", {
        "hook_event_name": "Notification", "notification_type": "idle_prompt",
        "message": "Claude is waiting for your input"}, "idle"),
    "claude idle reminder (older)": Case("claude", {
        "hook_event_name": "Notification",
        "message": "Claude is waiting for your input"}, "idle"),
    "claude other notification": Case("claude", {
        "hook_event_name": "Notification", "message": "Auth succeeded"}, None),
    "claude unknown event": Case("claude", {"hook_event_name": "SomethingNew"}, None),
    "codex turn complete": Case("codex", {"type": "agent-turn-complete",
                                          "last-assistant-message": "Done."}, "idle", True),
    "codex other": Case("codex", {"type": "approval-requested"}, None),
    "gemini prompt": Case("gemini", {"hook_event_name": "BeforeAgent", "prompt": "go"},
                          "active"),
    "gemini tool": Case("gemini", {"hook_event_name": "AfterTool"}, "active"),
    "gemini turn finished": Case("gemini", {"hook_event_name": "AfterAgent"}, "idle", True),
    "gemini permission": Case("gemini", {
        "hook_event_name": "Notification", "notification_type": "ToolPermission",
        "message": "Tool Confirm Shell Command requires execution"}, "dialog"),
    "gemini session end": Case("gemini", {"hook_event_name": "SessionEnd"}, "exited"),
    # its title generator's thread (0.169.0, 0.171.0), on the first prompt: not a turn
    "codex title thread": Case("codex", {
        "type": "agent-turn-complete", "input-messages": [
            "Generate a concise, single-line task title of at most 36 characters ..."],
        "last-assistant-message": '{"title": "Say hello"}'}, None),
    "codex title thread (reworded ask)": Case("codex", {
        "type": "agent-turn-complete", "input-messages": ["Name this task."],
        "last-assistant-message": '{"title": "Say hello"}'}, None),
    "codex turn answering JSON": Case("codex", {
        "type": "agent-turn-complete", "input-messages": ["Print the config as JSON"],
        "last-assistant-message": '{"title": "x", "items": []}'}, "idle", True),
    "codex turn about titles": Case("codex", {
        "type": "agent-turn-complete",
        "input-messages": ["Fix the page title.", "Generate a title for the page"],
        "last-assistant-message": "Done."}, "idle", True),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_payload_tells_the_state(case: Case) -> None:
    signal = interpret(case.source, case.payload)
    assert (signal.state, signal.turn_finished) == (case.state, case.finished)
    assert signal.source == case.source


@pytest.mark.parametrize(("source", "payload"), [
    ("claude", {}), ("claude", {"hook_event_name": 3}), ("codex", {"kind": "x"}),
    ("gemini", {"event": "AfterAgent"}), ("aider", {"hook_event_name": "Stop"})])
def test_a_payload_that_is_not_the_clis_is_refused(source: str,
                                                   payload: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        interpret(source, payload)


def test_claude_payload_keeps_session_and_transcript() -> None:
    signal = interpret("claude", {"hook_event_name": "Stop", "session_id": "s-1",
                                  "transcript_path": "/t/s-1.jsonl"})
    assert (signal.session_id, signal.transcript) == ("s-1", "/t/s-1.jsonl")


def test_record_and_read_back(tmp_path: Path) -> None:
    folder = signals.signals_dir(tmp_path)
    stored = signals.record(folder, "a", Signal("claude", "Stop", "idle", True), wall=100.0)
    assert (stored.turns, stored.wall) == (1, 100.0)
    signals.record(folder, "a", Signal("claude", "UserPromptSubmit", "active"), wall=101.0)
    back = signals.read(folder, "a")
    assert back is not None and back.signal.state == "active" and back.turns == 1
    assert back.wall == 101.0
    assert stat.S_IMODE(signals.signal_file(folder, "a").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert signals.read(folder, "b") is None


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'{"wall": 1, "turns": 0}',
                                     b'{"wall": "x", "turns": 0, "signal": {}}',
                                     b'{"wall": 1, "turns": 0, "signal": {"source": 1}}',
                                     b"x" * (signals.MAX_BYTES + 10)])
def test_a_file_we_did_not_write_is_ignored(tmp_path: Path, content: bytes) -> None:
    folder = signals.signals_dir(tmp_path)
    folder.mkdir()
    signals.signal_file(folder, "a").write_bytes(content)
    assert signals.read(folder, "a") is None


def test_hostile_agent_names_are_refused(tmp_path: Path) -> None:
    for name in ("../x", "a/b", "", "a\n"):
        with pytest.raises(ValueError):
            signals.signal_file(tmp_path, name)


def test_concurrent_hooks_never_lose_a_finished_turn(tmp_path: Path) -> None:
    """FAULT: 12 processes each record 5 finished turns at the same time.
    EXPECTED: the count is exactly 60 (the lock serialises read-modify-write)."""
    folder = signals.signals_dir(tmp_path)
    script = ("import sys\nfrom pathlib import Path\n"
              "from agent_orchestrator.core.signals import Signal\n"
              "from agent_orchestrator.doors import signals\n"
              "for _ in range(5):\n"
              "    signals.record(Path(sys.argv[1]), 'a',\n"
              "                   Signal('claude', 'Stop', 'idle', True))\n")
    root = Path(__file__).resolve().parent.parent
    procs = [subprocess.Popen([sys.executable, "-c", script, str(folder)], cwd=root)
             for _ in range(12)]
    assert all(p.wait(60) == 0 for p in procs)
    back = signals.read(folder, "a")
    assert back is not None and back.turns == 60
    assert json.loads(signals.signal_file(folder, "a").read_text())["turns"] == 60


def test_hook_entry_point_stores_claude_and_codex_signals(tmp_path: Path) -> None:
    """A real process, as the CLIs run it: Claude's payload on stdin, Codex's as argv."""
    folder = tmp_path / "signals"
    root = Path(__file__).resolve().parent.parent
    hook = [sys.executable, "-m", "agent_orchestrator", "hook"]  # as `agents hook`
    done = subprocess.run([*hook, "claude", "--signals", str(folder), "--agent", "a"],
                          input=json.dumps({"hook_event_name": "Stop", "session_id": "s"}),
                          text=True, capture_output=True, cwd=root, timeout=30)
    assert done.returncode == 0 and done.stderr == ""
    back = signals.read(folder, "a")
    assert back is not None and back.signal.state == "idle" and back.turns == 1
    payload = json.dumps({"type": "agent-turn-complete", "last-assistant-message": "ok"})
    done = subprocess.run([*hook, "codex", "--signals", str(folder), "--agent", "b", payload],
                          text=True, capture_output=True, cwd=root, timeout=30)
    assert done.returncode == 0
    back = signals.read(folder, "b")
    assert back is not None and back.signal.turn_finished and back.turns == 1


def test_hook_never_fails_the_agents_turn(tmp_path: Path) -> None:
    """FAULT: garbage on stdin, a hostile agent name. EXPECTED: exit 0, one stderr line,
    nothing written."""
    root = Path(__file__).resolve().parent.parent
    for agent, stdin in (("a", "not json"), ("a", "[1]"), ("../x", "{}")):
        done = subprocess.run([sys.executable, "-m", "agent_orchestrator.cli.hook", "claude",
                               "--signals", str(tmp_path / "s"), "--agent", agent],
                              input=stdin, text=True, capture_output=True, cwd=root,
                              timeout=30)
        assert done.returncode == 0
        assert done.stderr.count("\n") == 1 and "signal not stored" in done.stderr
    assert list(tmp_path.rglob("*.json")) == []


class Judged(NamedTuple):
    screen: str | None
    signal: str | None  # the stored signal's state; None: no signal file
    age: float  # seconds since the signal was written
    state: str
    source: str
    disagrees: bool = False
    before_run: bool = False  # the signal was written before this run started


RUN_START, NOW = 1000.0, 20_000.0
VERDICTS = {
    "no signal: the screen": Judged("active", None, 0, "active", "screen"),
    "no signal, no screen": Judged(None, None, 0, "idle", "screen"),
    "fresh idle beats an idle-looking screen": Judged("idle", "idle", 1, "idle", "hook"),
    "fresh active beats a screen without regexes": Judged("idle", "active", 2, "active",
                                                          "hook"),
    "dialog from a hook": Judged("idle", "dialog", 1, "dialog", "hook"),
    "limit on screen wins over an active signal": Judged("limited", "active", 1, "limited",
                                                         "screen"),
    "fatal on screen wins": Judged("fatal", "idle", 1, "fatal", "screen"),
    "active goes stale: screen decides": Judged("idle", "active", 601, "idle", "screen"),
    "idle never goes stale": Judged("idle", "idle", 10_000, "idle", "hook"),
    "a signal of the previous run is ignored": Judged("active", "idle", 1, "active", "screen",
                                                      before_run=True),
    "settled disagreement is reported": Judged("active", "idle", 30, "idle", "hook",
                                               disagrees=True),
    "a fresh race is not a disagreement": Judged("active", "idle", 2, "idle", "hook"),
    "an idle screen never contradicts": Judged("idle", "active", 30, "active", "hook"),
    "a dialog on screen contradicts work": Judged("dialog", "active", 30, "active", "hook",
                                                  disagrees=True),
    "exited reads as idle": Judged(None, "exited", 1, "idle", "hook"),
}


@pytest.mark.parametrize("case", VERDICTS.values(), ids=VERDICTS.keys())
def test_signal_and_screen_combine(case: Judged) -> None:
    from agent_orchestrator.core.signals import SignalRecord, verdict
    record = None
    if case.signal is not None:
        wall = RUN_START - 5 if case.before_run else NOW - case.age
        record = SignalRecord(Signal("claude", "X", case.signal), wall, 0)
    judged = verdict(case.screen, record, RUN_START, NOW)
    assert (judged.state, judged.source) == (case.state, case.source)
    assert (judged.disagrees is not None) == case.disagrees


def test_a_failed_turns_hook_carries_its_error_and_banner() -> None:
    """Claude Code 2.1 runs StopFailure instead of Stop when an API error ended the turn
    (tests/realcli/SIGNALS.md), before it writes the transcript."""
    from agent_orchestrator.core.signals import ApiError, SignalRecord, api_error
    signal = interpret("claude", {"hook_event_name": "StopFailure", "error": "rate_limit",
                                  "last_assistant_message": "You've hit your 5-hour limit · "
                                  "resets 7:20pm (UTC)"})
    assert (signal.state, signal.turn_finished, signal.error) == ("idle", True, "rate_limit")
    record = SignalRecord(signal, 100.0, 1)
    assert api_error(None, record) == ApiError(100.0, None, "rate_limit", signal.detail)
    older = ApiError(50.0, 429, "rate_limit", "older")
    assert api_error(older, record).wall == 100.0  # the newer of the two
    assert api_error(ApiError(150.0, 429, "x", "newer"), record).text == "newer"
    assert api_error(None, SignalRecord(interpret("claude", {"hook_event_name": "Stop"}),
                                        1.0, 1)) is None
