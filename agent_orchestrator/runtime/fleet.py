"""What `agents up` and `down` do, as functions that return data.

cli.py parses arguments and render.py prints; nothing here prints or exits. Names given by
the user are checked against the config first (`UnknownNames`), so a typo is an error and
never silently ignored. `watchdog` names the supervisor alone (`agents up watchdog`,
`agents down watchdog`). Operator actions are events too (`restart`, with the pid and
user that ran them).
"""

from __future__ import annotations

import os
import pwd
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent_orchestrator.config import WATCHDOG_NAME as WATCHDOG
from agent_orchestrator.config import Agent, Config
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.observed import Snapshot
from agent_orchestrator.doors import eventlog, lock, markers, proctree, worktrees
from agent_orchestrator.doors.gitrelay import GitError
from agent_orchestrator.doors.tmux import SessionExists, Tmux, TmuxError
from agent_orchestrator.runtime import hostfleet, launch
from agent_orchestrator.runtime.hosts import FleetTmux
from agent_orchestrator.runtime.launch import LaunchPlan


class UnknownNames(ValueError):
    def __init__(self, names: Sequence[str], known: Sequence[str]) -> None:
        self.names = list(names)
        super().__init__(f"unknown name{'s' if len(names) > 1 else ''}: {', '.join(names)} "
                         f"(known: {', '.join(known) or 'none'})")


@dataclass(frozen=True)
class Outcome:
    """What happened to one session: `action` is started / running / skipped / stopped /
    absent; `detail` says why when it is not obvious."""

    name: str
    session: str
    action: str
    detail: str = ""


def check_names(config: Config, names: Sequence[str], watchdog: bool = False) -> None:
    """Raise UnknownNames for a name that is no agent or service (nor, with `watchdog`,
    the supervisor's)."""
    known = [a.name for a in config.agents] + [s.name for s in config.services]
    unknown = [n for n in names if n not in known and not (watchdog and n == WATCHDOG)]
    if unknown:
        raise UnknownNames(unknown, known + ([WATCHDOG] if watchdog else []))


OPERATOR_MARK = " (operator: pid "  # how an operator's event reason ends (operator_event)


def operator_event(config: Config, agent: str | None, kind: str, what: str) -> Event:
    """Record an operator's action (`restart`, `send`, ...) with the pid and user that ran
    it; a failed write is not the action's failure (the watchdog's rule for events too)."""
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = str(os.getuid())
    event = Event(time.time(), agent, kind, f"{what}{OPERATOR_MARK}{os.getpid()}, "
                  f"user {user})")
    try:
        eventlog.append(config.log_dir, [event])
    except OSError as exc:
        eventlog.write_failed(config.log_dir, exc)
    return event


def watchdog_plan(config: Config) -> LaunchPlan:
    argv = (sys.executable, "-m", "agent_orchestrator", "watchdog",
            "--config", str(config.path))
    return LaunchPlan(session=config.watchdog_session, argv=argv, cwd=config.project_dir)


def up(config: Config, tmux: Tmux | FleetTmux, names: Sequence[str] = ()) -> list[Outcome]:
    """Start the named agents/services (all enabled ones when none are named) and the
    watchdog. A running session is left alone; a dead pane is replaced."""
    check_names(config, names, watchdog=True)
    markers.ensure_dirs(config)
    snap = tmux.snapshot()
    outcomes = []
    alone = list(names) == [WATCHDOG]
    if config.loop is not None and not config.loop.resume_phase and not names:
        markers.write_phase_index(config, 0)  # `resume_phase = false`: every `up` starts over
    for agent in config.agents:
        if alone or (names and agent.name not in names):
            continue
        if not agent.enabled:
            outcomes.append(Outcome(agent.name, agent.session, "skipped", "disabled"))
            continue
        if (trouble := _worktree(config, agent)) is not None:
            outcomes.append(trouble)
            continue
        outcomes.append(_ensure_agent(config, tmux, snap, agent))
        _supervise_again(config, agent.name)
    for service in config.services:
        if alone or (names and service.name not in names):
            continue
        outcomes.append(_ensure(config, tmux, snap, service.name,
                                launch.plan_service(config, service)))
        _supervise_again(config, service.name)
    running = lock.watchdog_pid(config)
    if running is not None:  # e.g. it outlived a killed tmux server: don't start a second
        outcomes.append(_watchdog_running(config, snap, running))
    else:
        outcomes.append(_ensure(config, tmux, snap, WATCHDOG, watchdog_plan(config)))
    return outcomes


