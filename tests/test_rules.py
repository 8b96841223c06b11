"""decide() table tests: the heal rule, with no tmux and no sleeping."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import write_config

from agent_orchestrator import config as config_mod
from agent_orchestrator.core import rules
from agent_orchestrator.core.memory import AgentMemory, FleetMemory
from agent_orchestrator.core.observed import Now, Pane

MONO = 10_000.0
WALL = 1_800_000_000.0
NOW = Now(MONO, WALL)

FLEET = """
[backend.tool]
bin = "tool"
process_name = "tool"
fatal_re = "API Error: 401"

[backend.other]
bin = "other"
process_name = "node"

[[agent]]
name = "a"
backend = "tool"
watch = "heal"

[[agent]]
name = "b"
backend = "other"
watch = "none"

[[agent]]
name = "off"
backend = "tool"
watch = "heal"
enabled = false

[[agent]]
name = "s"
backend = "tool"
watch = "heal+stall"
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> config_mod.Config:
    folder: Path = tmp_path_factory.mktemp("rules")
    config = config_mod.load(write_config(folder, FLEET))
    # The stall rule is tested in test_screenrules.py: keep it out of these cases.
    tool = replace(config.backend("tool"), stall_idle=10**6)
    backends = tuple(tool if b.name == "tool" else b for b in config.backends)
    return replace(config, backends=backends)


def pane(session: str, command: str = "tool", dead: bool = False,
         status: int | None = None) -> Pane:
    return Pane(session=session, pane_id="%1", pid=4242, command=command, dead=dead,
                exit_status=status, activity=WALL - 5, window_id="@1")


# Agents whose running pane (pid 4242) the watchdog knows.
KNOWN = AgentMemory(started_at=MONO - 600, starts=1, active_at=MONO - 1, pane_pid=4242)
FRESH = AgentMemory(started_at=MONO - 5, starts=1, active_at=MONO - 1, pane_pid=4242)


class Case(NamedTuple):
    panes: dict[str, Pane]
    memory: dict[str, AgentMemory]
    expect: list[tuple[str, str, str]]  # (action type, agent, reason fragment)
    events: list[tuple[str | None, str]]  # (agent, event)
    server_running: bool = True
    screens: dict[str, str] = {}
    stopped: frozenset[str] = frozenset()
    operator_starts: dict[str, float] = {}


ALL_UP = {"t-a": pane("t-a"), "t-s": pane("t-s"), "t-b": pane("t-b", "node")}
MEM_UP = {"a": KNOWN, "s": KNOWN}

