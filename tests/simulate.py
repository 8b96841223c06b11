"""A fake fleet and a fake clock to replay watchdog histories through rules.decide()."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from conftest import write_config

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Config
from agent_orchestrator.core import rules, screenrules
from agent_orchestrator.core.decisions import Restart, Start, Stop, Type
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.memory import FleetMemory
from agent_orchestrator.core.observed import Now, Observed, Pane

WALL0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC

# Restart settings small enough to replay in a few fake minutes, and a `tool` backend.
WATCHDOG = """
[watchdog]
restart_backoff = 1
restart_backoff_max = 8
crash_window = 600
crash_limit = 5
restart_stable = 60
fleet_restart_limit = 10

[backend.tool]
bin = "tool"
"""


def tool_fleet(tmp_path: Path, names: list[str], watchdog: str = WATCHDOG,
               **entries: str) -> Config:
    """A fleet of watched `tool` agents; `entries` adds lines to the named agents' tables."""
    agents = "".join(f'\n[[agent]]\nname = "{n}"\nbackend = "tool"\nwatch = "heal"\n'
                     f'{entries.get(n, "")}' for n in names)
    return config_mod.load(write_config(tmp_path, watchdog + agents))


@dataclass
class Sim:
    """Each `tick()` is one watchdog pass; actions are applied to the fake fleet at once."""

    config: Config
    mono: float = 1_000.0
    wall: float = WALL0
    memory: FleetMemory = field(default_factory=FleetMemory)
    panes: dict[str, Pane] = field(default_factory=dict)
    screens: dict[str, str] = field(default_factory=dict)
    stopped: set[str] = field(default_factory=set)
    operator_starts: dict[str, float] = field(default_factory=dict)
    server: bool = True
    events: list[Event] = field(default_factory=list)
    actions: list[object] = field(default_factory=list)
    typed: list[tuple[str, str]] = field(default_factory=list)
    _pid: int = 100

    def session(self, name: str) -> str:
        agent = self.config.agent(name)
        assert agent is not None
        return agent.session

    def run(self, name: str, command: str = "tool", screen: str = "") -> None:
        self._pid += 1
        session = self.session(name)
        self.panes[session] = Pane(session, f"%{self._pid}", self._pid, command, False, None,
                                   self.wall, "@1")
        self.screens[session] = screen

    def show(self, name: str, screen: str) -> None:
        """The agent prints: its screen becomes `screen` and tmux notes activity."""
        session = self.session(name)
        self.screens[session] = screen
        old = self.panes[session]
        self.panes[session] = Pane(old.session, old.pane_id, old.pid, old.command, False, None,
                                   self.wall, old.window_id)

    def exit(self, name: str, status: int = 1) -> None:
        old = self.panes[self.session(name)]
        self.panes[old.session] = Pane(old.session, old.pane_id, old.pid, old.command, True,
                                       status, old.activity, old.window_id)

    def kill(self, name: str) -> None:
        self.panes.pop(self.session(name), None)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds

    def tick(self, light: bool = True) -> rules.Decisions:
        screens = {}
        if light:
            wanted = screenrules.screens_wanted(
                self.config, self._observed({}), self.memory,
                rules.watched(self.config, frozenset(self.stopped)))
            screens = {s: self.screens.get(s, "") for s in wanted}
        decisions = rules.decide(self.config, self._observed(screens), self.memory,
                                 Now(self.mono, self.wall, UTC))
        self.memory = decisions.memory
        self.events += decisions.events
        for action in decisions.actions:
            self.actions.append(action)
            self._apply(action)
        return decisions

    def _observed(self, screens: dict[str, str]) -> Observed:
        return Observed(self.server, dict(self.panes) if self.server else {}, screens,
                        frozenset(self.stopped), dict(self.operator_starts))

    def _apply(self, action: object) -> None:
        if isinstance(action, Stop | Restart):
            self.kill(action.agent)
        if isinstance(action, Start | Restart):
            self.run(action.agent)
        if isinstance(action, Type):
            self.typed.append((action.agent, action.text or str(action.file)))

    def kinds(self, agent: str | None = None) -> list[str]:
        return [e.event for e in self.events if agent is None or e.agent == agent]

    def starts(self, agent: str) -> int:
        return sum(isinstance(a, Start | Restart) and a.agent == agent for a in self.actions)


def run_for(sim: Sim, seconds: float, step: float, each: Iterable[str] = ()) -> None:
    """Tick every `step` seconds for `seconds`; after each tick, the agents in `each` that
    are running exit at once (an agent that crashes immediately)."""
    end = sim.mono + seconds
    while sim.mono < end:
        sim.tick()
        for name in each:
            pane = sim.panes.get(sim.session(name))
            if pane is not None and not pane.dead:
                sim.exit(name)
        sim.advance(step)
