"""The fleet's tmux door across machines, and starting / stopping a session wherever it runs.

`open_fleet` gives the watchdog and the verbs one door: this machine's Tmux as is when no
agent runs elsewhere, else a FleetTmux (runtime/hosts.py) with a poller and a launcher per
`[host.NAME]`, sharing that host's ssh connection (one ControlMaster, in a private folder
under the fleet's runtime folder). `start_agent` / `stop_session` are `launch.start` /
`launch.stop` for any session: a remote one runs our code on its host
(runtime/remotelaunch.py), inside `FleetTmux.acting` so that no look taken before the
action ended speaks for the session.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
from collections.abc import Callable
from pathlib import Path

from agent_orchestrator.config import Agent, Config
from agent_orchestrator.doors import proctree, rundir
from agent_orchestrator.doors.ssh import Connection
from agent_orchestrator.doors.tmux import Tmux, TmuxError
from agent_orchestrator.runtime import launch
from agent_orchestrator.runtime.hostpoll import HostPoller
from agent_orchestrator.runtime.hosts import FleetTmux
from agent_orchestrator.runtime.remotelaunch import HostLauncher, socket_on, target_of
from agent_orchestrator.runtime.workers import Workers

LOOK_EVERY_MAX = 1.0  # seconds between two looks at a host, at most (a death pokes sooner)


def control_dir(config: Config, *, verb: bool = False) -> Path:
    """Where ssh master sockets go (private: anyone who can reach one can run commands on
    that host as us): the watchdog's in `ssh/w`, each verb process's in `ssh/v<pid>`
    (removed as it exits; a killed verb's, by the next one). Never shared between the two:
    closing a connection (`ssh -O exit`) ends every channel on its master, so a verb that
    closed the watchdog's cut its control client and its looks in flight (a false
    host-unreachable), and one verb cut another's `logs -f`."""
    root = rundir.of(config) / "ssh"
    if not verb:
        return root / "w"  # short: the socket path has a 108-byte limit (doors/ssh.py)
    for old in root.glob("v[0-9]*"):
        if old.name[1:].isdigit() and not proctree.alive(int(old.name[1:])):
            _remove_if_empty(old)  # once its master ended (ControlPersist) and took its socket
    mine = root / f"v{os.getpid()}"
    _remove_at_exit(mine)
    return mine


@functools.cache  # once per folder: a long-lived verb (agents mcp) opens doors often
def _remove_at_exit(folder: Path) -> None:
    atexit.register(_remove_if_empty, folder)  # after the verb's door closed (LIFO)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def open_fleet(config: Config, local: Tmux, wake: Callable[[], None], *,
               first_look: float | None = None) -> Tmux | FleetTmux:
    """The door to every session of `config`. The watchdog's looks at each host go on (and
    a control client there brings its deaths at once); with `first_look` (a verb) each host
    is looked at once, waited for up to that long. Close a FleetTmux with `close()`."""
    if not config.hosts:
        return local
    folder = control_dir(config, verb=first_look is not None)
    interval = min(LOOK_EVERY_MAX, config.watchdog.signal_interval)
    pollers, launchers = {}, {}
    for host in config.hosts:
        connection = Connection(target_of(host), folder)
        remote = Tmux(socket_on(config, host), remote=connection, timeout=local.timeout)
        verb = first_look is not None
        pollers[host.name] = HostPoller(host.name, remote, wake, interval, once=verb,
                                        control=None if verb else config.control_session)
        launchers[host.name] = HostLauncher(config, host, connection)
    placement = {a.session: a.host for a in config.agents if a.host is not None}
    fleet = FleetTmux(local, pollers, placement, launchers)
    if first_look is not None:
        fleet.first_look(first_look)
    return fleet


def layout(config: Config) -> tuple[object, ...]:
    """What the door across hosts is made from: when it changes, the door is made again."""
    placement = tuple(sorted((a.session, a.host) for a in config.agents if a.host))
    return (config.hosts, placement, config.tmux_socket,
            min(LOOK_EVERY_MAX, config.watchdog.signal_interval))


def reopened(tmux: Tmux | FleetTmux, old: Config, new: Config, workers: Workers,
             wake: Callable[[], None]) -> Tmux | FleetTmux:
    """The door for `new` after an edit of the config: `tmux` itself unless the hosts or
    the agents' placement changed; the old door is closed in a worker (its pollers may be
    in the middle of a look: the loop does not wait for that)."""
    if layout(old) == layout(new):
        return tmux
    if isinstance(tmux, FleetTmux):
        # A host's control session that the new door will attach to again stays there.
        same = [h.name for h in old.hosts if h in new.hosts and socket_on(old, h) ==
                socket_on(new, h) and old.control_session == new.control_session]
        workers.submit("host", "-closing", lambda cancel: tmux.close(keep_control=same))
    return open_fleet(new, local_of(tmux), wake)


def local_of(tmux: Tmux | FleetTmux) -> Tmux:
    """This machine's server behind a door."""
    return tmux.local if isinstance(tmux, FleetTmux) else tmux


def remote_launcher(tmux: Tmux | FleetTmux, session: str) -> HostLauncher | None:
    return tmux.launcher_of(session) if isinstance(tmux, FleetTmux) else None


def start_agent(tmux: Tmux | FleetTmux, config: Config, agent: Agent,
                swept: bool = False) -> None:
    """Start `agent`'s session where it runs (raises TmuxError / OSError / Untrusted)."""
    launcher = remote_launcher(tmux, agent.session)
    if launcher is None:
        launch.start(local_of(tmux), config, launch.plan_for(config, agent), swept=swept)
        return
    assert isinstance(tmux, FleetTmux)
    with tmux.acting(agent.session):
        launcher.start(config, agent, swept=swept)


def stop_session(tmux: Tmux | FleetTmux, config: Config, session: str) -> bool:
    """`launch.stop` where the session runs; whether it existed."""
    launcher = remote_launcher(tmux, session)
    if launcher is None:
        return launch.stop(local_of(tmux), config, session)
    assert isinstance(tmux, FleetTmux)
    with tmux.acting(session):
        return launcher.stop(session)


def stop_controls(tmux: Tmux | FleetTmux, config: Config) -> list[str]:
    """Kill the watchdog's control session on every host whose look shows one (a watchdog
    killed with SIGKILL leaves it; a stopped one kills it itself); the hosts it was on. A
    host that does not answer keeps it: nothing of an agent runs in it."""
    if not isinstance(tmux, FleetTmux):
        return []
    stopped = []
    for host, poller in tmux.pollers.items():
        look = poller.latest()
        if look is None or look.snapshot is None or \
                config.control_session not in look.snapshot.panes:
            continue
        with contextlib.suppress(TmuxError):
            if poller.tmux.kill(config.control_session):
                stopped.append(host)
    return stopped


def close(tmux: Tmux | FleetTmux) -> None:
    if isinstance(tmux, FleetTmux):
        tmux.close()