CASES = {
    "all-healthy-nothing-to-do": Case(ALL_UP, MEM_UP, [], []),
    "never-started-agent-is-started": Case(
        {"t-s": pane("t-s")}, {"s": KNOWN}, [("Start", "a", "not running")], [("a", "start")]),
    "known-agent-gone-restarts-at-once": Case(
        {"t-s": pane("t-s")}, MEM_UP, [("Start", "a", "session gone")], [("a", "restart")]),
    "server-gone-is-reported-and-agents-started": Case(
        {}, MEM_UP, [("Start", "a", "session gone"), ("Start", "s", "session gone")],
        [(None, "tmux-server-gone"), ("a", "restart"), ("s", "restart")],
        server_running=False),
    "dead-pane-restarts-with-exit-status": Case(
        {**ALL_UP, "t-a": pane("t-a", dead=True, status=3)}, MEM_UP,
        [("Restart", "a", "exited with status 3")], [("a", "restart")]),
    "foreign-backend-process-restarts": Case(
        {**ALL_UP, "t-a": pane("t-a", command="node")}, MEM_UP,
        [("Restart", "a", "pane runs 'node', the process of backend 'other'")],
        [("a", "restart")]),
    "versioned-own-process-is-fine": Case(
        {**ALL_UP, "t-a": pane("t-a", command="tool3.11")}, MEM_UP, [], []),
    "unrelated-process-is-not-a-mismatch": Case(
        {**ALL_UP, "t-a": pane("t-a", command="bash")}, MEM_UP, [], []),
    "mismatch-ignored-during-start-grace": Case(
        {**ALL_UP, "t-a": pane("t-a", command="node")}, {"a": FRESH, "s": KNOWN}, [], []),
    "fatal-screen-restarts-with-the-line": Case(
        ALL_UP, MEM_UP, [("Restart", "a", "fatal: ⎿  API Error: 401 bad key")],
        [("a", "restart")], screens={"t-a": "work\n  ⎿  API Error: 401 bad key  \n❯"}),
    "fatal-text-on-unwatched-agent-ignored": Case(
        ALL_UP, MEM_UP, [], [], screens={"t-b": "API Error: 401"}),
    "watch-none-never-started": Case(
        {"t-a": pane("t-a"), "t-s": pane("t-s")}, MEM_UP, [], []),
    "disabled-never-started": Case(ALL_UP, MEM_UP, [], []),
    "operator-stopped-not-healed": Case(
        {"t-s": pane("t-s")}, MEM_UP, [], [], stopped=frozenset({"a"})),
    "died-after-up-before-first-look-is-a-restart": Case(
        {"t-s": pane("t-s")}, {"s": KNOWN}, [("Start", "a", "session gone")],
        [("a", "restart")], operator_starts={"a": WALL - 1}),
    "running-unknown-agent-is-adopted-not-restarted": Case(
        ALL_UP, {}, [], [("a", "adopt"), ("s", "adopt")]),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_heal(config: config_mod.Config, case: Case) -> None:
    observed = rules.Observed(case.server_running, case.panes, case.screens, case.stopped,
                              case.operator_starts)
    decisions = rules.decide(config, observed, FleetMemory(case.memory), NOW)
    got = [(type(a).__name__, a.agent, a.reason) for a in decisions.actions]
    assert got == case.expect
    assert [(e.agent, e.event) for e in decisions.events] == case.events
    for event in decisions.events:
        assert event.reason and event.time == WALL


def test_restart_updates_memory(config: config_mod.Config) -> None:
    observed = rules.Observed(True, {"t-a": pane("t-a", dead=True, status=7),
                                     "t-s": pane("t-s")})
    memory = FleetMemory({"a": KNOWN, "s": KNOWN})
    decisions = rules.decide(config, observed, memory, NOW)
    mem = decisions.memory.agent("a")
    assert (mem.started_at, mem.starts, mem.restarts, mem.last_exit) == (MONO, 2, 1, 7)
    assert mem.last_event == "restart" and mem.deaths == (MONO,)
    assert decisions.memory.agent("s") == KNOWN
    assert memory.agent("a") == KNOWN  # the input is not mutated


def test_restarts_are_recorded_for_an_hour(config: config_mod.Config) -> None:
    """Each restart is stamped (wall clock) and kept an hour, whatever clears the deaths."""
    observed = rules.Observed(True, {"t-a": pane("t-a", dead=True, status=7),
                                     "t-s": pane("t-s")})
    known = replace(KNOWN, restarts=2, restart_walls=(WALL - 4000, WALL - 100), deaths=())
    mem = rules.decide(config, observed, FleetMemory({"a": known, "s": KNOWN}),
                       NOW).memory.agent("a")
    assert mem.restart_walls == (WALL - 100, WALL) and mem.restarts == 3


def test_decide_is_pure(config: config_mod.Config) -> None:
    observed = rules.Observed(True, {"t-s": pane("t-s")})
    memory = FleetMemory({"a": KNOWN, "s": KNOWN})
    first = rules.decide(config, observed, memory, NOW)
    assert rules.decide(config, observed, memory, NOW) == first


@pytest.mark.parametrize(("command", "name", "expected"), [
    ("python3.11", "python", True), ("python", "python", True), ("pythonista", "python", False),
    ("node", "node", True), ("bash", "node", False), ("node", None, False),
])
def test_runs(command: str, name: str | None, expected: bool) -> None:
    assert rules.runs(command, name) is expected