def _supervise_again(config: Config, name: str) -> None:
    """After the operator's start: a new run (its clocks and failure counters start over),
    healed from now on. Only once its session is there: while it is still marked stopped
    the watchdog leaves it alone, and a pass reads the marks before the sessions
    (runtime/observe.py), so none sees it unstopped and not started and heals it too."""
    markers.mark_started(config, name)
    markers.clear_stopped(config, name)


def _watchdog_running(config: Config, snap: Snapshot, pid: int) -> Outcome:
    """The running watchdog, with its session only when that exists (it outlives a killed
    tmux server, and `agents watchdog` runs it in the foreground, outside tmux)."""
    if snap.pane(config.watchdog_session) is not None:
        return Outcome(WATCHDOG, config.watchdog_session, "running", f"pid {pid}")
    return Outcome(WATCHDOG, "", "running", f"pid {pid}, in no tmux session")


def restart(config: Config, tmux: Tmux | FleetTmux, names: Sequence[str]) -> list[Outcome]:
    """Stop and start the named agents/services. The watchdog sees the new process as a
    run the operator started (the `started/` marker is newer than the run it knew): its
    clocks and its failure counters (back-off, crash window, crash loop) start over.
    Stopped agents are started too; a disabled one is refused (`skipped`)."""
    check_names(config, names)
    markers.ensure_dirs(config)
    outcomes = []
    for name in names:
        agent = config.agent(name)
        if agent is not None and not agent.enabled:
            outcomes.append(Outcome(name, agent.session, "skipped", "disabled"))
            continue
        if agent is not None and (trouble := _worktree(config, agent)) is not None:
            outcomes.append(trouble)
            continue
        if agent is not None:
            plan = launch.plan_for(config, agent) if agent.host is None else \
                LaunchPlan(agent.session, (), agent.dir)  # planned on its host, as it starts
        else:
            plan = launch.plan_service(config, next(s for s in config.services
                                                    if s.name == name))
        markers.mark_stopped(config, name)  # the watchdog must not heal the gap
        old = tmux.snapshot().pane(plan.session)
        was = f"was pid {old.pid}" if old is not None and not old.dead else "was not running"
        # before the new run, which the watchdog reports (adopt)
        operator_event(config, name, "restart", f"restarted by the operator ({was})")
        hostfleet.stop_session(tmux, config, plan.session)
        if agent is not None:  # just stopped: no look can say more (another host's is late)
            _ensure_agent(config, tmux, Snapshot(True, {}), agent)
        else:
            _ensure(config, tmux, tmux.snapshot(), name, plan)
        _supervise_again(config, name)
        outcomes.append(Outcome(name, plan.session, "restarted", was))
    return outcomes


def _worktree(config: Config, agent: Agent) -> Outcome | None:
    """Make the worktree of an agent with `worktree = true` (none: None); when git cannot,
    the agent is skipped, saying why."""
    if not agent.worktree:
        return None
    try:
        worktrees.ensure_agent_tree(config, agent)
    except (GitError, OSError) as exc:
        return Outcome(agent.name, agent.session, "skipped", f"worktree: {exc}")
    return None


def _ensure_agent(config: Config, tmux: Tmux | FleetTmux, snap: Snapshot,
                  agent: Agent) -> Outcome:
    """`_ensure` for an agent, wherever it runs."""
    if agent.host is None:
        return _ensure(config, tmux, snap, agent.name, launch.plan_for(config, agent))
    if agent.session in snap.unseen:
        reason = snap.unreachable.get(agent.host, "no answer yet")
        return Outcome(agent.name, agent.session, "skipped", f"host {agent.host}: {reason}")
    return _ensure(config, tmux, snap, agent.name, LaunchPlan(agent.session, (), agent.dir),
                   lambda swept: hostfleet.start_agent(tmux, config, agent, swept))


