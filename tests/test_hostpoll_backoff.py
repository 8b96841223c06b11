"""runtime/hostpoll.py's back-off for a host that does not answer: looks further and
further apart (doubling up to a cap), and back at the normal interval once it answers.
A stand-in door whose snapshot fails on demand: no ssh needed to count the attempts."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import wait_until

from agent_orchestrator.core.observed import Snapshot
from agent_orchestrator.doors.tmux import TmuxError
from agent_orchestrator.runtime import hostpoll


class FlakyHost:
    """The part of the Tmux door a poller uses; `down` makes every look fail."""

    timeout = 1.0
    remote = None

    def __init__(self) -> None:
        self.down = True
        self.looks: list[float] = []
        self.lock = threading.Lock()

    def snapshot(self) -> Snapshot:
        with self.lock:
            self.looks.append(time.monotonic())
        if self.down:
            raise TmuxError("host h unreachable: connection refused")
        return Snapshot(server_running=True, panes={})

    def capture_many(self, sessions: list[str]) -> dict[str, str]:
        return {}

    def gaps(self, since: int = 0) -> list[float]:
        with self.lock:
            times = self.looks[since:]
        return [b - a for a, b in zip(times, times[1:], strict=False)]


def test_an_unreachable_host_is_tried_less_and_less_often_then_normally_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostpoll, "BACKOFF_FIRST", 0.1)
    monkeypatch.setattr(hostpoll, "BACKOFF_MAX", 0.4)
    door = FlakyHost()
    poller = hostpoll.HostPoller("h", door, lambda: None, interval=0.02)  # type: ignore[arg-type]
    try:
        wait_until(lambda: len(door.looks) >= 6, timeout=10, what="six failed looks")
        gaps = door.gaps()[:5]
        # 0.1, 0.2, 0.4, then the cap (a look every 0.02 s without the back-off)
        assert [round(g, 1) >= want for g, want in zip(gaps, (0.1, 0.2, 0.4, 0.4, 0.4),
                                                      strict=True)] == [True] * 5, gaps
        assert gaps[1] > 1.5 * gaps[0] and gaps[2] > 1.5 * gaps[1], gaps
        assert poller.latest().error is not None  # type: ignore[union-attr]
        door.down = False
        wait_until(lambda: (lk := poller.latest()) is not None and lk.error is None,
                   timeout=5, what="the host answering again")
        since = len(door.looks)
        wait_until(lambda: len(door.looks) >= since + 5, timeout=5, what="normal looks")
        assert max(door.gaps(since)[:4]) < 0.3  # the back-off is over: the interval again
    finally:
        poller.close()
