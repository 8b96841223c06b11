"""Typing into a TUI so that it lands: the demo agent on a real private tmux server."""

from __future__ import annotations

import json
import re
import sys
import threading
from pathlib import Path

import pytest

from agent_orchestrator.doors.tmux import Tmux
from agent_orchestrator.runtime.delivery import deliver

pytestmark = pytest.mark.tmux

DIALOG_RE = re.compile(r"Do you want to proceed\?")
ACTIVE_RE = re.compile(r"esc to interrupt")


def inputs(record: Path) -> list[str]:
    if not record.exists():
        return []
    return [r["text"] for r in map(json.loads, record.read_text().splitlines())
            if r["event"] == "input"]


def start_agent(tmux: Tmux, tmp_path: Path, *flags: str) -> tuple[Path, Path]:
    record, control = tmp_path / "rec.jsonl", tmp_path / "ctl"
    tmux.start("agent", [sys.executable, "-m", "agent_orchestrator.fakeagent", "--busy", "0.3",
                         "--record", str(record), "--control", str(control), *flags])
    return record, control


def test_swallowed_enter_is_pressed_again(tmux_socket: str, tmp_path: Path, wait_for) -> None:
    tmux = Tmux(tmux_socket)
    record, _ = start_agent(tmux, tmp_path, "--swallow-first-enter")
    wait_for(lambda: "? for shortcuts" in tmux.capture("agent"), what="the idle screen")
    result = deliver(tmux, "agent", "please continue", active_re=ACTIVE_RE)
    assert result.delivered and result.detail == "submitted (2 presses)"
    assert wait_for(lambda: inputs(record), what="the input") == ["please continue"]


def test_never_types_into_a_dialog(tmux_socket: str, tmp_path: Path, wait_for) -> None:
    tmux = Tmux(tmux_socket)
    record, control = start_agent(tmux, tmp_path)
    wait_for(lambda: "? for shortcuts" in tmux.capture("agent"), what="the idle screen")
    control.write_text("say Do you want to proceed?\n")
    wait_for(lambda: "Do you want to proceed?" in tmux.capture("agent"), what="the dialog")
    result = deliver(tmux, "agent", "yes", dialog_re=DIALOG_RE)
    assert not result.delivered and "dialog" in result.detail
    assert inputs(record) == []


class CancelOnPress(Tmux):
    """A real Tmux whose submit press is followed at once by a cancel (a stop, a restart)."""

    def __init__(self, socket: str) -> None:
        super().__init__(socket)
        self.cancel = threading.Event()

    def send_keys(self, *args: object, **kw: object) -> None:
        super().send_keys(*args, **kw)  # type: ignore[arg-type]
        self.cancel.set()


def test_cancelled_after_the_press_is_delivered_when_it_landed(tmux_socket: str, tmp_path: Path,
                                                              wait_for) -> None:
    """A queued text counted as not delivered is typed again (into the next session too):
    one that landed must count as delivered even when the confirmation was cut short."""
    tmux = CancelOnPress(tmux_socket)
    record, _ = start_agent(tmux, tmp_path)
    wait_for(lambda: "? for shortcuts" in tmux.capture("agent"), what="the idle screen")
    result = deliver(tmux, "agent", "a review", active_re=ACTIVE_RE, cancel=tmux.cancel,
                     wait=2.0)
    assert result.delivered and "cancelled" in result.detail
    assert wait_for(lambda: inputs(record), what="the input") == ["a review"]


def test_cancelled_after_a_swallowed_press_is_not_delivered(tmux_socket: str, tmp_path: Path,
                                                            wait_for) -> None:
    tmux = CancelOnPress(tmux_socket)
    record, _ = start_agent(tmux, tmp_path, "--swallow-first-enter")
    wait_for(lambda: "? for shortcuts" in tmux.capture("agent"), what="the idle screen")
    result = deliver(tmux, "agent", "a review", active_re=ACTIVE_RE, cancel=tmux.cancel,
                     wait=0.3)
    assert not result.delivered and result.detail == "cancelled"
    assert inputs(record) == []


def test_cancelled_after_the_press_with_the_session_gone(tmux_socket: str, tmp_path: Path,
                                                         wait_for) -> None:
    tmux = CancelOnPress(tmux_socket)
    start_agent(tmux, tmp_path, "--swallow-first-enter")
    wait_for(lambda: "? for shortcuts" in tmux.capture("agent"), what="the idle screen")
    real_set = tmux.cancel.set

    def stop_then_cancel() -> None:  # the watchdog's stop: cancel, then the session goes
        tmux.kill("agent")
        real_set()

    tmux.cancel.set = stop_then_cancel  # type: ignore[method-assign]
    result = deliver(tmux, "agent", "a review", active_re=ACTIVE_RE, cancel=tmux.cancel)
    assert result.delivered and "session ended" in result.detail
