"""What `agents status` shows, as data: one row per agent and service plus the fleet's
header (watchdog, config health, phase, fleet health). `to_json` is the documented `--json` shape.

It costs one tmux call (`list-panes -a`) and a few small file reads whatever the fleet's
size, and works whether or not the watchdog runs; with `processes`, also a /proc scan and a
quarter-second CPU sample for the pid, CPU and memory columns.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from agent_orchestrator.config import Agent, Config
from agent_orchestrator.core import rules
from agent_orchestrator.core.memory import RESTART_RECORD, AgentMemory, FleetMemory
from agent_orchestrator.core.observed import Pane
from agent_orchestrator.doors import eventlog, lock, markers, memorystore, proctree
from agent_orchestrator.doors.tmux import Tmux
from agent_orchestrator.runtime import launch

JSON_VERSION = 2
# a (re)start event is written just before its process starts: it belongs to that run
START_SLACK = 10.0
# `state` in the table and in --json: one of these words; `detail` has the prose
STATES = ("running", "active", "idle", "limited", "dialog", "backoff", "crash-looping",
          "exited", "stopped", "disabled", "done", "unreachable")


def iso(wall: float | None) -> str | None:
    """An epoch as local ISO 8601 with its offset, to the second (None stays None)."""
    if wall is None:
        return None
    return datetime.fromtimestamp(wall).astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True)
class StatusRow:
    """One agent or service. Every value is None when unknown (e.g. an adopted agent's
    uptime, a stopped agent's pid)."""

    agent: str
    kind: str
    backend: str | None
    model: str | None
    watch: str | None
    state: str  # one of STATES
    detail: str  # the state as prose: "idle 5m", "exited (3)", "limited until 14:00"
    session: str
    since: str | None  # when it entered this state (ISO), where known
    idle_s: float | None  # seconds since it was last seen working (a live agent)
    limit_until: str | None  # the end of its usage-limit window (ISO), when known
    pid: int | None
    cpu_pct: float | None  # its process tree's, 100 = one core (when processes were read)
    rss_bytes: int | None
    uptime_s: float | None
    restarts_1h: int
    restarts_total: int
    last_event: str | None
    last_event_age_s: float | None
    last_event_this_run: bool | None  # False: the event is older than the running process
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
    config_error: str | None = None  # the file's errors, when the last good config is shown

    @property
    def degraded(self) -> bool:
        """More than half of the supervised agents failing together (rules.degraded)."""
        return rules.degraded(self.failing, self.supervised)

    def to_json(self) -> dict[str, object]:
        """The `agents status --json` document (stable; `version` changes if it must)."""
        return {
            "version": JSON_VERSION,
            "config": {"path": self.config_path,
                       "ok": self.config_stale_since is None and self.config_error is None,
                       "stale_since": self.config_stale_since,
                       "last_good": self.config_in_force, "errors": self.config_error},
            "watchdog": {"running": self.watchdog_pid is not None, "pid": self.watchdog_pid},
            "tmux": {"server_running": self.server_running},
            "phase": self.phase,
            "fleet": {"degraded": self.degraded, "failing": self.failing,
                      "supervised": self.supervised},
            "agents": [asdict(row) for row in self.rows],
        }


def agent_state(agent: Agent, pane: Pane | None, mem: AgentMemory, stopped: bool,
                server_running: bool, mono_now: float, resting: bool = False,
                finisher: bool | None = None) -> tuple[str, str]:
    """(one of STATES, the prose), most urgent first. `resting`: a loop agent after the
    last phase (stopped on purpose); `finisher`: the loop's on_complete agent, True once
    the sequence is complete (it runs then, whether or not it is `enabled`)."""
    live = pane is not None and not pane.dead
    if finisher and not live and not stopped and (pane is None or pane.exit_status == 0):
        return "done", "done (ran on completion)"
    if finisher is False and not agent.enabled and not live:
        return "stopped", "stopped" if stopped else "starts when the sequence is complete"
    if not agent.enabled and not finisher:
        return "disabled", "disabled"
    return run_state(pane, mem, stopped, server_running, mono_now, resting,
                     watched=agent.watch != "none")


def run_state(pane: Pane | None, mem: AgentMemory, stopped: bool, server_running: bool,
              mono_now: float, resting: bool = False, watched: bool = True
              ) -> tuple[str, str]:
    """The state of an enabled agent or of a service (`agent_state`)."""
    if stopped:
        return "stopped", "stopped"
    if resting and pane is None:
        return "done", "done (sequence complete)"
    if mem.crash_looping_wall is not None:
        return "crash-looping", "crash-looping"
    if pane is None:
        if not watched or not server_running:
            return "stopped", "stopped"
        if mem.restart_due_at is not None:
            return "backoff", f"restarting in {max(mem.restart_due_at - mono_now, 0):.0f}s"
        return "exited", "down (restarting)"
    if pane.dead:
        return "exited", (f"exited ({pane.exit_status})" if pane.exit_status is not None
                          else "exited")
    if mem.limit_until is not None:
        if mem.limit_reset_wall is not None:
            return "limited", "limited until " + time.strftime("%H:%M", time.localtime(
                mem.limit_reset_wall))
        return "limited", "limited (probing)"
    if mem.dialog_line is not None:
        return "dialog", "waiting at dialog"
    if mem.state == "active":
        return "active", "active"
    if mem.state == "idle" and mem.active_at is not None:
        idle = max(mono_now - mem.active_at, 0)
        return "idle", f"idle {idle:.0f}s" if idle < 60 else f"idle {idle / 60:.0f}m"
    return "running", "running"


def _since(state: str, mem: AgentMemory, pane: Pane | None, mono_now: float,
           wall_now: float) -> float | None:
    """When the agent entered `state` (epoch), where the memory or tmux knows it."""
    if state == "idle" and mem.active_at is not None:
        return wall_now - (mono_now - mem.active_at)
    if state == "crash-looping":
        return mem.crash_looping_wall
    if state == "running" and pane is not None and pane.created:
        return pane.created
    return None


def _usage(config: Config, panes: dict[str, Pane]) -> dict[str, tuple[float, int, int]]:
    """CPU %, RSS and process count of each live agent's process tree (one 0.25 s wait)."""
    groups = {name: {pane.pid} | {pid for pid, _ in proctree.tagged(
        proctree.launch_tag(config.tmux_socket, pane.session))}
        for name, pane in panes.items()}
    return proctree.usage_each(groups)


def broken(path: Path, errors: str) -> dict[str, object]:
    """The --json document when the config has errors and no last good one is known."""
    return {"version": JSON_VERSION,
            "config": {"path": str(path), "ok": False, "stale_since": None,
                       "last_good": None, "errors": errors},
            "watchdog": None, "tmux": None, "phase": None, "fleet": None, "agents": []}


def status(config: Config, tmux: Tmux, processes: bool = False,
           config_error: str | None = None) -> FleetStatus:
    """The fleet as one table's worth of data: one tmux call, no per-agent queries.
    `processes`: also read each live agent's process tree from /proc (CPU, memory);
    `config_error`: `config` is the last good one, standing in for a file with errors."""
    snap = tmux.snapshot()
    memory, _ = memorystore.load_memory(config, quarantine=False)
    stopped = markers.stopped_agents(config)
    read = markers.read_phase(config, memory.loop.phase)
    phase_idx = read.index
    mono_now, wall_now = time.monotonic(), time.time()
    live = {a.name: pane for a in (*config.agents, *config.services)
            if (pane := snap.pane(a.session)) is not None and not pane.dead}
    # Another host's pane pid is no process here: no CPU / memory figures for it.
    used = _usage(config, {n: p for n, p in live.items() if p.host is None}) \
        if processes else {}
    rows = []
    done = config.loop.on_complete if config.loop else None
    logged = eventlog.latest(config.log_dir)
    for agent in config.agents:
        pane = snap.pane(agent.session)
        state, detail = agent_state(
            agent, pane, memory.agent(agent.name), agent.name in stopped,
            snap.server_running, mono_now,
            agent.kind == "loop" and memory.loop.sequence_complete,
            memory.loop.sequence_complete if done and done.run == agent.name else None)
        if agent.session in snap.unseen and agent.host in snap.unreachable:
            state, detail = "unreachable", f"host {agent.host} unreachable"
        rows.append(_row(agent.name, agent.kind, agent.backend,
                         launch.agent_model(config, agent, phase_idx), agent.watch,
                         state, detail, agent.session, pane,
                         _newest(memory.agent(agent.name), logged.get(agent.name)),
                         used, mono_now, wall_now))
    for service in config.services:
        pane = snap.pane(service.session)
        mem = memory.agent(service.name)  # never run as far as the watchdog knows: stopped
        state, detail = run_state(pane, mem, service.name in stopped, snap.server_running,
                                  mono_now, watched=mem.starts > 0)
        rows.append(_row(service.name, "service", None, None, None, state, detail,
                         service.session, pane,
                         _newest(memory.agent(service.name), logged.get(service.name)), used,
                         mono_now, wall_now))
    return _fleet(config, snap.server_running, memory, stopped, phase_idx, read.problem,
                  tuple(rows), mono_now, config_error)


def _newest(mem: AgentMemory, logged: tuple[str, float] | None) -> AgentMemory:
    """`mem` with the event log's newest event of it when that is newer than the memory's
    (an operator's verb, a worker's outcome: events the watchdog's memory does not hold)."""
    if logged is None or (mem.last_event_wall or 0.0) >= logged[1]:
        return mem
    return replace(mem, last_event=logged[0], last_event_wall=logged[1])


def _row(name: str, kind: str, backend: str | None, model: str | None, watch: str | None,
         state: str, detail: str, session: str, pane: Pane | None, mem: AgentMemory,
         used: dict[str, tuple[float, int, int]], mono_now: float, wall_now: float
         ) -> StatusRow:
    """One agent's or service's row: its state plus what tmux and the memory say."""
    alive = pane is not None and not pane.dead
    started = pane.created if alive and pane and pane.created else None
    cpu, rss, _ = used.get(name, (None, None, None))
    return StatusRow(
        name, kind, backend, model, watch, state, detail,
        session, iso(_since(state, mem, pane, mono_now, wall_now)),
        idle_s=round(max(mono_now - mem.active_at, 0.0), 1)
        if alive and mem.active_at is not None and state in ("idle", "active") else None,
        limit_until=iso(mem.limit_reset_wall) if state == "limited" else None,
        pid=pane.pid if alive and pane else None, cpu_pct=cpu, rss_bytes=rss,
        uptime_s=wall_now - started if started else None,
        restarts_1h=sum(1 for t in mem.restart_walls if wall_now - t < RESTART_RECORD),
        restarts_total=mem.restarts, last_event=mem.last_event,
        last_event_age_s=wall_now - mem.last_event_wall if mem.last_event_wall else None,
        last_event_this_run=mem.last_event_wall >= started - START_SLACK
        if mem.last_event_wall and started else None,
        source=mem.state_source if alive else None,
        seen_age_s=max(mono_now - mem.looked_at, 0.0) if alive and mem.looked_at is not None
        else None)


def _fleet(config: Config, server_running: bool, memory: FleetMemory,
           stopped: frozenset[str], phase_idx: int, problem: str | None,
           rows: tuple[StatusRow, ...], mono_now: float, config_error: str | None
           ) -> FleetStatus:
    """The fleet's header around `rows`: phase line, config health, fleet health."""
    phase = None
    if config.loop and config.loop.phases:
        current = min(phase_idx, len(config.loop.phases) - 1)
        phase = f"{current + 1}/{len(config.loop.phases)} {config.loop.phases[current].id}"
        if problem is not None:  # the watchdog keeps this phase (looprules)
            phase += f" (kept: {problem}; `agents phase set N` rewrites it)"
        elif memory.loop.sequence_complete:
            phase += ", sequence complete"
        elif memory.loop.done_note and memory.loop.phase == phase_idx:
            phase += f", {memory.loop.done_note}"
    health = markers.read_health(config)
    stale = health.get("since") if health and not health.get("ok") else None
    digest = health.get("digest") if health and stale is not None else None
    failing, supervised = rules.fleet_health(config, rules.supervised(config, stopped, memory),
                                             memory.agents, mono_now)
    return FleetStatus(rows, lock.watchdog_pid(config), server_running, phase,
                       str(config.path),
                       float(stale) if isinstance(stale, int | float) else None,
                       failing, supervised,
                       digest if isinstance(digest, str) and stale is not None else None,
                       config_error)
