"""The watchdog's decisions as a pure function: `decide(config, observed, memory, now)`.

No I/O, no clock, no tmux: everything the rules need arrives as arguments, and what they
want done comes back as data (actions to apply, events to record, the new memory). Every
rule of SPEC §4 is a branch here or in screenrules.py, tested table-style.

For each enabled, watched agent the operator did not stop (and each `[[service]]`, which
gets the same heal, back-off and crash-loop rules but no screen or process-name rules):
- heal: session gone or program exited → start; the pane runs ANOTHER used backend's
  process → restart; `fatal_re` on screen → restart (screenrules);
- stall, limit windows, dialogs and wake (screenrules);
- restarts after a failure back off exponentially with a per-agent jitter (the first one is
  immediate); `crash_limit` failures inside `crash_window` mark the agent crash-looping
  (FATAL: no more restarts, and no cool-down) until its config entry changes or the operator
  runs `agents up NAME`; a run longer than `restart_stable` resets the back-off; at most
  `fleet_restart_limit` (re)starts a minute across the fleet, so a mass failure does not
  become a thundering herd;
- fleet health: when more than half of the supervised agents (at least two) are failing —
  died in the last `DEGRADED_WINDOW` seconds, wait for a held-back restart, crash-loop, or
  were restarted after a death and have not yet run `restart_stable` — the fleet is
  degraded: one `fleet-degraded` event per incident, `fleet-recovered` after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from agent_orchestrator.config import Agent, Config, Service
from agent_orchestrator.core import looprules, screenrules
from agent_orchestrator.core.decisions import Decisions, Tick
from agent_orchestrator.core.memory import AgentMemory, FleetMemory
from agent_orchestrator.core.observed import Now, Observed, Pane
from agent_orchestrator.core.restarts import FLEET_WINDOW, clamp, fail, new_run, start

# A freshly started pane first runs boot.py (python), then execs the agent: don't judge its
# process name until it had time to get there.
START_GRACE = 10.0
# Agents whose failures fall within this many seconds of each other fail "together".
DEGRADED_WINDOW = 60.0


def watched(config: Config, stopped: frozenset[str]) -> list[Agent]:
    """The agents the rules look after."""
    return [a for a in config.agents if a.enabled and a.watch != "none" and a.name not in stopped]


def supervised(config: Config, stopped: frozenset[str], memory: FleetMemory) -> list[Agent]:
    """The agents decide() looks after this tick: the watched ones, minus the loop agents
    resting after the last phase (stopped on purpose, not healed)."""
    resting: frozenset[str] = frozenset()
    if memory.loop.sequence_complete:
        resting = frozenset(a.name for a in looprules.loop_agents(config, frozenset()))
    return watched(config, stopped | resting)


def services(config: Config, stopped: frozenset[str]) -> list[Service]:
    """The services the rules look after: every one the operator did not stop."""
    return [s for s in config.services if s.name not in stopped]


def fleet_health(config: Config, agents: list[Agent], memory: Mapping[str, AgentMemory],
                 mono: float) -> tuple[int, int]:
    """(failing, total) over `agents`: failing ones died within DEGRADED_WINDOW, wait for a
    held-back restart, crash-loop, or were restarted after a death and have not run
    `restart_stable` since (so an agent between two deaths of a crash loop stays failing)."""
    failing = 0
    for agent in agents:
        mem = memory.get(agent.name, AgentMemory())
        last = max(mem.deaths, default=None)
        if mem.crash_looping_wall is not None or mem.restart_due_at is not None or (
                last is not None and (mono - last < DEGRADED_WINDOW or (
                    mem.started_at is not None and mem.started_at >= last
                    and mono - mem.started_at < config.watchdog.restart_stable))):
            failing += 1
    return failing, len(agents)


def degraded(failing: int, total: int) -> bool:
    """More than half the fleet failing together (one agent alone is its own story)."""
    return failing >= 2 and 2 * failing > total


def decide(config: Config, observed: Observed, memory: FleetMemory, now: Now) -> Decisions:
    """Return what to do about every watched agent. Pure and total."""
    tick = Tick(config, observed, now, dict(memory.agents),
                [t for t in memory.fleet_starts if now.mono - FLEET_WINDOW < t <= now.mono],
                loop=memory.loop)
    if memory.server_up and memory.agents and not observed.server_running:
        tick.event(None, "tmux-server-gone", "the tmux server is not running; "
                   "starting the watched agents again")
    agents = supervised(config, observed.stopped, memory)
    for agent in [*agents, *services(config, observed.stopped)]:
        tick.agents[agent.name], future = clamp(memory.agent(agent.name), now,
                                                config.watchdog.restart_backoff_max)
        if future:
            tick.event(agent.name, "clock-clamped", "saved times were in the future (state "
                       "from before a reboot, or the clock moved): treated as now")
        _one_agent(tick, agent)
    looprules.apply(tick)
    if tick.throttled and not memory.throttled:
        tick.event(None, "throttled", f"more than {config.watchdog.fleet_restart_limit} "
                   f"restarts in {FLEET_WINDOW:g}s: holding the rest back")
    is_degraded = _fleet_events(tick, agents, memory)
    _host_events(tick, memory)
    new_memory = FleetMemory(tick.agents, tuple(tick.fleet_starts), tick.throttled,
                             observed.server_running, tick.loop, is_degraded,
                             tuple(sorted(observed.unreachable)))
    return Decisions(new_memory, tuple(tick.actions), tuple(tick.events))


def _fleet_events(tick: Tick, agents: list[Agent], memory: FleetMemory) -> bool:
    """Report the fleet entering and leaving the degraded state, once each; return it."""
    failing, total = fleet_health(tick.config, agents, tick.agents, tick.now.mono)
    now_degraded = degraded(failing, total)
    was = memory.degraded
    # A killed tmux server takes every agent with it: `tmux-server-gone` is that incident's
    # one alert, so it is not reported twice.
    server_gone = any(e.event == "tmux-server-gone" for e in tick.events)
    if now_degraded and not was and not server_gone:
        tick.event(None, "fleet-degraded", f"{failing} of {total} agents failing (died in "
                   f"the last {DEGRADED_WINDOW:g}s, restarting or crash-looping)")
    elif was and not now_degraded:
        tick.event(None, "fleet-recovered", f"{failing} of {total} agents failing")
    return now_degraded


def _host_events(tick: Tick, memory: FleetMemory) -> None:
    """A host that stopped answering, or answers again: once each way."""
    now_out, was_out = tick.observed.unreachable, set(memory.unreachable)
    for host in sorted(set(now_out) - was_out):
        tick.event(None, "host-unreachable", f"host {host}: {now_out[host]}; its agents are "
                   "held as they were (not counted dead, not started elsewhere) while the "
                   "watchdog retries with back-off")
    for host in sorted(was_out - set(now_out)):
        tick.event(None, "host-reachable", f"host {host} answers again")


def _one_agent(tick: Tick, agent: Agent | Service) -> None:
    if agent.session in tick.observed.unseen:
        return  # on a host not seen this pass: neither alive nor dead, nothing is counted
    name, now = agent.name, tick.now
    mem = tick.agents[name]
    pane = tick.observed.panes.get(agent.session) if tick.observed.server_running else None
    if mem.crash_looping_wall is not None:
        started = tick.observed.operator_starts.get(name)
        if started is None or started <= mem.crash_looping_wall:
            return  # FATAL: only the operator or a config change brings it back
        mem = tick.agents[name] = replace(mem, crash_looping_wall=None, deaths=(), failures=0)
        tick.event(name, "crash-loop-cleared", "the operator started it again")
    if pane is not None and not pane.dead and mem.starts == 0:
        # Running before we knew it (started by `up`, or state was lost): adopt, don't restart.
        mem = tick.agents[name] = replace(new_run(mem, now.mono), starts=1,
                                          pane_pid=pane.pid,
                                          signal_turns=_turns_so_far(tick, name))
        tick.event(name, "adopt", f"already running (pid {pane.pid})")
    elif pane is not None and not pane.dead and mem.pane_pid != pane.pid:
        mem = tick.agents[name] = _track_run(tick, agent, pane, mem)
    if pane is not None and not pane.dead and mem.restart_due_at is not None \
            and _operator_started_since_failure(tick, name, mem):
        # `agents down` then `agents up` during a back-off: the operator's fresh session is
        # the restart; restarting it again would kill what they just started.
        mem = tick.agents[name] = replace(mem, restart_due_at=None, deaths=(), failures=0)
        tick.event(name, "backoff-cleared", "the operator started it again")
    if pane is None or pane.dead:
        _heal_dead(tick, agent, pane)
        return
    if mem.restart_due_at is not None:  # a failed agent whose restart was held back
        if now.mono >= mem.restart_due_at:
            start(tick, agent, "restart", "held-back restart", restart=True)
        return
    if isinstance(agent, Service):
        return  # a plain command: no screen, no backend to tell its process by
    settled = mem.started_at is None or now.mono - mem.started_at >= START_GRACE
    if settled and (other := _foreign_backend(tick.config, agent, pane.command)):
        fail(tick, agent, f"pane runs '{pane.command}', the process of backend '{other}'",
             live=True)
        return
    screenrules.apply(tick, agent, pane)


def _track_run(tick: Tick, agent: Agent | Service, pane: Pane,
               mem: AgentMemory) -> AgentMemory:
    """Note the pid of the run we look after. After our own start it is simply recorded;
    a pid that replaced one we knew is a run we did not start (`agents up` after `down`, a
    respawn by hand): a new run whose clocks start now, so the old run's idle time is never
    held against it. When the operator started it (`agents restart`, `agents up` after
    `down`: their marker is newer than the run we knew) its failure counters start over
    too: the back-off series and the crash window are the old run's story."""
    if mem.pane_pid is None:
        return replace(mem, pane_pid=pane.pid)
    run = replace(new_run(mem, tick.now.mono), pane_pid=pane.pid,
                  signal_turns=_turns_so_far(tick, agent.name))
    started = tick.observed.operator_starts.get(agent.name)
    if started is not None and mem.started_at is not None and \
            tick.now.mono - (tick.now.wall - started) > mem.started_at:
        tick.event(agent.name, "adopt", f"a new process (pid {pane.pid}, was "
                   f"{mem.pane_pid}) started by the operator: its clocks and failure "
                   "counters start now")
        return replace(run, deaths=(), failures=0, restart_due_at=None)
    tick.event(agent.name, "adopt", f"a new process (pid {pane.pid}, was {mem.pane_pid}) "
               "started outside the watchdog: its clocks start now")
    return run


