"""runtime/hostpoll.py against a real sshd on loopback: a poller thread keeps each host's
latest look (stamped with when it began), hears a death there through its control client
within a round trip, and turns a host that went away into an error look, then recovers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_until
from sshhosts import SshHost, connection, control_folder, ssh_host, sshd_missing

from agent_orchestrator.doors.tmux import Tmux
from agent_orchestrator.runtime.hostpoll import HostPoller

pytestmark = pytest.mark.skipif(sshd_missing() is not None, reason=sshd_missing() or "")
host = ssh_host
SOCKET = "hp"


@pytest.fixture
def poller(host: SshHost, tmp_path: Path) -> Iterator[tuple[HostPoller, threading.Event]]:
    host.sockets.add(SOCKET)
    woken = threading.Event()
    one = HostPoller("a", Tmux(SOCKET, remote=connection(host, control_folder(), timeout=3),
                               timeout=3), woken.set, interval=30.0)
    yield one, woken
    one.close()


def test_the_latest_look_shows_the_hosts_sessions_and_screens(
        host: SshHost, poller: tuple[HostPoller, threading.Event]) -> None:
    hp, woken = poller
    wait_until(lambda: hp.latest() is not None, what="a first look")
    host.tmux(SOCKET, "new-session", "-d", "-s", "s1", "sh", "-c", "echo hello-there; cat")
    before = time.monotonic()
    hp.want(["s1"])  # a new want is looked for at once (not in 30 s)
    look = wait_until(lambda: (lk := hp.latest()) and "s1" in lk.screens and lk, what="s1")
    assert "hello-there" in look.screens["s1"]
    assert look.started >= before - 0.01 and look.snapshot is not None
    assert "s1" in look.snapshot.panes and woken.is_set()


def test_a_death_there_is_heard_without_waiting_for_the_interval(
        host: SshHost, poller: tuple[HostPoller, threading.Event]) -> None:
    hp, _ = poller
    host.tmux(SOCKET, "new-session", "-d", "-s", "s1", "cat")
    host.tmux(SOCKET, "new-session", "-d", "-s", "s2", "cat")
    hp.poke()
    wait_until(lambda: (lk := hp.latest()) and lk.snapshot and
               {"s1", "s2"} <= set(lk.snapshot.panes), what="both sessions")
    wait_until(lambda: hp._control is not None and hp._control.alive, what="control client")
    host.tmux(SOCKET, "kill-session", "-t", "=s2")
    # The interval is 30 s: only the control client's poke can make this in time.
    wait_until(lambda: (lk := hp.latest()) and lk.snapshot and
               "s2" not in lk.snapshot.panes, timeout=5, what="s2 gone")


def test_an_unreachable_host_is_an_error_look_then_recovers(
        host: SshHost, poller: tuple[HostPoller, threading.Event]) -> None:
    hp, woken = poller
    host.tmux(SOCKET, "new-session", "-d", "-s", "s1", "cat")
    hp.poke()
    wait_until(lambda: (lk := hp.latest()) and lk.snapshot and "s1" in lk.snapshot.panes,
               what="s1")
    woken.clear()
    host.stop()
    hp.poke()
    look = wait_until(lambda: (lk := hp.latest()) and lk.error and lk, timeout=10,
                      what="an error look")
    assert "host a" in look.error and woken.is_set()
    host.start()
    wait_until(lambda: (lk := hp.latest()) and lk.snapshot and "s1" in lk.snapshot.panes,
               timeout=10, what="back, with the session that lived on")
