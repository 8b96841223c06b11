"""The vocabulary of the watchdog's decisions: the time of a tick, what was observed, the
actions it asks for, and the scratchpad one decide() call writes into. Data only."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from agent_orchestrator.config import Config
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.memory import AgentMemory, FleetMemory, LoopMemory
from agent_orchestrator.core.observed import Now, Observed

REASON_CHARS = 160  # of a matched screen line, kept in a reason


@dataclass(frozen=True)
class Start:
    """Start the agent's session (it does not exist, or holds a dead pane)."""

    agent: str
    reason: str


@dataclass(frozen=True)
class Restart:
    """Kill the agent's session and its processes, then start it again."""

    agent: str
    reason: str


@dataclass(frozen=True)
class Stop:
    """Kill the agent's session and its processes; `session` when it is not the one the
    current config gives the agent (a reload renamed or removed it)."""

    agent: str
    reason: str
    session: str | None = None


@dataclass(frozen=True)
class Type:
    """Type `text` (or the content of `file`, whitespace collapsed) into the agent and
    submit it; `queued`: the id of the queued text it is (removed once delivered). Not typed
    while a dialog or, unless `into_limit` (the resume nudge), a limit banner is on screen:
    a text that is not queued yet then goes to the agent's inbox to wait."""

    agent: str
    reason: str
    text: str | None = None
    file: Path | None = None
    queued: str | None = None
    into_limit: bool = False


@dataclass(frozen=True)
class Queue:
    """Put `text` in the agent's inbox (doors/inbox.py): typed at its next idle look (never
    while it works, is limited or at a dialog), kept across watchdog restarts until it was
    seen to land."""

    agent: str
    reason: str
    text: str


@dataclass(frozen=True)
class Unqueue:
    """Drop what the watchdog queued in the agent's inbox for these `reasons` (a phase
    change makes the pings and gate failures of the phase before it stale); an operator's
    texts stay."""

    agent: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class SetPhase:
    """Save `index` as the loop's current phase (before its agents are started on it);
    `reopen`: the sequence runs again, so `<log_dir>/SEQUENCE-COMPLETE` is removed."""

    index: int
    reason: str
    agent: None = None
    reopen: bool = False


@dataclass(frozen=True)
class CompleteSequence:
    """Write `<log_dir>/SEQUENCE-COMPLETE` (once) and remove the on_complete trigger file."""

    reason: str
    agent: None = None


Action = Start | Restart | Stop | Type | Queue | Unqueue | SetPhase | CompleteSequence


@dataclass(frozen=True)
class Decisions:
    memory: FleetMemory
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()


@dataclass
class Tick:
    """The mutable scratchpad of one decide() call; its inputs are never mutated."""

    config: Config
    observed: Observed
    now: Now
    agents: dict[str, AgentMemory]
    fleet_starts: list[float]
    loop: LoopMemory = field(default_factory=LoopMemory)
    actions: list[Action] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    throttled: bool = False

    def event(self, agent: str | None, kind: str, reason: str) -> None:
        self.events.append(Event(self.now.wall, agent, kind, reason))
        if agent is not None and agent in self.agents:
            self.agents[agent] = replace(self.agents[agent], last_event=kind,
                                         last_event_wall=self.now.wall)


def short(line: str) -> str:
    """A screen line cut to a length that fits an event's reason."""
    line = line.strip()
    return line if len(line) <= REASON_CHARS else line[:REASON_CHARS - 1] + "…"