def _ensure(config: Config, tmux: Tmux | FleetTmux, snap: Snapshot, name: str,
            plan: LaunchPlan, begin: Callable[[bool], None] | None = None) -> Outcome:
    """Start `plan`'s session unless it runs (`begin(swept)` starts it, when given)."""
    pane = snap.pane(plan.session)
    if pane is not None and not pane.dead:
        return Outcome(name, plan.session, "running", f"pid {pane.pid}")
    if pane is not None:
        hostfleet.stop_session(tmux, config, plan.session)
    try:
        if begin is not None:
            begin(pane is not None)
        else:
            launch.start(hostfleet.local_of(tmux), config, plan, swept=pane is not None)
    except TmuxError as exc:
        # The watchdog may have started it in the same instant (it saw the started marker
        # written above): that is success too, even if the agent has already exited again.
        now = tmux.snapshot().pane(plan.session)
        if now is not None and not now.dead:
            return Outcome(name, plan.session, "running", f"pid {now.pid}")
        if isinstance(exc, SessionExists):
            return Outcome(name, plan.session, "started", "by the watchdog, at the same time")
        raise
    return Outcome(name, plan.session, "started")


def down(config: Config, tmux: Tmux | FleetTmux, names: Sequence[str] = ()) -> list[Outcome]:
    """Stop the named agents/services, remembering the operator's stop so the watchdog
    does not heal them; with no names stop everything, the watchdog first (so it does not
    heal what is being stopped) and any leftover session carrying the prefix."""
    check_names(config, names, watchdog=True)
    targets: list[tuple[str, str]] = []
    if not names or WATCHDOG in names:
        targets.append((WATCHDOG, config.watchdog_session))
    for agent in config.agents:
        if not names or agent.name in names:
            if names:
                markers.mark_stopped(config, agent.name)
            targets.append((agent.name, agent.session))
    for service in config.services:
        if not names or service.name in names:
            if names:
                markers.mark_stopped(config, service.name)
            targets.append((service.name, service.session))
    dog = lock.watchdog_pid(config) if targets and targets[0][0] == WATCHDOG else None
    outcomes = [_stop(config, tmux, name, session, dog) for name, session in targets]
    if not names and config.session_prefix:  # after the watchdog, whose own may be gone
        known = {session for _, session in targets}
        outcomes += [_stop(config, tmux, s, s, None) for s in sorted(
            s for s in tmux.snapshot().panes
            if s.startswith(config.session_prefix) and s not in known)]
    if not names:
        outcomes += [Outcome(config.control_session, config.control_session, "stopped",
                             f"on host {host}")
                     for host in hostfleet.stop_controls(tmux, config)]
    return outcomes


def _stop(config: Config, tmux: Tmux | FleetTmux, name: str, session: str,
          dog: int | None) -> Outcome:
    """Stop one session (the watchdog's: its process first, `dog` the pid holding its lock
    before, which is stopped even when it runs in no session)."""
    if name == WATCHDOG:  # its process first: a stop, not a killed session to report
        proctree.terminate(proctree.tagged(proctree.launch_tag(config.tmux_socket, session)))
    # After the stopped mark, under the session's lock: a watchdog's start in flight
    # ends first and is killed here, a later one sees the mark (T53).
    try:
        with lock.session_lock(config, session):
            existed = hostfleet.stop_session(tmux, config, session)
    except (TmuxError, OSError) as exc:  # another host that does not answer
        if hostfleet.remote_launcher(tmux, session) is None:
            raise
        return Outcome(name, session, "skipped", str(exc))
    if name == WATCHDOG and not existed and dog is not None:  # it ran in no session
        return _stop_foreground(config, dog)
    return Outcome(name, session, "stopped" if existed else "absent")


def _stop_foreground(config: Config, dog: int) -> Outcome:
    """Stop a watchdog that runs in no tmux session (`agents watchdog` in a terminal, or
    under a service manager): SIGTERM to the pid that holds its lock, as long as it still
    holds it (SIGKILL after the grace). One we may not signal is named, to stop by hand."""
    if lock.watchdog_pid(config) == dog:
        proctree.terminate(proctree.process(dog))
    still = lock.watchdog_pid(config)
    return Outcome(WATCHDOG, "", "running" if still else "stopped",
                   f"pid {dog}, in no tmux session" + (
                       f": stop it with `kill {still}`" if still else ""))
