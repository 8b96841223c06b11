"""The watchdog's decisions as a pure function: `decide(config, observed, memory, now)`.

No I/O, no clock, no tmux: everything the rules need arrives as arguments, and what they
want done comes back as data (actions to apply, events to record, the new memory). Every
rule of SPEC §4 is a branch here or in screenrules.py, tested table-style.

For each enabled, watched agent the operator did not stop:
- heal: session gone or program exited → start; the pane runs ANOTHER used backend's
  process → restart; `fatal_re` on screen → restart (screenrules);
- stall, limit windows, dialogs and wake (screenrules);
- restarts after a failure back off exponentially (the first one is immediate); `crash_limit`
  failures inside `crash_window` mark the agent crash-looping (FATAL: no more restarts) until
  its config entry changes or the operator runs `agents up NAME`; a run longer than
  `restart_stable` resets the back-off; at most `fleet_restart_limit` (re)starts a minute
  across the fleet, so a mass failure does not become a thundering herd.
"""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator import looprules, screenrules
from agent_orchestrator.config import Agent, Config
from agent_orchestrator.decisions import Decisions, Now, Observed, Tick
from agent_orchestrator.restarts import FLEET_WINDOW, clamp, fail, start
from agent_orchestrator.state import FleetMemory
from agent_orchestrator.tmux import Pane

# A freshly started pane first runs boot.py (python), then execs the agent: don't judge its
# process name until it had time to get there.
START_GRACE = 10.0


def watched(config: Config, stopped: frozenset[str]) -> list[Agent]:
    """The agents the rules look after."""
    return [a for a in config.agents if a.enabled and a.watch != "none" and a.name not in stopped]


def decide(config: Config, observed: Observed, memory: FleetMemory, now: Now) -> Decisions:
    """Return what to do about every watched agent. Pure and total."""
    tick = Tick(config, observed, now, dict(memory.agents),
                [t for t in memory.fleet_starts if now.mono - FLEET_WINDOW < t <= now.mono],
                loop=memory.loop)
    if memory.server_up and memory.agents and not observed.server_running:
        tick.event(None, "tmux-server-gone", "the tmux server is not running; "
                   "starting the watched agents again")
    # After the last phase the loop agents rest on purpose: not healed.
    resting: frozenset[str] = frozenset()
    if memory.loop.sequence_complete:
        resting = frozenset(a.name for a in looprules.loop_agents(config, frozenset()))
    for agent in watched(config, observed.stopped | resting):
        tick.agents[agent.name] = clamp(memory.agent(agent.name), now.mono,
                                        config.watchdog.restart_backoff_max)
        _one_agent(tick, agent)
    looprules.apply(tick)
    if tick.throttled and not memory.throttled:
        tick.event(None, "throttled", f"more than {config.watchdog.fleet_restart_limit} "
                   f"restarts in {FLEET_WINDOW:g}s: holding the rest back")
    new_memory = FleetMemory(tick.agents, tuple(tick.fleet_starts), tick.throttled,
                             observed.server_running, tick.loop)
    return Decisions(new_memory, tuple(tick.actions), tuple(tick.events))


def _one_agent(tick: Tick, agent: Agent) -> None:
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
        mem = tick.agents[name] = replace(mem, starts=1, active_at=now.mono,
                                          screen_changed_at=now.mono)
        tick.event(name, "adopt", f"already running (pid {pane.pid})")
    if pane is None or pane.dead:
        _heal_dead(tick, agent, pane)
        return
    if mem.restart_due_at is not None:  # a failed agent whose restart was held back
        if now.mono >= mem.restart_due_at:
            start(tick, agent, "restart", "held-back restart", restart=True)
        return
    settled = mem.started_at is None or now.mono - mem.started_at >= START_GRACE
    if settled and (other := _foreign_backend(tick.config, agent, pane.command)):
        fail(tick, agent, f"pane runs '{pane.command}', the process of backend '{other}'",
             live=True)
        return
    screenrules.apply(tick, agent, pane)


def _heal_dead(tick: Tick, agent: Agent, pane: Pane | None) -> None:
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
