"""The `agents` command end to end: real processes, a real private tmux server."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import sessions, tmux_cmd, wait_until

LIVE = re.compile(r"\b(running|active|idle \d+[sm])\b")  # the states of a live agent
FLEET = """
[watchdog]
signal_interval = 1

[[agent]]
name = "one"
backend = "demo"
watch = "heal"
prompt = "work on one"

[[agent]]
name = "two"
backend = "demo"
watch = "heal"
prompt = "work on two"

[[agent]]
name = "manual"
backend = "demo"
prompt = "not watched"

[[agent]]
name = "off"
backend = "demo"
enabled = false
"""


def agents(*args: str, cwd: Path | None = None,
           timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent_orchestrator", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


def events(config_path: Path) -> list[dict]:
    path = config_path.parent / "logs" / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.tmux
def test_up_heal_down(make_config: Callable[..., Path], tmux_socket: str, wait_for) -> None:
    path = make_config(FLEET, socket=tmux_socket)
    result = agents("up", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert sessions(tmux_socket) == {"t-one", "t-two", "t-manual", "t-watchdog"}
    wait_for(lambda: {e["agent"] for e in events(path) if e["event"] == "adopt"} ==
             {"one", "two"}, what="the watchdog to adopt the watched agents")

    status = agents("status", "--config", str(path))
    assert status.returncode == 0, status.stderr
    assert "watchdog: running (pid" in status.stdout
    lines = {line.split()[0]: line for line in status.stdout.splitlines()[2:]}
    assert LIVE.search(lines["one"]) and "disabled" in lines["off"]

    old_pid = tmux_cmd(tmux_socket, "display-message", "-p", "-t", "=t-one:", "#{pane_pid}")
    tmux_cmd(tmux_socket, "kill-session", "-t", "=t-one")
    restart = wait_for(lambda: next((e for e in events(path) if e["agent"] == "one"
                                     and e["event"] == "restart"), None),
                       what="a restart event for the killed agent")
    assert restart["reason"] == "session gone"
    wait_for(lambda: "t-one" in sessions(tmux_socket), what="t-one to be back")
    new_pid = tmux_cmd(tmux_socket, "display-message", "-p", "-t", "=t-one:", "#{pane_pid}")
    assert new_pid.stdout != old_pid.stdout
    status = agents("status", "--config", str(path))
    one = next(line for line in status.stdout.splitlines() if line.startswith("one "))
    assert LIVE.search(one) and " 1/1 " in one  # restarts: last hour / total
    assert "restart" in one.split(" 1/1 ")[1]  # the last event, with its age

    # An unwatched agent that dies stays down.
    tmux_cmd(tmux_socket, "kill-session", "-t", "=t-manual")
    watchdog_pid = int((path.parent / "logs" / "state" / "watchdog.lock").read_text())
    down = agents("down", "--config", str(path))
    assert down.returncode == 0, down.stderr
    assert not [s for s in sessions(tmux_socket) if s.startswith("t-")]
    wait_for(lambda: not Path(f"/proc/{watchdog_pid}").exists()
             or "State:\tZ" in Path(f"/proc/{watchdog_pid}/status").read_text(),
             what="the watchdog process to end")
    # The watchdog said nothing about it: only the operator's `up` and `down` name it.
    assert {e["event"] for e in events(path) if e["agent"] == "manual"} == {"up", "down"}


@pytest.mark.tmux
def test_down_one_agent_is_not_healed(make_config: Callable[..., Path], tmux_socket: str,
                                      wait_for) -> None:
    path = make_config(FLEET, socket=tmux_socket)
    assert agents("up", "--config", str(path)).returncode == 0
    wait_for(lambda: any(e["event"] == "adopt" for e in events(path)), what="adoption")
    assert agents("down", "one", "--config", str(path)).returncode == 0
    assert "t-one" not in sessions(tmux_socket)
    # Let the watchdog see the fleet a few times: it must not bring `one` back.
    start = len(events(path))
    tmux_cmd(tmux_socket, "kill-session", "-t", "=t-two")
    wait_for(lambda: any(e["agent"] == "two" and e["event"] == "restart"
                         for e in events(path)[start:]), what="two to be healed")
    assert "t-one" not in sessions(tmux_socket)
    assert agents("up", "one", "--config", str(path)).returncode == 0
    assert "t-one" in sessions(tmux_socket)
    agents("down", "--config", str(path))


def test_check_reports_file_line_and_suggestion(make_config: Callable[..., Path]) -> None:
    path = make_config("""
        [[agent]]
        name = "a"
        backend = "demo"
        promt = "typo"
    """)
    line = path.read_text().splitlines().index('promt = "typo"') + 1
    result = agents("check", "--config", str(path))
    assert result.returncode == 1
    assert f"{path}:{line}: agent.a.promt: unknown key (did you mean 'prompt'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_ok_and_config_anywhere_on_the_line(make_config: Callable[..., Path]) -> None:
    path = make_config(FLEET)
    for argv in (("check", "--config", str(path)), ("--config", str(path), "check")):
        result = agents(*argv)
        assert result.returncode == 0, result.stderr
        assert "4 agents (3 enabled)" in result.stdout


def test_unknown_names_are_errors(make_config: Callable[..., Path], tmux_socket: str) -> None:
    path = make_config(FLEET, socket=tmux_socket)
    for verb in ("up", "down"):
        result = agents(verb, "onee", "--config", str(path))
        assert result.returncode == 2
        assert "unknown name: onee" in result.stderr
    assert sessions(tmux_socket) == set()


def test_missing_config_is_a_message(tmp_path: Path) -> None:
    result = agents("status", cwd=tmp_path)
    assert result.returncode == 1
    assert "no config file at agents.toml" in result.stderr


def test_usage_errors_exit_2() -> None:
    assert agents("frobnicate").returncode == 2
    assert agents().returncode == 2
    help_text = agents("up", "--help").stdout
    assert "example:" in help_text and "agents up" in help_text


def test_init_writes_a_valid_scaffold_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "newproj"
    result = agents("init", str(target))
    assert result.returncode == 0, result.stderr
    assert (target / "prompts" / "builder.md").read_text().startswith("# Role: builder")
    assert agents("check", "--config", str(target / "agents.toml")).returncode == 0
    original = (target / "agents.toml").read_text()
    again = agents("init", str(target))
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    assert (target / "agents.toml").read_text() == original


def test_selftest_passes() -> None:
    result = agents("selftest")
    assert result.returncode == 0, result.stdout
    assert "FAIL" not in result.stdout and "pass" in result.stdout


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parent.parent / "agents.example.toml"
    result = agents("check", "--config", str(example))
    assert result.returncode == 0, result.stderr


@pytest.mark.tmux
def test_logs_prints_the_session_log(make_config: Callable[..., Path], tmux_socket: str,
                                     wait_for) -> None:
    path = make_config(FLEET, socket=tmux_socket)
    assert agents("up", "manual", "--config", str(path)).returncode == 0
    log = path.parent / "logs" / "t-manual.log"
    wait_for(lambda: log.exists() and b"not watched" in log.read_bytes(),
             what="the agent's screen in its log")
    result = agents("logs", "manual", "--no-follow", "--config", str(path))
    assert result.returncode == 0 and "not watched" in result.stdout
    assert agents("logs", "nobody", "--config", str(path)).returncode == 2
    agents("down", "--config", str(path))


def test_logs_follows_through_rotation_and_truncation(make_config: Callable[..., Path]) -> None:
    """The session log's writer renames it away at log_max_bytes and starts a new one; a
    follower must go on with the new file (it used to stay on the renamed one, silent)."""
    path = make_config('[[agent]]\nname = "a"\nbackend = "demo"\n')
    log = path.parent / "logs" / "t-a.log"
    log.parent.mkdir()
    log.write_bytes(b"old line\nhistory line\n")
    follower = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "logs", "a",
                                 "-n", "1", "--config", str(path)],
                                stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout or ()],
                     daemon=True).start()
    try:
        assert lines.get(timeout=15) == "history line\n"  # it has the file open
        log.rename(log.with_name("t-a.log.1"))
        log.write_bytes(b"after rotation\n")
        assert lines.get(timeout=15) == "after rotation\n"
        os.truncate(log, 0)  # then a shorter file: it shrank
        with open(log, "ab") as handle:
            handle.write(b"cut\n")
        assert lines.get(timeout=15) == "cut\n"
    finally:
        follower.terminate()
        follower.wait(timeout=10)


SCREENS = Path(__file__).resolve().parent / "fixtures" / "screens"


def test_explain_saved_codex_limit_screen(tmp_path: Path) -> None:
    screen = SCREENS / "codex" / "usage_limit_final.txt"
    result = agents("explain", "--backend", "codex", "--screen", str(screen), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "backend codex: limited" in result.stdout
    assert "You’ve hit your usage limit" in result.stdout
    assert "reset time read from the banner: " in result.stdout and "T07:49:00" in result.stdout
    as_json = agents("explain", "--backend", "codex", "--screen", str(screen), "--json",
                     cwd=tmp_path)
    body = json.loads(as_json.stdout)
    # "try again at 7:49 AM" is the host's local time, so it reads 07:49 in any zone
    assert body["state"] == "limited" and body["reset_at"][11:16] == "07:49"
    assert set(body["matches"]) == {"active_re", "limit_re", "fatal_re", "prompt_re"}
    assert body["matches"]["limit_re"].startswith("■ You’ve hit your usage limit")


def test_explain_errors_are_messages(tmp_path: Path) -> None:
    screen = SCREENS / "codex" / "idle.txt"
    bad = agents("explain", "--backend", "nope", "--screen", str(screen), cwd=tmp_path)
    assert bad.returncode == 1 and "unknown backend 'nope'" in bad.stderr
    half = agents("explain", "--backend", "codex", cwd=tmp_path)
    assert half.returncode == 2 and "--backend B and --screen FILE" in half.stderr
    fifo = tmp_path / "screen.fifo"
    os.mkfifo(fifo)
    blocked = agents("explain", "--backend", "codex", "--screen", str(fifo), cwd=tmp_path)
    assert blocked.returncode == 1 and "is not a regular file" in blocked.stderr  # no hang
    # A broken config (and no last good copy) does not stop judging a screen by a preset.
    (tmp_path / "agents.toml").write_text("[[agent]\n")
    broken = agents("explain", "--backend", "codex", "--screen", str(screen), cwd=tmp_path)
    assert broken.returncode == 0, broken.stderr
    assert "judging with the presets alone" in broken.stderr and "codex" in broken.stdout


@pytest.mark.tmux
def test_explain_live_agent(make_config: Callable[..., Path], tmux_socket: str,
                            wait_for) -> None:
    path = make_config(FLEET, socket=tmux_socket)
    assert agents("up", "manual", "--config", str(path)).returncode == 0

    def explained() -> dict | None:
        result = agents("explain", "manual", "--json", "--config", str(path))
        body = json.loads(result.stdout) if result.returncode == 0 else None
        return body if body and body["state"] == "idle" else None

    body = wait_for(explained, what="the demo agent to go idle")
    assert body["agent"] == "manual" and body["backend"] == "demo"
    agents("down", "--config", str(path))


def test_doctor_bare_machine_and_missing_configured_cli(make_config: Callable[..., Path],
                                                       tmp_path: Path) -> None:
    bare = agents("doctor", cwd=tmp_path)
    assert bare.returncode == 0, bare.stdout
    assert "backend claude: 'claude' not found (not configured)" in bare.stdout
    path = make_config("""
        [backend.ghost]
        bin = "no-such-agent-cli --flag"

        [[agent]]
        name = "a"
        backend = "ghost"
    """)
    broken = agents("doctor", "--config", str(path))
    assert broken.returncode == 1
    assert "fail  backend ghost: 'no-such-agent-cli --flag' not found (used by an enabled " \
           "agent)" in broken.stdout
    assert "ok  tmux: tmux " in broken.stdout


TRANSCRIPTS = Path(__file__).resolve().parent / "fixtures" / "transcripts"


def test_transcript_renders_a_file(tmp_path: Path) -> None:
    result = agents("transcript", "--file", str(TRANSCRIPTS / "claude_tools.jsonl"),
                    cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "user" in result.stdout and "assistant" in result.stdout and "●" in result.stdout
    as_json = agents("transcript", "--json", "--file", str(TRANSCRIPTS / "codex_rollout.jsonl"),
                     cwd=tmp_path)
    turns = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {"user", "assistant"} <= {t["role"] for t in turns}


def test_transcript_of_an_agent_uses_its_resume_id(make_config: Callable[..., Path]) -> None:
    import os

    from agent_orchestrator.doors.transcript.locate import claude_slug

    path = make_config('[[agent]]\nname = "c"\nbackend = "claude"\nresume = true\n')
    workdir = path.parent.resolve()
    session = "0f0e0d0c-1111-2222-3333-444455556666"
    state_dir = path.parent / "logs" / "state"
    state_dir.mkdir(parents=True)
    (state_dir / "c.id").write_text(session)
    project = Path(os.environ["HOME"]) / ".claude" / "projects" / claude_slug(workdir)
    project.mkdir(parents=True)
    (project / f"{session}.jsonl").write_bytes((TRANSCRIPTS / "claude_tools.jsonl").read_bytes())
    result = agents("transcript", "c", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert f"{session}.jsonl" in result.stderr and "assistant" in result.stdout
    missing = agents("transcript", "nobody", "--config", str(path))
    assert missing.returncode == 2 and "unknown name: nobody" in missing.stderr


def test_events_filters_and_follows(make_config: Callable[..., Path]) -> None:
    import time as clock

    from agent_orchestrator.core.events import Event
    from agent_orchestrator.doors.eventlog import append

    path = make_config('[[agent]]\nname = "a"\nbackend = "demo"\n')
    logs = path.parent / "logs"
    now = clock.time()
    append(logs, [Event(now - 7200, "a", "restart", "old one"),
                  Event(now - 60, "a", "stall-reboot", "recent"),
                  Event(now - 30, None, "config-reloaded", "fleet-wide")])
    recent = agents("events", "--since", "1h", "--config", str(path))
    assert recent.returncode == 0 and "recent" in recent.stdout and "old one" not in recent.stdout
    only_a = agents("events", "--agent", "a", "--json", "--config", str(path))
    assert [json.loads(x)["reason"] for x in only_a.stdout.splitlines()] == ["old one", "recent"]
    bad = agents("events", "--since", "yesterday-ish", "--config", str(path))
    assert bad.returncode == 2 and "cannot read" in bad.stderr
    follower = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "events", "-f",
                                 "--json", "--since", "10s", "--config", str(path)],
                                stdout=subprocess.PIPE, text=True)
    try:
        # Once the follower holds the file open (at its end), what is appended is new to it.
        events_path = os.path.realpath(logs / "events.jsonl")
        fds = Path(f"/proc/{follower.pid}/fd")

        def opened() -> bool:
            with contextlib.suppress(OSError):
                return any(os.path.realpath(fd) == events_path for fd in fds.iterdir())
            return False

        wait_until(opened, what="events -f to open events.jsonl")
        append(logs, [Event(clock.time(), "a", "restart", "live one")])
        appended = clock.monotonic()
        assert follower.stdout is not None
        line = follower.stdout.readline()
        assert json.loads(line)["reason"] == "live one"
        assert clock.monotonic() - appended < 1.0
    finally:
        follower.terminate()
        follower.wait(timeout=10)


def test_phase_verb_validates_and_moves(make_config: Callable[..., Path]) -> None:
    path = make_config("""
        [loop]
        phases = [{ id = "a", status = "A.md" }, { id = "b", status = "B.md" },
                  { id = "c", status = "C.md" }]
    """)
    state_file = path.parent / "logs" / "state" / "phase-idx"
    (path.parent / "B.md").write_text("# B\n## DONE\nshipped at abc\n")
    (path.parent / "C.md").write_text("# C\n## DONE\nnot yet\n")
    shown = agents("phase", "--config", str(path))
    assert shown.returncode == 0, shown.stderr
    assert [line.split()[:3] for line in shown.stdout.splitlines()[:3]] == [
        ["→", "1/3", "a"], ["2/3", "b", "DONE"], ["3/3", "c", "not"]]
    assert "missing" in shown.stdout.splitlines()[0] and "project's files" in shown.stdout
    for bad, message in (("99", "1..3"), ("0", ">= 1"), ("-1", ">= 1"),
                         ("abc", "whole number")):
        result = agents("phase", "set", bad, "--config", str(path))
        assert result.returncode == 2 and message in result.stderr, (bad, result.stderr)
        assert not state_file.exists()  # nothing changed
    moved = agents("phase", "set", "3", "--config", str(path))
    assert moved.returncode == 0 and "phase 3/3: c" in moved.stdout
    assert state_file.read_text().strip() == "2"  # the file keeps the 0-based index
    last = agents("phase", "next", "--config", str(path))
    assert last.returncode == 1 and "already at the last phase (3: c)" in last.stderr
    assert agents("phase", "set", "1", "--config", str(path)).returncode == 0
    assert agents("phase", "next", "--config", str(path)).returncode == 0
    assert state_file.read_text().strip() == "1"
