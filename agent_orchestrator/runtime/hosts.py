"""The fleet's tmux servers, this machine's and other hosts', behind the one door the runtime
already speaks to (`snapshot`, `capture_many`, `start`, `kill`, `paste`, `send_keys`, ...).

This machine's server is asked directly, as before. Another host's is never asked by the
loop: its `HostPoller` thread (hostpoll.py) keeps the latest look, and `snapshot` merges
that look in without I/O. Each remote session's pane carries its host, and a session whose
host gave no answer, or whose latest look began before our last action on it (a restart
there, still on its way) or the operator's last start of it (`operator_acted`), is
`unseen`: the rules make no verdict about it this pass. That is what keeps an unreachable
host's agents from being counted dead, and a stale look from restarting an agent twice.

Acting on another host (`start`, `kill`, typing) is a round trip over ssh, so apply.py runs
it in a worker keyed by the host (`remote_of`); the door here only routes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace

from agent_orchestrator.core.observed import Snapshot
from agent_orchestrator.doors.tmux import Tmux
from agent_orchestrator.runtime.hostpoll import HostPoller
from agent_orchestrator.runtime.remotelaunch import HostLauncher

OPERATOR_MARK_AGE = 30.0  # seconds an operator's start mark holds back older looks


class FleetTmux:
    """Routes each session to its server; merges the hosts' latest looks into one snapshot.

    `placement` maps the session of every agent placed on another host to that host's name;
    any other session is this machine's."""

    def __init__(self, local: Tmux, pollers: Mapping[str, HostPoller],
                 placement: Mapping[str, str],
                 launchers: Mapping[str, HostLauncher] | None = None) -> None:
        self.local = local
        self.pollers = dict(pollers)
        self.placement = dict(placement)
        self.launchers = dict(launchers or {})  # host → our code run there (remotelaunch)
        # session → monotonic time our last action on it ENDED (float("inf") while it runs:
        # a look that began before the end cannot show its outcome). Written by workers.
        self._acted: dict[str, float] = {}
        self._lock = threading.Lock()

    # The local server's identity: what the rest of the runtime reads off a Tmux.
    @property
    def socket_name(self) -> str | None:
        return self.local.socket_name

    @property
    def socket_path(self) -> str | None:
        return self.local.socket_path

    @property
    def timeout(self) -> float:
        return self.local.timeout

    def remote_of(self, session: str) -> str | None:
        """The host a session lives on; None for this machine."""
        return self.placement.get(session)

    def launcher_of(self, session: str) -> HostLauncher | None:
        host = self.placement.get(session)
        return None if host is None else self.launchers.get(host)

    def first_look(self, timeout: float) -> None:
        """Wait (at most `timeout` s in all) until every host has been looked at once: a
        verb's answer must not say "unseen" just because it asked first."""
        deadline = time.monotonic() + timeout
        for poller in self.pollers.values():
            poller.wait_first(max(0.0, deadline - time.monotonic()))

    def door_for(self, session: str) -> Tmux:
        host = self.placement.get(session)
        return self.local if host is None else self.pollers[host].tmux

    # ------------------------------------------------------------------ reading

    def snapshot(self) -> Snapshot:
        """This machine's snapshot (asked now) with every host's latest look merged in."""
        snap = self.local.snapshot()
        panes = {s: p for s, p in snap.panes.items() if s not in self.placement}
        unseen: set[str] = set()
        unreachable: dict[str, str] = {}
        running = snap.server_running
        for host, poller in self.pollers.items():
            look = poller.latest()
            mine = [s for s, h in self.placement.items() if h == host]
            if look is None or look.snapshot is None:
                unseen.update(mine)
                if look is not None and look.error:
                    unreachable[host] = look.error
                continue
            running |= look.snapshot.server_running
            for session in mine:
                if look.started < self._acted_at(session):
                    unseen.add(session)  # our last action there is not seen yet
                elif (pane := look.snapshot.panes.get(session)) is not None:
                    panes[session] = replace(pane, host=host)
        return Snapshot(running, panes, frozenset(unseen), unreachable)

    def capture_many(self, sessions: Iterable[str]) -> dict[str, str]:
        """Local screens read now; a remote one from its host's latest look when that look
        began after our last action on it (the host is asked to capture it from now on)."""
        wanted = list(sessions)
        screens = self.local.capture_many([s for s in wanted if s not in self.placement])
        for host, poller in self.pollers.items():
            mine = [s for s in wanted if self.placement.get(s) == host]
            poller.want(mine)
            look = poller.latest()
            if look is None or look.error is not None:
                continue
            screens.update((s, look.screens[s]) for s in mine if s in look.screens and
                           look.started >= self._acted_at(s))
        return screens

    def attach_argv(self, session: str, switch: bool) -> list[str]:
        """`Tmux.attach_argv` on the session's server (on another host: `ssh -t`; a client
        of this machine's server cannot switch to it)."""
        door = self.door_for(session)
        return door.attach_argv(session, switch and door is self.local)

    def capture(self, target: str, lines: int = 40) -> str:
        return self.door_for(target).capture(target, lines)

    # ------------------------------------------------------------------ acting

    def _acted_at(self, session: str) -> float:
        with self._lock:
            return self._acted.get(session, float("-inf"))

    def pending(self, session: str) -> None:
        """An action on `session` is queued (in a worker): no look speaks for it from now
        until that action has ended (`acting`)."""
        if session in self.placement:
            with self._lock:
                self._acted[session] = float("inf")

    def operator_acted(self, starts: Mapping[str, float]) -> None:
        """The operator's last starts (session → epoch time: the `started/` marks that
        `agents up` / `restart`, other processes, write once the session is there): no look
        that began before one speaks for its session (it may predate that start). Only
        recent marks count: a look is seconds old, and a wall clock set back must not
        leave a session unseen until it catches up with a mark."""
        now = time.time()
        offset = now - time.monotonic()
        with self._lock:
            for session, wall in starts.items():
                if session in self.placement and now - OPERATOR_MARK_AGE <= wall <= now:
                    self._acted[session] = max(self._acted.get(session, float("-inf")),
                                               wall - offset)

    @contextlib.contextmanager
    def acting(self, session: str) -> Iterator[None]:
        """Around an action on `session`: until it has ended, no look speaks for it; then
        its host looks again at once."""
        host = self.placement.get(session)
        if host is None:
            yield
            return
        with self._lock:
            self._acted[session] = float("inf")
        try:
            yield
        finally:
            with self._lock:
                self._acted[session] = time.monotonic()
            self.pollers[host].poke()

    def start(self, session: str, argv: list[str], pipe: str | None = None) -> None:
        with self.acting(session):
            self.door_for(session).start(session, argv, pipe)

    def kill(self, session: str) -> bool:
        with self.acting(session):
            return self.door_for(session).kill(session)

    def paste(self, target: str, text: str, buffer: str) -> None:
        self.door_for(target).paste(target, text, buffer)

    def send_keys(self, target: str, *keys: str) -> None:
        self.door_for(target).send_keys(target, *keys)

    def close(self, keep_control: Iterable[str] = ()) -> None:
        """Close every host's poller; those of the hosts named in `keep_control` leave
        their control session there (the door replacing this one uses it)."""
        keep = set(keep_control)
        for host, poller in self.pollers.items():
            poller.close(keep_control=host in keep)
