"""The watchdog's decisions as a pure function: `decide(config, observed, memory, now)`.

No I/O, no clock, no tmux: everything the rules need arrives as arguments, and what they
want done comes back as data (actions to apply, events to record, the new memory). Every
rule of SPEC §4 is a branch here, tested table-style in tests/test_rules.py.

Implemented so far: heal (SPEC §4) for `watch = "heal"` and `"heal+stall"` agents:
- session gone (or the tmux server gone) → start it;
- its program exited (pane kept dead by remain-on-exit) → restart, exit status recorded;
- the pane runs ANOTHER declared backend's process → restart;
- `fatal_re` on screen → restart.
Agents that are disabled, `watch = "none"`, or stopped by the operator are never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from agent_orchestrator.config import Agent, Config
from agent_orchestrator.events import Event
from agent_orchestrator.state import AgentMemory, FleetMemory
from agent_orchestrator.tmux import Pane

# A freshly started pane first runs boot.py (python), then execs the agent: don't judge its
# process name until it had time to get there.
START_GRACE = 10.0
SCREEN_LINES_FOR_REASON = 120  # characters of a matched screen line kept in a reason


@dataclass(frozen=True)
class Observed:
    """What the watchdog saw this tick. `screens` holds only the panes it chose to capture."""

    server_running: bool
    panes: Mapping[str, Pane]
    screens: Mapping[str, str] = field(default_factory=dict)
    stopped: frozenset[str] = frozenset()  # agents the operator stopped with `agents down`


@dataclass(frozen=True)
class Start:
    """Start the agent's session (it does not exist)."""

    agent: str
    reason: str


@dataclass(frozen=True)
class Restart:
    """Kill the agent's session and its processes, then start it again."""

    agent: str
    reason: str


Action = Start | Restart


@dataclass(frozen=True)
class Decisions:
    memory: FleetMemory
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()


def healable(config: Config, observed_stopped: Iterable[str]) -> list[Agent]:
    """The agents the heal rule looks after."""
    stopped = set(observed_stopped)
    return [a for a in config.agents
            if a.enabled and a.watch != "none" and a.name not in stopped]


def screens_wanted(config: Config, observed: Observed) -> list[str]:
    """Sessions whose screen the rules need this tick: live panes with a `fatal_re`."""
    wanted = []
    for agent in healable(config, observed.stopped):
        pane = observed.panes.get(agent.session)
        if pane and not pane.dead and config.backend(agent.backend).fatal_re is not None:
            wanted.append(agent.session)
    return wanted


def decide(config: Config, observed: Observed, memory: FleetMemory, now: float) -> Decisions:
    """Return what to do about every watched agent. Pure and total."""
    agents = dict(memory.agents)
    actions: list[Action] = []
    events: list[Event] = []
    for agent in healable(config, observed.stopped):
        mem = memory.agent(agent.name)
        pane = observed.panes.get(agent.session) if observed.server_running else None
        if pane is not None and not pane.dead and agent.name not in memory.agents:
            # Running before we knew it (started by `up`, or a watchdog restart): adopt it.
            agents[agent.name] = AgentMemory(starts=1, last_event="adopt", last_event_at=now)
            events.append(Event(now, agent.name, "adopt", f"already running (pid {pane.pid})"))
            continue
        verdict = _heal(config, agent, pane, observed.screens.get(agent.session), mem, now)
        if verdict is None:
            continue
        action, reason = verdict
        kind = "start" if mem.starts == 0 else "restart"
        agents[agent.name] = replace(
            mem, started_at=now, starts=mem.starts + 1,
            restarts=mem.restarts + (kind == "restart"),
            last_exit=pane.exit_status if pane is not None and pane.dead else mem.last_exit,
            last_event=kind, last_event_at=now)
        actions.append(action(agent.name, reason))
        events.append(Event(now, agent.name, kind, reason))
    return Decisions(FleetMemory(agents), tuple(actions), tuple(events))


def _heal(config: Config, agent: Agent, pane: Pane | None, screen: str | None,
          mem: AgentMemory, now: float) -> tuple[type[Start] | type[Restart], str] | None:
    """The heal verdict for one agent: which action and why, or None when it is fine."""
    if mem.started_at is not None and now - mem.started_at < config.watchdog.restart_backoff:
        return None  # just (re)started: give it a moment before judging again
    if pane is None:
        return Start, "session gone"
    if pane.dead:
        status = "unknown status" if pane.exit_status is None else f"status {pane.exit_status}"
        return Restart, f"exited with {status}"
    settled = mem.started_at is None or now - mem.started_at >= START_GRACE
    if settled and (other := _foreign_backend(config, agent, pane.command)):
        return Restart, f"pane runs '{pane.command}', the process of backend '{other}'"
    fatal = config.backend(agent.backend).fatal_re
    if screen and fatal is not None and (match := fatal.search(screen)):
        return Restart, f"fatal: {_line_of(screen, match.start())}"
    return None


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
        if backend.name != own.name and backend.name in used and runs(command,
                                                                        backend.process_name):
            return backend.name
    return None


def _line_of(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    line = text[start:end if end != -1 else len(text)].strip()
    return line[:SCREEN_LINES_FOR_REASON]
