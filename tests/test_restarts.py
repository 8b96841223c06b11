"""Crash loops, back-off and the fleet cap, replayed through decide() with a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_config
from simulate import Sim, run_for

from agent_orchestrator import config as config_mod
from agent_orchestrator.decisions import Restart, Start
from agent_orchestrator.restarts import backoff

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


def fleet(tmp_path: Path, names: list[str], extra: str = "") -> config_mod.Config:
    agents = "".join(f'\n[[agent]]\nname = "{n}"\nbackend = "tool"\nwatch = "heal"\n'
                     for n in names)
    return config_mod.load(write_config(tmp_path, WATCHDOG + extra + agents))


@pytest.mark.parametrize(("failures", "delay"), [
    (1, 0), (2, 1), (3, 2), (4, 4), (5, 8), (6, 8), (40, 8)])
def test_backoff_series(failures: int, delay: float) -> None:
    assert backoff(failures, base=1, cap=8) == delay


def test_immediate_exit_becomes_crash_looping(tmp_path: Path) -> None:
    """T15: the restarts follow the back-off series, then stop for good after N failures."""
    sim = Sim(fleet(tmp_path, ["x"]))
    run_for(sim, seconds=600, step=0.25, each=["x"])
    assert sim.kinds("x") == ["start", "restart", "backoff", "restart", "backoff", "restart",
                              "backoff", "restart", "crash-loop"]
    backoffs = [e.reason for e in sim.events if e.event == "backoff"]
    assert [r.split("restarting in ")[1].split("s ")[0] for r in backoffs] == ["1", "2", "4"]
    assert sim.starts("x") == 5  # the first start and 4 restarts, then nothing for minutes
    assert sim.memory.agent("x").crash_looping_wall is not None


def test_crash_after_grace_is_still_a_loop(tmp_path: Path) -> None:
    """T16: an agent that dies 90 s after every start is caught by the sliding window."""
    sim = Sim(fleet(tmp_path, ["x"]))
    for _ in range(8):
        sim.tick()
        sim.advance(90)
        if sim.session("x") in sim.panes and not sim.panes[sim.session("x")].dead:
            sim.exit("x")
    assert sim.kinds("x").count("crash-loop") == 1
    # Each run was stable, so no back-off grew: every restart was immediate.
    assert "backoff" not in sim.kinds("x")


def test_backoff_resets_after_a_stable_run(tmp_path: Path) -> None:
    """T17: two quick crashes grow the back-off; a long run resets it."""
    sim = Sim(fleet(tmp_path, ["x"]))
    sim.tick()  # started
    for _ in range(2):  # two quick deaths: restart at once, then back off 1 s
        sim.advance(1)
        sim.exit("x")
        sim.tick()
    assert sim.kinds("x")[-1] == "backoff"
    sim.advance(1)
    sim.tick()  # back-off over: restarted
    sim.advance(700)  # runs longer than restart_stable and the crash window
    sim.exit("x")
    sim.tick()
    assert sim.kinds("x")[-1] == "restart"  # immediate again: the series started over
    assert sim.memory.agent("x").failures == 1
    assert len(sim.memory.agent("x").deaths) == 1  # old deaths left the window


def test_operator_clears_crash_loop_and_edits_nothing_else(tmp_path: Path) -> None:
    """T18: a crash-looping agent stays down until `agents up NAME`."""
    sim = Sim(fleet(tmp_path, ["x", "y"]))
    run_for(sim, seconds=60, step=0.25, each=["x"])
    assert "crash-loop" in sim.kinds("x")
    starts = sim.starts("x")
    run_for(sim, seconds=600, step=5)
    assert sim.starts("x") == starts
    sim.run("x")  # what `agents up x` does: a fresh session, and the marker
    sim.operator_starts["x"] = sim.wall
    sim.tick()
    assert sim.kinds("x")[-1] == "crash-loop-cleared"
    assert sim.memory.agent("x").crash_looping_wall is None
    assert sim.memory.agent("x").deaths == ()


def test_operator_stop_is_sticky(tmp_path: Path) -> None:
    """T19: an agent stopped by the operator while in back-off is never restarted."""
    sim = Sim(fleet(tmp_path, ["x"]))
    sim.tick()
    for _ in range(2):
        sim.advance(1)
        sim.exit("x")
        sim.tick()
    assert sim.memory.agent("x").restart_due_at is not None
    sim.kill("x")
    sim.stopped.add("x")  # `agents down x`
    before = sim.starts("x")
    run_for(sim, seconds=120, step=1)
    assert sim.starts("x") == before


def test_mass_failure_is_spread_by_the_fleet_cap(tmp_path: Path) -> None:
    """T20: 15 agents die together: 10 restart now, the rest after the minute."""
    names = [f"a{i}" for i in range(15)]
    sim = Sim(fleet(tmp_path, names))
    for name in names:
        sim.run(name)
    sim.tick()  # adopted
    sim.advance(120)
    for name in names:
        sim.kill(name)
    sim.tick()
    assert sum(isinstance(a, Start | Restart) for a in sim.actions) == 10
    assert sim.kinds(None).count("throttled") == 1
    sim.advance(30)
    sim.tick()
    assert sum(isinstance(a, Start | Restart) for a in sim.actions) == 10
    sim.advance(31)
    sim.tick()
    assert sum(isinstance(a, Start | Restart) for a in sim.actions) == 15
    assert all(sim.session(n) in sim.panes for n in names)
