"""A fake fleet and a fake clock to replay watchdog histories through the real rules.decide(),
reload and applier."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from conftest import write_config

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Backend, Config
from agent_orchestrator.core import rules, screen
from agent_orchestrator.core.decisions import Action, Restart, Start, Type
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.memory import FleetMemory
from agent_orchestrator.core.observed import LoopSeen, Now, Observed, Pane
from agent_orchestrator.core.signals import ApiError, SignalRecord
from agent_orchestrator.doors import inbox
from agent_orchestrator.runtime import apply, configwatch, observe
from agent_orchestrator.runtime.delivery import Delivery
from agent_orchestrator.runtime.launch import LaunchPlan

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
    """Each `tick()` is one watchdog pass on a fake clock: the real `rules.decide()` on what
    the fake fleet shows, its actions carried out by the real applier (runtime/apply.py) at
    once. The Sim is the applier's door: starting, stopping and typing act on its panes."""

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
    actions: list[Action] = field(default_factory=list)
    typed: list[tuple[str, str]] = field(default_factory=list)  # (agent, text or wake file)
    signals: dict[str, SignalRecord] = field(default_factory=dict)  # agent → latest signal
    api_errors: dict[str, ApiError] = field(default_factory=dict)  # agent → transcript's
    undeliverable: bool = False  # typing fails (the text stays in the input line)
    loop: LoopSeen | None = None  # what the loop's workers found (pings: this tick only)
    _pid: int = 100

    def session(self, name: str) -> str:
        agent = self.config.agent(name)
        assert agent is not None
        return agent.session

    def run(self, name: str, command: str = "tool", screen: str = "") -> None:
        self._spawn(self.session(name), command, screen)

    def _spawn(self, session: str, command: str = "tool", screen: str = "") -> None:
        self._pid += 1
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
        observed = self._observed({})
        if light:
            observed = observe.with_screens(self.config, observed, self.memory,
                                            self.capture_many)
        decisions = rules.decide(self.config, observed, self.memory, self._now())
        self.actions += decisions.actions
        self._commit(decisions)
        return decisions

    def reload(self, new: Config) -> tuple[Action, ...]:
        """Apply an edited config the way the watchdog does (configwatch.apply_edit: the
        stops under the old config, the rest under the new one); returns its actions."""
        edit = configwatch.apply_edit(self, self.config, new, self._observed({}), self.memory,
                                      self._now(), self.events.extend)
        self.config = new
        self.actions += edit.actions
        self._commit(configwatch.rest(edit))
        return edit.actions

    def _commit(self, decisions: rules.Decisions) -> None:
        apply.apply_all(self, self.config, decisions, self.events.extend)
        self.memory = decisions.memory
        self.typed += [(a.agent, a.text or str(a.file)) for a in decisions.actions
                       if isinstance(a, Type)]

    def _now(self) -> Now:
        return Now(self.mono, self.wall, UTC)

    def _observed(self, screens: dict[str, str]) -> Observed:
        return Observed(self.server, dict(self.panes) if self.server else {}, screens,
                        frozenset(self.stopped), dict(self.operator_starts),
                        signals=dict(self.signals), api_errors=dict(self.api_errors),
                        inbox={a.name: q for a in self.config.agents
                               if (q := inbox.oldest(self.config.state_dir, a.name))},
                        loop=self.loop)

    # ---------------------------------------------------------------- the applier's door

    def start(self, config: Config, plan: LaunchPlan, swept: bool) -> None:
        self._spawn(plan.session)

    def stop(self, config: Config, session: str) -> None:
        self.panes.pop(session, None)

    def deliver(self, session: str, text: str, backend: Backend, agent: str,
                reason: str, queued: str | None = None,
                into_limit: bool = False) -> Delivery:
        shown = self.screens.get(session, "")  # what delivery.deliver refuses, refused here
        if screen.dialog_line(shown, backend.prompt_re) or \
                not into_limit and screen.limit_line(shown, backend):
            return Delivery(False, "not typed: a dialog or a limit is on screen", True)
        if self.undeliverable:
            return Delivery(False, "text still in the input line after 3 presses")
        return Delivery(True, "typed")

    def capture_many(self, sessions: list[str]) -> dict[str, str]:
        return {s: self.screens.get(s, "") for s in sessions}

    # ---------------------------------------------------------------- what happened

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
