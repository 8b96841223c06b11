"""core/tasks.py, table-driven: the agent a task run is, when its run is over, what the
watchdog forgets and stops. No tmux, no clock."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import write_config

from agent_orchestrator import config as config_mod
from agent_orchestrator.core import tasks
from agent_orchestrator.core.memory import AgentMemory, FleetMemory
from agent_orchestrator.core.observed import Observed, Pane
from agent_orchestrator.core.signals import Signal, SignalRecord

FLEET = """
[tasks]
backend = "tool"

[backend.tool]
bin = "tool"
process_name = "tool"

[[agent]]
name = "builder"
backend = "tool"
watch = "heal"
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> config_mod.Config:
    """The fleet, plus an agent named like a task's: the config refuses such a name
    (test_a_task_agents_name_is_refused_in_the_config), so it is made here, to show
    `with_tasks` would never shadow one anyway."""
    loaded = config_mod.load(write_config(tmp_path_factory.mktemp("tasks"), FLEET))
    taken = dataclasses.replace(loaded.agents[0], name="task-taken", session="t-task-taken",
                                watch="none")
    return dataclasses.replace(loaded, agents=(*loaded.agents, taken))


def test_a_task_agents_name_is_refused_in_the_config(tmp_path: Path) -> None:
    with pytest.raises(config_mod.ConfigError, match="agent.task-taken: names starting "
                       "with 'task-' are kept for queued tasks"):
        config_mod.load(write_config(tmp_path, FLEET + '[[agent]]\nname = "task-taken"\n'
                                     'backend = "tool"\n'))


def run(name: str = "fix") -> tasks.TaskRun:
    return tasks.TaskRun(name, "fix the bug", "tool", "m1", Path("/wt") / name)


def pane(dead: bool = False, status: int | None = None, signal: int | None = None,
         session: str = "t-task-fix") -> Pane:
    return Pane(session, "%1", 42, "tool", dead, status, 0.0, "@1", exit_signal=signal)


def record(turns: int, error: str | None = None) -> SignalRecord:
    return SignalRecord(Signal("claude", "Stop", "idle", True, error=error), 1.0, turns)


def test_a_run_is_a_supervised_task_agent(config: config_mod.Config) -> None:
    agent = tasks.task_agent(config, run())
    assert (agent.name, agent.session, agent.kind, agent.watch) == \
        ("task-fix", "t-task-fix", "task", "heal")
    assert (agent.prompt, agent.model, agent.dir, agent.backend) == \
        ("fix the bug", "m1", Path("/wt/fix"), "tool")
    merged = tasks.with_tasks(config, [run(), run("other")])
    assert [a.name for a in merged.agents] == ["builder", "task-taken", "task-fix",
                                              "task-other"]


def test_a_declared_agent_is_never_shadowed(config: config_mod.Config) -> None:
    merged = tasks.with_tasks(config, [run("taken")])
    assert [a.name for a in merged.agents] == ["builder", "task-taken"]
    assert merged.agent("task-taken").kind == "persistent"  # type: ignore[union-attr]
    assert tasks.with_tasks(config, []) is config


class Case(NamedTuple):
    pane: Pane | None
    record: SignalRecord | None
    memory: AgentMemory
    ended: tuple[bool, str] | None


STARTED = AgentMemory(starts=1)
CASES = {
    "exit 0 finishes": Case(pane(dead=True, status=0), None, STARTED,
                            (True, "its agent exited 0")),
    "exit 0 before the watchdog's first look": Case(pane(dead=True, status=0), None,
                                                    AgentMemory(), (True, "its agent exited 0")),
    "exit 3 fails": Case(pane(dead=True, status=3), None, STARTED,
                         (False, "its agent exited with status 3")),
    "a signal kill fails": Case(pane(dead=True, signal=9), None, STARTED,
                                (False, "killed by signal 9")),
    "unknown status fails": Case(pane(dead=True), None, STARTED,
                                 (False, "its agent exited with status unknown")),
    "working: not over": Case(pane(), None, STARTED, None),
    "turn finished (hook)": Case(pane(), record(1), STARTED,
                                 (True, "its turn finished (claude Stop)")),
    "no turn yet": Case(pane(), record(0), STARTED, None),
    "turn of a run not started by us yet": Case(pane(), record(1), AgentMemory(), None),
    "limited: held, not finished": Case(pane(), record(1), AgentMemory(starts=1,
                                                                       state="limited"), None),
    "turn ended on an API error": Case(pane(), record(1, error="overloaded"), STARTED, None),
    "at a dialog: reported, not over": Case(pane(), None, AgentMemory(starts=1,
                                                                      state="dialog"), None),
    "session gone: healed, not over": Case(None, record(1), STARTED, None),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_when_a_run_is_over(config: config_mod.Config, case: Case) -> None:
    observed = Observed(True, {"t-task-fix": case.pane} if case.pane else {},
                        signals={"task-fix": case.record} if case.record else {})
    memory = FleetMemory({"task-fix": case.memory})
    found = tasks.ended(config, [run()], observed, memory)
    assert [(e.ok, e.reason) for e in found] == ([case.ended] if case.ended else [])
    assert all(e.task == "fix" for e in found)


def test_no_server_means_no_verdict(config: config_mod.Config) -> None:
    observed = Observed(False, {"t-task-fix": pane(dead=True, status=0)})
    assert tasks.ended(config, [run()], observed, FleetMemory()) == []


def test_forget_drops_task_agents_no_longer_running() -> None:
    memory = FleetMemory({"builder": STARTED, "task-fix": STARTED, "task-old": STARTED})
    assert set(tasks.forget(memory, ["fix"]).agents) == {"builder", "task-fix"}
    kept = FleetMemory({"builder": STARTED, "task-fix": STARTED})
    assert tasks.forget(kept, ["fix"]) is kept


def test_stray_task_sessions_are_named(config: config_mod.Config) -> None:
    panes = {s: pane(session=s) for s in ("t-builder", "t-task-fix", "t-task-gone",
                                          "t-task-taken", "x-task-other")}
    assert tasks.stray_sessions(config, Observed(True, panes), ["fix"]) == ["t-task-gone"]


def test_a_dialog_is_reported_once() -> None:
    before = FleetMemory({"task-fix": STARTED})
    at = FleetMemory({"task-fix": AgentMemory(starts=1, state="dialog")})
    assert tasks.dialogs(before, at, [run()]) == ["fix"]
    assert tasks.dialogs(at, at, [run()]) == []
