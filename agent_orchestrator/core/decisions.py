"""The vocabulary of the watchdog's decisions: the time of a tick, what was observed, the
actions it asks for, and the scratchpad one decide() call writes into. Data only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo
from pathlib import Path

from agent_orchestrator.config import Config
from agent_orchestrator.doors.events import Event
from agent_orchestrator.doors.gitrelay import Ping, VerifyResult
from agent_orchestrator.doors.state import AgentMemory, FleetMemory, LoopMemory
from agent_orchestrator.doors.tmux import Pane

REASON_CHARS = 160  # of a matched screen line, kept in a reason


@dataclass(frozen=True)
class Now:
    """The time of a tick. `mono` (time.monotonic) measures every duration; `wall`
    (time.time) stamps events and places reset times; `tz` is the host's zone, for reset
    times printed without one."""

    mono: float
    wall: float
    tz: tzinfo = UTC


@dataclass(frozen=True)
class LoopSeen:
    """What the watchdog learnt about the loop this tick. `pings` and `head` are set on ticks
    that polled the handoff repo; `done_sha` (the pushed commit whose status file says DONE
    with real text) and `verify` on heavy ticks."""

    phase_index: int
    head: str | None = None
    pings: tuple[Ping, ...] = ()
    done_sha: str | None = None
    verify: VerifyResult | None = None
    done_checked: bool = False  # a heavy tick looked at the status file


@dataclass(frozen=True)
class Observed:
    """What the watchdog saw this tick. `screens` holds only the panes it captured."""

    server_running: bool
    panes: Mapping[str, Pane]
    screens: Mapping[str, str] = field(default_factory=dict)
    stopped: frozenset[str] = frozenset()  # agents the operator stopped with `agents down`
    operator_starts: Mapping[str, float] = field(default_factory=dict)  # name → epoch of `up`
    log_written: Mapping[str, float] = field(default_factory=dict)  # session → log mtime
    loop: LoopSeen | None = None


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
    submit it."""

    agent: str
    reason: str
    text: str | None = None
    file: Path | None = None


@dataclass(frozen=True)
class SetPhase:
    """Save `index` as the loop's current phase (before its agents are started on it)."""

    index: int
    reason: str
    agent: None = None


@dataclass(frozen=True)
class CompleteSequence:
    """Write `<log_dir>/SEQUENCE-COMPLETE` (once) and remove the on_complete trigger file."""

    reason: str
    agent: None = None


Action = Start | Restart | Stop | Type | SetPhase | CompleteSequence


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
