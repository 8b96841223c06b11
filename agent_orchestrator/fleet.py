"""What `agents up`, `down` and `status` do, as functions that return data.

cli.py parses arguments and render.py prints; nothing here prints or exits. Names given by
the user are checked against the config first (`UnknownNames`), so a typo is an error and
never silently ignored.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from agent_orchestrator import launch, state
from agent_orchestrator.config import Agent, Config
from agent_orchestrator.launch import LaunchPlan
from agent_orchestrator.state import AgentMemory
from agent_orchestrator.tmux import Pane, Snapshot, Tmux, TmuxError


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


def check_names(config: Config, names: Sequence[str]) -> None:
    known = [a.name for a in config.agents] + [s.name for s in config.services]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownNames(unknown, known)


def watchdog_plan(config: Config) -> LaunchPlan:
    argv = (sys.executable, "-m", "agent_orchestrator", "watchdog",
            "--config", str(config.path))
    return LaunchPlan(session=config.watchdog_session, argv=argv, cwd=config.project_dir)


def up(config: Config, tmux: Tmux, names: Sequence[str] = ()) -> list[Outcome]:
    """Start the named agents/services (all enabled ones when none are named) and the
    watchdog. A running session is left alone; a dead pane is replaced."""
    check_names(config, names)
    state.ensure_dirs(config)
    snap = tmux.snapshot()
    outcomes = []
    phase = state.phase_index(config)
    for agent in config.agents:
        if names and agent.name not in names:
            continue
        if not agent.enabled:
            outcomes.append(Outcome(agent.name, agent.session, "skipped", "disabled"))
            continue
        state.clear_stopped(config, agent.name)
        state.mark_started(config, agent.name)
        plan = launch.plan_agent(config, agent, phase, state.resume_id(config, agent.name))
        outcomes.append(_ensure(config, tmux, snap, agent.name, plan))
    for service in config.services:
        if names and service.name not in names:
            continue
        outcomes.append(_ensure(config, tmux, snap, service.name,
                                launch.plan_service(config, service)))
    running = state.watchdog_pid(config)
    if running is not None:  # e.g. it outlived a killed tmux server: don't start a second
        outcomes.append(Outcome("watchdog", config.watchdog_session, "running",
                                f"pid {running}"))
    else:
        outcomes.append(_ensure(config, tmux, snap, "watchdog", watchdog_plan(config)))
    return outcomes


def _ensure(config: Config, tmux: Tmux, snap: Snapshot, name: str,
            plan: LaunchPlan) -> Outcome:
    pane = snap.pane(plan.session)
    if pane is not None and not pane.dead:
        return Outcome(name, plan.session, "running", f"pid {pane.pid}")
    if pane is not None:
        launch.stop(tmux, config, plan.session)
    try:
        launch.start(tmux, config, plan)
    except TmuxError:
        # The watchdog may have started it in the same instant: that is success too.
        now = tmux.snapshot().pane(plan.session)
        if now is None or now.dead:
            raise
        return Outcome(name, plan.session, "running", f"pid {now.pid}")
    return Outcome(name, plan.session, "started")


def down(config: Config, tmux: Tmux, names: Sequence[str] = ()) -> list[Outcome]:
    """Stop the named agents/services, remembering the operator's stop so the watchdog
    does not heal them; with no names stop everything, the watchdog first (so it does not
    heal what is being stopped) and any leftover session carrying the prefix."""
    check_names(config, names)
    outcomes = []
    targets: list[tuple[str, str]] = []
    if not names:
        targets.append(("watchdog", config.watchdog_session))
    for agent in config.agents:
        if not names or agent.name in names:
            if names:
                state.mark_stopped(config, agent.name)
            targets.append((agent.name, agent.session))
    for service in config.services:
        if not names or service.name in names:
            targets.append((service.name, service.session))
    if not names and config.session_prefix:
        known = {session for _, session in targets}
        leftovers = [s for s in tmux.snapshot().panes
                     if s.startswith(config.session_prefix) and s not in known]
        targets += [(s, s) for s in sorted(leftovers)]
    for name, session in targets:
        existed = launch.stop(tmux, config, session)
        outcomes.append(Outcome(name, session, "stopped" if existed else "absent"))
    return outcomes


@dataclass(frozen=True)
class StatusRow:
    agent: str
    kind: str
    backend: str
    model: str
    watch: str
    state: str
    restarts: int


@dataclass(frozen=True)
class FleetStatus:
    rows: tuple[StatusRow, ...]
    watchdog_pid: int | None
    server_running: bool
    phase: str | None
    config_stale_since: float | None = None  # epoch of the rejected edit, when stale


def agent_state(agent: Agent, pane: Pane | None, mem: AgentMemory, stopped: bool,
                server_running: bool, mono_now: float) -> str:
    """One word or phrase for the status table, most urgent first."""
    if not agent.enabled:
        return "disabled"
    if stopped:
        return "stopped"
    if mem.crash_looping_wall is not None:
        return "crash-looping"
    if pane is None:
        return "down (restarting)" if agent.watch != "none" and server_running else "stopped"
    if pane.dead:
        return f"exited ({pane.exit_status})" if pane.exit_status is not None else "exited"
    if mem.limit_until is not None:
        if mem.limit_reset_wall is not None:
            return "limited until " + time.strftime("%H:%M", time.localtime(
                mem.limit_reset_wall))
        return "limited (probing)"
    if mem.dialog_line is not None:
        return "waiting at dialog"
    if mem.screen_state == "active":
        return "active"
    if mem.screen_state == "idle" and mem.active_at is not None:
        return f"idle {max(mono_now - mem.active_at, 0) / 60:.0f}m"
    return "running"


def status(config: Config, tmux: Tmux) -> FleetStatus:
    """The fleet as one table's worth of data: one tmux call, no per-agent queries."""
    snap = tmux.snapshot()
    memory, _ = state.load_memory(config, quarantine=False)
    stopped = state.stopped_agents(config)
    phase_idx = state.phase_index(config)
    mono_now = time.monotonic()
    rows = []
    for agent in config.agents:
        mem = memory.agent(agent.name)
        shown = agent_state(agent, snap.pane(agent.session), mem, agent.name in stopped,
                            snap.server_running, mono_now)
        model = launch.agent_model(config, agent, phase_idx) or "-"
        rows.append(StatusRow(agent.name, agent.kind, agent.backend, model, agent.watch,
                              shown, mem.restarts))
    for service in config.services:
        pane = snap.pane(service.session)
        shown = "stopped" if pane is None else ("exited" if pane.dead else "running")
        rows.append(StatusRow(service.name, "service", "-", "-", "-", shown, 0))
    phase = None
    if config.loop and config.loop.phases:
        current = min(phase_idx, len(config.loop.phases) - 1)
        phase = f"{current + 1}/{len(config.loop.phases)} {config.loop.phases[current].id}"
    health = read_health(config)
    stale = health.get("since") if health and not health.get("ok") else None
    return FleetStatus(tuple(rows), state.watchdog_pid(config), snap.server_running, phase,
                       float(stale) if isinstance(stale, int | float) else None)


def read_health(config: Config) -> dict[str, object] | None:
    """The watchdog's word on the config file (written by watchdog.py)."""
    try:
        body = json.loads((config.state_dir / "config-health.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None
