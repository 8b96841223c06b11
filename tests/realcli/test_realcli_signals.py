"""The CLIs' own signals (SIGNALS.md), wired per agent, against the real builds: a permission
dialog is reported (and nothing is typed into it), and a usage limit is told with its reset
time where the CLI writes one (Claude Code's transcript, Codex's rollout)."""

from __future__ import annotations

import glob
import json
import time
from pathlib import Path

import clis
import pytest


def _params(only: str | None = None) -> list:
    return [
        pytest.param(cli, set_name, id=f"{cli}-{version}")
        for cli, set_name, version in clis.each_version()
        if only in (None, cli)
    ]


def jsonl(path: Path) -> list[dict]:
    """The complete records of a JSONL file another process is appending to."""
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # the line being written
            pass
    return out


def limited_at(fake) -> float:
    """When the fake answered the (last) limit: its advertised reset is that + reset_in."""
    # a request is logged once its answer is sent: the CLI may have reacted already
    limits = wait_for(
        lambda: [r for r in fake.model_requests() if r.get("status") == 429], 2, "the 429"
    )
    return limits[-1]["wall"]


def wait_for(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def dialog_args(cli: str) -> list[str]:
    # Claude Code 2.1.3xx starts in auto mode (no permission dialogs at all)
    return ["--permission-mode", "default"] if cli == "claude" else []


@pytest.mark.parametrize(("cli", "set_name"), _params())
def test_permission_dialog_is_signalled(launch, fake, cli: str, set_name: str) -> None:
    fake.set("tool")
    run = launch(cli, set_name, prompt="Please run the tool.", args=dialog_args(cli), signals=True)
    screen = run.wait(lambda s: clis.dialog(cli, s), timeout=60)
    assert screen, "no permission dialog on screen"
    if cli == "codex":  # Codex signals nothing for a dialog: the screen is the only source
        assert "dialog" not in run.kinds()
    else:
        wait_for(lambda: "dialog" in run.kinds(), 5, "a dialog signal")
    time.sleep(2)  # nobody answers: the dialog stays, the tool did not run, the turn goes on
    assert clis.dialog(cli, run.capture())
    assert not (run.proj / "fake_tool_output.txt").exists()
    kinds = run.kinds()
    if cli != "codex":
        assert "turn-finished" not in kinds[kinds.index("dialog") :]


@pytest.mark.parametrize(("cli", "set_name"), _params("claude"))
def test_claude_usage_limit_from_hook_and_transcript(launch, fake, cli: str, set_name: str) -> None:
    fake.set("ratelimit", flavor="usage", reset_in=7200, main_only=True)
    run = launch(cli, set_name, prompt="Say hello.", signals=True, auth="oauth")
    failure = wait_for(
        lambda: next((s for s in run.signals() if s["kind"] == "turn-failed"), None),
        60,
        "StopFailure",
    )
    payload = failure["payload"]
    assert payload["error"] == "rate_limit"
    assert "resets" in payload["last_assistant_message"]  # the reset time, as words

    def limited():  # the hook can run before the transcript (even its file) is written
        try:
            return [
                r for r in jsonl(Path(payload["transcript_path"])) if r.get("isApiErrorMessage")
            ]
        except FileNotFoundError:
            return []

    limited = wait_for(limited, 5, "the API-error record in the transcript")
    assert limited and limited[-1]["apiErrorStatus"] == 429 and limited[-1]["error"] == "rate_limit"
    if run.version != "2.1.197":  # newer builds write the reset as an epoch
        sent = limited_at(fake) + 7200
        assert abs(limited[-1]["apiErrorParams"]["rate_limit_info"]["resetsAt"] - sent) < 5


@pytest.mark.parametrize(("cli", "set_name"), _params("codex"))
def test_codex_usage_limit_in_rollout(launch, fake, cli: str, set_name: str) -> None:
    fake.set("ratelimit", flavor="usage", reset_in=7200, main_only=True)
    run = launch(cli, set_name, prompt="Say hello.", signals=True)

    def failed_turn():
        for f in glob.glob(str(run.home / ".codex/sessions/**/rollout-*.jsonl"), recursive=True):
            events = [r["payload"] for r in jsonl(Path(f)) if r.get("type") == "event_msg"]
            done = [e for e in events if e["type"] == "task_complete" and e.get("error")]
            if done:
                return Path(f).stem[-36:], events, done[-1]  # rollout-<time>-<thread id>
        return None

    thread, events, done = wait_for(failed_turn, 60, "a failed task_complete in the rollout")
    assert done["error"]["codex_error_info"] == "usage_limit_exceeded"
    primary = [
        e["rate_limits"]["primary"]
        for e in events
        if e["type"] == "token_count" and (e.get("rate_limits") or {}).get("primary")
    ]
    assert primary and primary[-1]["used_percent"] == 100.0
    sent = limited_at(fake) + 7200
    assert abs(primary[-1]["resets_at"] - sent) < 5
    time.sleep(1)
    # notify skips a failed turn (the title generator's own thread may have notified)
    assert thread not in [s["payload"]["thread-id"] for s in run.signals()]
