"""Loop rules through decide(): operator phase changes, completion, appended phases."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from conftest import write_config

from agent_orchestrator import config as config_mod
from agent_orchestrator.core import rules
from agent_orchestrator.core.memory import AgentMemory, FleetMemory, LoopMemory
from agent_orchestrator.core.observed import LoopSeen, Now, Observed, Pane

LOOP = """
[[agent]]
name = "b"
kind = "loop"
role = "builder"
backend = "demo"
watch = "heal"

[[agent]]
name = "fin"
kind = "task"
backend = "demo"
enabled = false

[loop]
roles_dir = "."
on_complete = {{ run = "fin" }}
{phases}
"""
PHASE = '[[loop.phases]]\nid = "{id}"\nstatus = "S-{id}.md"\n'
NOW = Now(5000.0, 1.8e9)


def load(tmp_path: Path, ids: list[str]) -> config_mod.Config:
    (tmp_path / "builder.md").write_text("build")
    body = LOOP.format(phases="".join(PHASE.format(id=i) for i in ids))
    return config_mod.load(write_config(tmp_path, body))


def alive() -> dict[str, Pane]:
    return {"t-b": Pane("t-b", "%1", 9, "python", False, None, 0.0, "@1")}


def run(config: config_mod.Config, memory: FleetMemory, seen: LoopSeen) -> rules.Decisions:
    return rules.decide(config, Observed(True, alive(), loop=seen), memory, NOW)


def summary(decisions: rules.Decisions) -> list[tuple[str, object]]:
    return [(type(a).__name__, getattr(a, "agent", None) or getattr(a, "index", None))
            for a in decisions.actions]


def test_operator_phase_change_restarts_the_loop_agents(tmp_path: Path) -> None:
    config = load(tmp_path, ["one", "two", "three"])
    memory = FleetMemory({"b": AgentMemory(starts=1)}, loop=LoopMemory(phase=0))
    decisions = run(config, memory, LoopSeen(phase_index=2))
    assert summary(decisions) == [("Unqueue", "b"), ("Restart", "b")]
    assert decisions.memory.loop.phase == 2
    assert [e.event for e in decisions.events] == ["phase-changed", "restart"]


def test_last_phase_done_completes_once_then_an_appended_phase_resumes(tmp_path: Path) -> None:
    config = load(tmp_path, ["one"])
    memory = FleetMemory({"b": AgentMemory(starts=1)}, loop=LoopMemory(phase=0))
    done = run(config, memory, LoopSeen(0, head="abc", done_sha="abc", done_checked=True))
    assert summary(done) == [("CompleteSequence", None), ("Stop", "b"), ("Restart", "fin")]
    assert done.memory.loop.sequence_complete
    again = run(config, done.memory, LoopSeen(0, head="abc", done_sha="abc",
                                              done_checked=True))
    assert again.actions == ()  # completed once; the resting builder is not healed
    more = load(tmp_path, ["one", "two"])
    resumed = run(more, again.memory, LoopSeen(0))
    assert summary(resumed) == [("SetPhase", 1), ("Unqueue", "b"), ("Restart", "b")]
    assert not resumed.memory.loop.sequence_complete
    assert "phase-resumed" in [e.event for e in resumed.events]


def test_done_needs_auto_advance(tmp_path: Path) -> None:
    config = load(tmp_path, ["one", "two"])
    config = replace(config, loop=replace(config.loop, auto_advance=False))
    memory = FleetMemory({"b": AgentMemory(starts=1)}, loop=LoopMemory(phase=0))
    decisions = run(config, memory, LoopSeen(0, head="abc", done_sha="abc",
                                             done_checked=True))
    assert decisions.actions == () and decisions.memory.loop.done_note == "DONE"


def test_corrupt_phase_file_is_reported_once_per_content_and_moves_nothing(
        tmp_path: Path) -> None:
    """The observed index is then the phase the watchdog last knew (doors/markers.read_phase);
    no phase change, advance or resume happens on it, pings still go."""
    config = load(tmp_path, ["one", "two", "three"])
    memory = FleetMemory({"b": AgentMemory(starts=1)}, loop=LoopMemory(phase=1))
    problem = "phase index file holds 'x', expected a whole number >= 0"
    seen = LoopSeen(1, phase_problem=problem, head="abc", done_sha="abc", done_checked=True)
    first = run(config, memory, seen)
    assert first.actions == ()
    [event] = first.events
    assert event.event == "phase-file-corrupt" and event.reason.startswith(problem)
    assert "stays on phase 2/3 two" in event.reason
    assert first.memory.loop == replace(memory.loop, phase_problem=problem, seen_sha="abc")
    again = run(config, first.memory, seen)
    assert again.actions == () and again.events == ()  # the same content: told once
    other = run(config, again.memory, replace(seen, phase_problem="holds ''"))
    assert [e.event for e in other.events] == ["phase-file-corrupt"] and other.actions == ()
    done = replace(first.memory, loop=replace(first.memory.loop, sequence_complete=True))
    more = run(load(tmp_path, ["one", "two", "three", "four"]), done,
               LoopSeen(2, phase_problem=problem))
    assert more.actions == ()  # no resume on an appended phase either


def test_a_corrupt_phase_file_does_not_become_the_known_phase_unless_none_was(
        tmp_path: Path) -> None:
    config = load(tmp_path, ["one", "two"])
    fresh = run(config, FleetMemory({"b": AgentMemory(starts=1)}),
                LoopSeen(0, phase_problem="holds 'x'"))
    assert fresh.memory.loop.phase == 0  # what `agents up` started the loops on
    assert fresh.actions == ()


def test_a_fixed_phase_file_is_reported_and_then_acts(tmp_path: Path) -> None:
    config = load(tmp_path, ["one", "two", "three"])
    memory = FleetMemory({"b": AgentMemory(starts=1)},
                         loop=LoopMemory(phase=0, phase_problem="holds 'x'"))
    same = run(config, memory, LoopSeen(0))
    assert [e.event for e in same.events] == ["phase-file-recovered"] and same.actions == ()
    assert same.memory.loop.phase_problem is None
    moved = run(config, memory, LoopSeen(2))  # `agents phase set 2` rewrote it
    assert [e.event for e in moved.events] == ["phase-file-recovered", "phase-changed",
                                               "restart"]
    assert summary(moved) == [("Unqueue", "b"), ("Restart", "b")]
    assert moved.memory.loop.phase == 2


def completed(tmp_path: Path, ids: list[str]) -> tuple[config_mod.Config, FleetMemory]:
    """A loop of `ids` whose last phase was done: the sequence is complete."""
    config = load(tmp_path, ids)
    last = len(ids) - 1
    memory = FleetMemory({"b": AgentMemory(starts=1)}, loop=LoopMemory(phase=last))
    done = run(config, memory, LoopSeen(last, head="abc", done_sha="abc", done_checked=True))
    assert done.memory.loop.sequence_complete
    return config, done.memory


def test_phase_set_after_completion_runs_that_phase(tmp_path: Path) -> None:
    """`agents phase set 1` (index 0) after the end runs phase 1 — not phase 2 as if a phase
    had been appended — SEQUENCE-COMPLETE goes, and the on_complete agent is not started a
    second time."""
    config, memory = completed(tmp_path, ["one", "two", "three"])
    moved = run(config, memory, LoopSeen(0))
    assert summary(moved) == [("SetPhase", 0), ("Unqueue", "b"), ("Restart", "b")]
    assert next(a for a in moved.actions if type(a).__name__ == "SetPhase").reopen
    assert moved.memory.loop.phase == 0 and not moved.memory.loop.sequence_complete
    assert [e.event for e in moved.events] == ["phase-changed", "restart"]
    assert "phase set to 1/3 one" in moved.events[0].reason
    assert run(config, moved.memory, LoopSeen(0)).actions == ()  # and it stays there


def test_phase_set_of_the_phase_it_completed_on_runs_it_again(tmp_path: Path) -> None:
    """`agents phase set 3` after the sequence completed on phase 3: the phase file names
    it already, so only the request file (`rerun`) says so; without it nothing moves."""
    config, memory = completed(tmp_path, ["one", "two", "three"])
    assert run(config, memory, LoopSeen(2)).actions == ()  # the file alone: no request
    moved = run(config, memory, LoopSeen(2, rerun=True))
    assert summary(moved) == [("SetPhase", 2), ("Unqueue", "b"), ("Restart", "b")]
    assert next(a for a in moved.actions if type(a).__name__ == "SetPhase").reopen
    assert not moved.memory.loop.sequence_complete
    assert "phase set to 3/3 three" in moved.events[0].reason
    # a request left behind while the sequence runs is no move (apply removes it on reopen)
    assert run(config, moved.memory, LoopSeen(2, rerun=True)).actions == ()


def test_a_phase_removed_after_completion_is_no_request_to_run_again(tmp_path: Path) -> None:
    """Completed on the third phase, then the config drops it: the phase file's index reads
    as the (new) last phase; the loops keep resting, nothing is reopened."""
    _, memory = completed(tmp_path, ["one", "two", "three"])
    fewer = load(tmp_path, ["one", "two"])
    after = run(fewer, memory, LoopSeen(1))
    assert after.actions == () and after.memory.loop.sequence_complete


def test_loop_started_is_the_first_running_loop_session(tmp_path: Path) -> None:
    from agent_orchestrator.core.looprules import loop_started

    config = load(tmp_path, ["one"])
    pane = alive()["t-b"]
    assert loop_started(config, {}) is None  # no loop agent runs: the first poll baselines
    assert loop_started(config, {"t-b": replace(pane, created=0.0)}) is None  # unknown
    assert loop_started(config, {"t-b": replace(pane, created=1.7e9)}) == 1.7e9
    # a task agent's session is not the loop's start
    assert loop_started(config, {"t-fin": replace(pane, session="t-fin", created=1.6e9),
                                 "t-b": replace(pane, created=1.7e9)}) == 1.7e9
