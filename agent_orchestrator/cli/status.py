"""What `agents status` shows, as data: one row per agent and service plus the fleet's
header (watchdog, config health, phase, fleet health). `to_json` is the documented `--json` shape.

It costs one tmux call (`list-panes -a`) and a few small file reads whatever the fleet's
size, and works whether or not the watchdog runs.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from agent_orchestrator.config import Agent, Config
from agent_orchestrator.core import rules
from agent_orchestrator.core.memory import AgentMemory
from agent_orchestrator.core.observed import Pane
from agent_orchestrator.doors import lock, markers, memorystore
from agent_orchestrator.doors.tmux import Tmux
from agent_orchestrator.runtime import launch

JSON_VERSION = 1
HOUR = 3600.0


@dataclass(frozen=True)
class StatusRow:
    """One agent or service. Seconds are None when unknown (e.g. an adopted agent's uptime)."""

    agent: str
    kind: str
    backend: str
    model: str
    watch: str
    state: str
    session: str
    uptime_s: float | None
    restarts_1h: int
    restarts_total: int
    last_event: str | None
    last_event_age_s: float | None
    # where the watchdog's last judgement of the state came from ("hook", "notify",
    # "transcript", "screen") and how old that look is
    source: str | None = None
    seen_age_s: float | None = None


@dataclass(frozen=True)
class FleetStatus:
    rows: tuple[StatusRow, ...]
    watchdog_pid: int | None
    server_running: bool
    phase: str | None
    config_path: str = ""
    config_stale_since: float | None = None  # epoch of the rejected edit, when stale
    failing: int = 0  # supervised agents failing now (rules.fleet_health)
    supervised: int = 0
    config_in_force: str | None = None  # digest of the last good config, when stale

    @property
    def degraded(self) -> bool:
        """More than half of the supervised agents failing together (rules.degraded)."""
        return rules.degraded(self.failing, self.supervised)

    def to_json(self) -> dict[str, object]:
        """The `agents status --json` document (stable; `version` changes if it must)."""
        return {
            "version": JSON_VERSION,
            "config": {"path": self.config_path, "ok": self.config_stale_since is None,
                       "stale_since": self.config_stale_since,
                       "last_good": self.config_in_force},
            "watchdog": {"running": self.watchdog_pid is not None, "pid": self.watchdog_pid},
            "tmux": {"server_running": self.server_running},
            "phase": self.phase,
            "fleet": {"degraded": self.degraded, "failing": self.failing,
                      "supervised": self.supervised},
            "agents": [asdict(row) for row in self.rows],
        }


def agent_state(agent: Agent, pane: Pane | None, mem: AgentMemory, stopped: bool,
                server_running: bool, mono_now: float, resting: bool = False) -> str:
    """One word or phrase for the status table, most urgent first. `resting`: a loop agent
    after the last phase (stopped on purpose)."""
    if not agent.enabled:
        return "disabled"
    if stopped:
        return "stopped"
    if resting and pane is None:
        return "done (sequence complete)"
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
    if mem.state == "active":
        return "active"
    if mem.state == "idle" and mem.active_at is not None:
        return f"idle {max(mono_now - mem.active_at, 0) / 60:.0f}m"
    return "running"


def status(config: Config, tmux: Tmux) -> FleetStatus:
    """The fleet as one table's worth of data: one tmux call, no per-agent queries."""
    snap = tmux.snapshot()
    memory, _ = memorystore.load_memory(config, quarantine=False)
    stopped = markers.stopped_agents(config)
    read = markers.read_phase(config, memory.loop.phase)
    phase_idx = read.index
    mono_now, wall_now = time.monotonic(), time.time()
    rows = []
    for agent in config.agents:
        mem = memory.agent(agent.name)
        pane = snap.pane(agent.session)
        shown = agent_state(agent, pane, mem, agent.name in stopped, snap.server_running,
                            mono_now, agent.kind == "loop" and memory.loop.sequence_complete)
        alive = pane is not None and not pane.dead
        rows.append(StatusRow(
            agent.name, agent.kind, agent.backend,
            launch.agent_model(config, agent, phase_idx) or "-", agent.watch, shown,
            agent.session,
            uptime_s=wall_now - pane.created if alive and pane and pane.created else None,
            restarts_1h=sum(1 for t in mem.deaths if mono_now - t < HOUR),
            restarts_total=mem.restarts, last_event=mem.last_event,
            last_event_age_s=wall_now - mem.last_event_wall if mem.last_event_wall else None,
            source=mem.state_source if alive else None,
            seen_age_s=max(mono_now - mem.looked_at, 0.0) if alive and mem.looked_at is not None
            else None))
    for service in config.services:
        pane = snap.pane(service.session)
        shown = "stopped" if pane is None else ("exited" if pane.dead else "running")
        rows.append(StatusRow(service.name, "service", "-", "-", "-", shown, service.session,
                              None, 0, 0, None, None))
    phase = None
    if config.loop and config.loop.phases:
        current = min(phase_idx, len(config.loop.phases) - 1)
        phase = f"{current + 1}/{len(config.loop.phases)} {config.loop.phases[current].id}"
        if read.problem is not None:  # the watchdog keeps this phase (looprules)
            phase += f" (kept: {read.problem}; `agents phase set N` rewrites it)"
        elif memory.loop.sequence_complete:
            phase += ", sequence complete"
        elif memory.loop.done_note and memory.loop.phase == phase_idx:
            phase += f", {memory.loop.done_note}"
    health = markers.read_health(config)
    stale = health.get("since") if health and not health.get("ok") else None
    digest = health.get("digest") if health and stale is not None else None
    failing, supervised = rules.fleet_health(config, rules.supervised(config, stopped, memory),
                                             memory.agents, mono_now)
    return FleetStatus(tuple(rows), lock.watchdog_pid(config), snap.server_running, phase,
                       str(config.path),
                       float(stale) if isinstance(stale, int | float) else None,
                       failing, supervised,
                       digest if isinstance(digest, str) and stale is not None else None)
