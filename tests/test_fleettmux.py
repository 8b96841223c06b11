"""runtime/hosts.py: this machine's tmux and another host's (a real sshd on loopback) behind
one door: a merged snapshot whose remote panes carry their host, sessions of a host that does
not answer are `unseen` (not dead), and no look older than our last action speaks for it."""

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
from agent_orchestrator.runtime.hosts import FleetTmux

pytestmark = pytest.mark.skipif(sshd_missing() is not None, reason=sshd_missing() or "")
host = ssh_host
REMOTE_SOCKET = "ft"


@pytest.fixture
def fleet(host: SshHost, tmp_path: Path, tmux_socket: str) -> Iterator[FleetTmux]:
    host.sockets.add(REMOTE_SOCKET)
    remote = Tmux(REMOTE_SOCKET, remote=connection(host, control_folder(), timeout=3),
                  timeout=3)
    one = FleetTmux(Tmux(tmux_socket), {"a": HostPoller("a", remote, threading.Event().set,
                                                        interval=0.2)},
                    {"r-1": "a", "r-2": "a"})
    yield one
    one.close()


def seen(fleet: FleetTmux, session: str) -> bool:
    return session in fleet.snapshot().panes


def test_one_snapshot_of_both_machines(fleet: FleetTmux, host: SshHost) -> None:
    fleet.start("l-1", ["cat"])
    fleet.start("r-1", ["cat"])
    assert "r-1" in host.tmux(REMOTE_SOCKET, "ls").stdout  # started THERE, not here
    wait_until(lambda: seen(fleet, "r-1"), what="the remote session")
    snap = fleet.snapshot()
    assert snap.panes["l-1"].host is None and snap.panes["r-1"].host == "a"
    # r-2 is declared there but not running: the host answered, so it is absent, not unseen.
    assert snap.unseen == frozenset() and "r-2" not in snap.panes
    wait_until(lambda: fleet.capture_many(["l-1", "r-1"]).keys() == {"l-1", "r-1"},
               what="both screens")


def test_no_look_older_than_our_action_speaks_for_a_session(fleet: FleetTmux) -> None:
    fleet.start("r-1", ["cat"])
    wait_until(lambda: seen(fleet, "r-1"), what="r-1")
    poller = fleet.pollers["a"]
    before = poller.latest()
    assert before is not None
    fleet.kill("r-1")
    snap = fleet.snapshot()
    # Either the host looked again already (r-1 gone) or r-1 is unseen: never "alive" from
    # a look that began before the kill.
    assert "r-1" not in snap.panes
    wait_until(lambda: "r-1" not in fleet.snapshot().unseen or None, what="a fresh look")


def test_an_unreachable_host_leaves_its_sessions_unseen_not_dead(fleet: FleetTmux,
                                                                 host: SshHost) -> None:
    fleet.start("l-1", ["cat"])
    fleet.start("r-1", ["cat"])
    wait_until(lambda: seen(fleet, "r-1"), what="r-1")
    host.stop()
    snap = wait_until(lambda: (s := fleet.snapshot()) and "r-1" in s.unseen and s,
                      what="r-1 unseen")
    assert "host a" in snap.unreachable["a"] and "l-1" in snap.panes
    host.start()
    wait_until(lambda: seen(fleet, "r-1"), timeout=10, what="r-1 again")


def test_no_look_older_than_the_operators_start_speaks_for_its_session(
        host: SshHost, tmp_path: Path, tmux_socket: str) -> None:
    """`agents up` (another process) started r-1 there and wrote its start mark; the
    watchdog's latest look at the host began before: r-1 is unseen, never taken for gone
    (which would start it a second time). Marks from long ago or from the future (a wall
    clock set back) hold nothing back."""
    host.sockets.add(REMOTE_SOCKET)
    remote = Tmux(REMOTE_SOCKET, remote=connection(host, control_folder(), timeout=3),
                  timeout=3)
    poller = HostPoller("a", remote, lambda: None, interval=30.0)  # looks when poked
    one = FleetTmux(Tmux(tmux_socket), {"a": poller}, {"r-1": "a", "r-2": "a"})
    try:
        assert poller.wait_first(10)
        host.tmux(REMOTE_SOCKET, "new-session", "-d", "-s", "r-1", "cat")
        now = time.time()
        one.operator_acted({"r-2": now - 3600, "l-1": now})
        one.operator_acted({"r-2": now + 3600})
        assert one.snapshot().unseen == frozenset()  # r-1 absent: the stale look says so
        one.operator_acted({"r-1": time.time()})
        snap = one.snapshot()
        assert "r-1" in snap.unseen and "r-1" not in snap.panes
        poller.poke()
        wait_until(lambda: seen(one, "r-1"), what="r-1 in a look after the mark")
    finally:
        one.close()