def _turns_so_far(tick: Tick, name: str) -> int:
    """The finished turns an adopted run's signal file counts already: history, not news.
    No file means none yet (each launch removes the previous run's), so the first turn it
    finishes is news even when that is its first signal (Codex's notify only tells turns:
    `agents up` starts an agent that the watchdog then adopts, and its kickoff turn must
    not be lost)."""
    record = tick.observed.signals.get(name)
    return record.turns if record is not None else 0


def _operator_started_since_failure(tick: Tick, name: str, mem: AgentMemory) -> bool:
    """Whether the operator's last `agents up NAME` came after the agent's last failure."""
    started = tick.observed.operator_starts.get(name)
    if started is None:
        return False
    started_mono = tick.now.mono - (tick.now.wall - started)  # the epoch stamp on our clock
    return not mem.deaths or started_mono > mem.deaths[-1]


def _heal_dead(tick: Tick, agent: Agent | Service, pane: Pane | None) -> None:
    mem = tick.agents[agent.name]
    if mem.starts == 0:
        if agent.name not in tick.observed.operator_starts:
            start(tick, agent, "start", "not running" if pane is None else "found exited",
                  restart=pane is not None)
            return
        # `agents up` started it and it died before the watchdog's first look: a death.
        mem = tick.agents[agent.name] = replace(mem, starts=1)
    if mem.restart_due_at is None:  # a new death
        if pane is None:
            reason = "session gone"
        else:
            if pane.exit_signal is not None:
                reason = f"killed by signal {pane.exit_signal}"
            elif pane.exit_status is not None:
                reason = f"exited with status {pane.exit_status}"
            else:
                reason = "exited with unknown status"
            tick.agents[agent.name] = replace(mem, last_exit=pane.exit_status)
        fail(tick, agent, reason, live=False, dead_pane=pane is not None)
        return
    if tick.now.mono >= mem.restart_due_at:
        start(tick, agent, "restart", "back-off over", restart=pane is not None)


def next_deadline(memory: FleetMemory) -> float | None:
    """The earliest monotonic time a rule is waiting for without a screen (a back-off
    restart), so the loop can wake for it; None when there is none."""
    due = [m.restart_due_at for m in memory.agents.values()
           if m.restart_due_at is not None and m.crash_looping_wall is None]
    return min(due) if due else None


def runs(command: str, process_name: str | None) -> bool:
    """Whether a pane's current command is `process_name` (`python` matches `python3.11`)."""
    if not process_name:
        return False
    rest = command[len(process_name):] if command.startswith(process_name) else None
    return rest is not None and all(c.isdigit() or c == "." for c in rest)


def _foreign_backend(config: Config, agent: Agent, command: str) -> str | None:
    own = config.backend(agent.backend)
    if runs(command, own.process_name):
        return None
    used = {a.backend for a in config.agents}
    for backend in config.backends:
        if backend.name != own.name and backend.name in used and \
                runs(command, backend.process_name):
            return backend.name
    return None
