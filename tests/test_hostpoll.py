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
CONTROL = "hp-control"


@pytest.fixture
def poller(host: SshHost, tmp_path: Path) -> Iterator[tuple[HostPoller, threading.Event]]:
    host.sockets.add(SOCKET)
    woken = threading.Event()
    one = HostPoller("a", Tmux(SOCKET, remote=connection(host, control_folder(), timeout=3),
                               timeout=3), woken.set, interval=30.0, control=CONTROL)
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
    control = wait_until(lambda: hp._control is not None and hp._control.alive and
                         hp._control, what="control client")
    # In a session of its own: no agent's session shows as attached, nor ends the client.
    shown = host.tmux(SOCKET, "list-sessions", "-F", "#{session_name} #{session_attached}")
    assert sorted(shown.stdout.split("\n")) == ["", f"{CONTROL} 1", "s1 0", "s2 0"]
    for session in ("s2", "s1"):
        host.tmux(SOCKET, "kill-session", "-t", f"={session}")
        # The interval is 30 s: only the control client's poke can make this in time.
        wait_until(lambda s=session: (lk := hp.latest()) and lk.snapshot and
                   s not in lk.snapshot.panes, timeout=5, what=f"{session} gone")
        assert hp._control is control and control.alive  # the same client heard both


def test_closing_ends_the_control_session_unless_a_successor_keeps_it(
        host: SshHost, tmp_path: Path) -> None:
    host.sockets.add(SOCKET)
    host.tmux(SOCKET, "new-session", "-d", "-s", "s1", "cat")
    for keep in (True, False):
        hp = HostPoller("a", Tmux(SOCKET, remote=connection(host, control_folder(), timeout=3),
                                  timeout=3), lambda: None, interval=30.0, control=CONTROL)
        wait_until(lambda hp=hp: hp._control is not None and hp._control.alive,
                   what="control client")
        hp.close(keep_control=keep)
        assert (CONTROL in host.tmux(SOCKET, "ls").stdout) is keep, keep


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
