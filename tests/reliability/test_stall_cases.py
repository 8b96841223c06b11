"""Reliability cases T21–T23: stalls.

Pure parts replay the watchdog's `rules.decide()` and applier on a fake clock
(tests/simulate.py `Sim`) with screens shaped like the demo agent's (which copy Claude
Code's); the real parts run the watchdog and the demo agent (`agent_orchestrator/fakeagent/`)
on a private tmux server.

- T21 stall-detected-and-escalated: an agent idle for `stall_idle` is rebooted once per
  stall (one `stall-reboot` event; the reboot counts toward the crash window). Our ladder
  has one step, kill the pane's process tree and start it again: the agent is idle at its
  prompt, so an interrupt key would interrupt nothing.
- T22 long-silent-work-not-a-stall: a spinner redrawn in place, or a `footer_ui` agent whose
  session log keeps growing, is work: no reboot over 2× `stall_idle`.
- T23 stall-reboot-loop-bounded: an agent that stalls right after every reboot is bounded
  by the same back-off and crash window as a crashing one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import holds_for, wait_until, write_config
from harness import demo_agent
from simulate import Sim

from agent_orchestrator import config as config_mod
from agent_orchestrator.core.decisions import Restart, Start
from agent_orchestrator.core.observed import Observed

RULE = "─" * 60
BUSY = f"❯ do it\n✢ Warping… ({{n}}s · esc to interrupt)\n{RULE}\n❯\xa0\n{RULE}\n  esc to interrupt"
IDLE = f"❯ do it\n● Done: do it\n✻ Worked for 3s\n{RULE}\n❯\xa0\n{RULE}\n  ? for shortcuts"
STALL_IDLE = 300


def busy(n: int) -> str:
    return BUSY.format(n=n)


class LogSim(Sim):
    """A Sim that also reports session-log write times (`footer_ui` agents' activity)."""

    log_written: dict[str, float]

    def _observed(self, screens: dict[str, str]) -> Observed:
        observed = super()._observed(screens)
        return Observed(observed.server_running, observed.panes, observed.screens,
                        observed.stopped, observed.operator_starts,
                        dict(getattr(self, "log_written", {})))


def make_sim(tmp_path: Path, watchdog: str = "", backend: str = "",
             stall_idle: float = STALL_IDLE) -> LogSim:
    path = write_config(tmp_path, f"""
        [watchdog]
        signal_interval = 10
        stall_grace = 60
        restart_backoff = 10
        restart_backoff_max = 300
        crash_window = 600
        crash_limit = 5
        restart_stable = 60
        {watchdog}

        [backend.demo]
        stall_idle = {stall_idle}
        {backend}

        [[agent]]
        name = "s"
        backend = "demo"
        watch = "heal+stall"
    """)
    sim = LogSim(config_mod.load(path))
    sim.run("s", "python3.11", busy(1))
    sim.tick()  # adopted
    return sim


def ticks(sim: Sim, seconds: float, step: float = 10) -> None:
    end = sim.mono + seconds
    while sim.mono < end - 1e-9:
        sim.advance(step)
        sim.tick()


def reboot_times(sim: Sim) -> list[float]:
    """Wall times of every (re)start after the first: each stall reboot, immediate or after
    its back-off."""
    return [e.time for e in sim.events if e.agent == "s" and e.event in (
        "stall-reboot", "restart")]


# --------------------------------------------------------------------------- T21

def test_t21_idle_agent_is_rebooted_once_per_stall(tmp_path: Path) -> None:
    """FAULT: the agent finished its turn and sits idle, its screen unchanged. EXPECTED:
    nothing before `stall_idle`; then exactly one reboot (one Restart action: kill the pane's
    processes and start again) with one `stall-reboot` event saying why; the reboot counts as
    a failure in the crash window; the fresh session gets a full `stall_idle` again before
    the next reboot (one reboot per stall, never one per tick)."""
    sim = make_sim(tmp_path)
    sim.show("s", IDLE)
    ticks(sim, STALL_IDLE - 10)
    assert "stall-reboot" not in sim.kinds("s")
    ticks(sim, 10)
    assert sim.kinds("s")[-1] == "stall-reboot"
    assert [e.reason for e in sim.events if e.agent == "s"][-1] == \
        "stalled: no work seen for 300s"
    assert [type(a) for a in sim.actions] == [Restart]
    assert len(sim.memory.agent("s").deaths) == 1  # toward crash_limit in crash_window
    rebooted = sim.mono
    sim.show("s", IDLE)  # the fresh session idles too
    ticks(sim, STALL_IDLE - 10)
    assert sim.kinds("s").count("stall-reboot") == 1 and len(sim.actions) == 1
    ticks(sim, 10)
    assert sim.kinds("s").count("stall-reboot") == 2
    assert sim.mono - rebooted == STALL_IDLE


def test_t21_frozen_spinner_is_a_stall(tmp_path: Path) -> None:
    """FAULT: the screen freezes on a spinner ('esc to interrupt' that never moves: a hung
    agent). EXPECTED: a frozen spinner is not work: rebooted after `stall_idle`."""
    sim = make_sim(tmp_path)
    sim.show("s", busy(5))
    ticks(sim, 10)  # the last change seen: work, once
    ticks(sim, STALL_IDLE - 10)
    assert "stall-reboot" not in sim.kinds("s")
    ticks(sim, 10)
    assert sim.kinds("s")[-1] == "stall-reboot"


@pytest.mark.tmux
def test_t21_stalled_demo_agent_is_rebooted(make_fleet, tmp_path: Path) -> None:
    """FAULT: the demo agent answers its prompt, then idles with no CPU and no output.
    EXPECTED: after stall_idle one `stall-reboot` event; the old agent process is gone and a
    new pane runs; the reboot is recorded as a failure (watchdog memory, status restarts)."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" +
                       demo_agent("a", tmp_path, watch="heal+stall"))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    old = fleet.pane_pid("e-a")
    assert old is not None
    event = fleet.wait_event("a", "stall-reboot", timeout=15)
    assert event["reason"].startswith("stalled: no work seen for")
    assert float(event["reason"].split("for ")[1].rstrip("s")) >= 2  # stall_idle = 2
    new = wait_until(lambda: fleet.pane_pid("e-a") not in (None, old), what="a new pane")
    assert new
    with pytest.raises(ProcessLookupError):
        os.kill(old, 0)  # the stalled process was killed, not left behind
    # One reboot for that stall: the new session has its own stall_idle ahead of it.
    assert len(fleet.events("a", "stall-reboot")) == 1
    state = tmp_path / "logs" / "state" / "watchdog.json"
    wait_until(lambda: state.exists() and len(json.loads(state.read_text())["agents"]["a"][
        "deaths"]) >= 1, what="the reboot counted as a failure")
    doc = json.loads(fleet.agents("status", "--json").stdout)
    assert [a["restarts_1h"] >= 1 for a in doc["agents"] if a["agent"] == "a"] == [True]


# --------------------------------------------------------------------------- T22

def test_t22_spinner_redrawn_in_place_is_work(tmp_path: Path) -> None:
    """FAULT: none — the agent works silently for 2× stall_idle, its spinner redrawn in
    place (the screen changes, nothing scrolls). EXPECTED: never rebooted; once it stops
    and idles, the stall clock starts from its last work."""
    sim = make_sim(tmp_path)
    for n in range(2 * STALL_IDLE // 10):
        sim.advance(10)
        sim.show("s", busy(n + 2))
        sim.tick()
    assert "stall-reboot" not in sim.kinds("s") and sim.actions == []
    sim.show("s", IDLE)
    ticks(sim, STALL_IDLE - 10)
    assert "stall-reboot" not in sim.kinds("s")
    ticks(sim, 10)
    assert sim.kinds("s")[-1] == "stall-reboot"  # the control: the rule does fire


def test_t22_footer_ui_log_growth_is_work(tmp_path: Path) -> None:
    """FAULT: none — a `footer_ui` agent's screen sits still (its footer lingers) while its
    session log keeps growing, for 2× stall_idle. EXPECTED: a log written within `log_grace`
    is work: no reboot; once the log stops, the reboot comes log_grace + stall_idle later."""
    sim = make_sim(tmp_path, backend="footer_ui = true\nlog_grace = 60")
    sim.show("s", IDLE)
    session = sim.session("s")
    sim.log_written = {session: sim.wall}
    for _ in range(2 * STALL_IDLE // 10):
        sim.advance(10)
        sim.log_written[session] = sim.wall - 5  # written a moment before the tick
        sim.tick()
    assert "stall-reboot" not in sim.kinds("s") and sim.actions == []
    last_write = sim.log_written[session]
    ticks(sim, 60 + STALL_IDLE - 20)
    assert "stall-reboot" not in sim.kinds("s")
    ticks(sim, 20)
    assert sim.kinds("s")[-1] == "stall-reboot"
    assert sim.events[-1].time - last_write <= 60 + STALL_IDLE + 10


@pytest.mark.tmux
@pytest.mark.slow
def test_t22_busy_demo_agent_is_not_rebooted(make_fleet, tmp_path: Path) -> None:
    """FAULT: none — the demo agent works (`busy inf`: a spinner redrawn five times a second,
    no new lines) for 2× stall_idle. EXPECTED: no stall-reboot, the same process runs."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" +
                       demo_agent("a", tmp_path, watch="heal+stall", busy=30))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    fleet.control("a", "busy inf")
    wait_until(lambda: any(r["event"] == "control" for r in fleet.records("a")),
               what="the demo agent to take the command")
    pid = fleet.pane_pid("e-a")
    holds_for(lambda: not fleet.events("a", "stall-reboot") and fleet.pane_pid("e-a") == pid,
              4.5, what="no reboot of a working agent")  # 2× stall_idle (2 s) and slack


# --------------------------------------------------------------------------- T23

def test_t23_stall_after_every_reboot_crash_loops(tmp_path: Path) -> None:
    """FAULT: the agent stalls right after every reboot (stall_idle 20 s, shorter than
    restart_stable). EXPECTED: the reboots back off like crash restarts (immediate, then
    10 s, 20 s, ... jittered) and the 5th stall in the window makes it crash-looping: one
    crash-loop event, then no reboot for the rest of the hour."""
    sim = make_sim(tmp_path, stall_idle=20)
    sim.show("s", IDLE)
    ticks(sim, 3600, step=1)
    kinds = sim.kinds("s")
    assert kinds.count("crash-loop") == 1 and kinds[-1] == "crash-loop"
    assert kinds.count("stall-reboot") == 1 and kinds.count("backoff") == 3
    assert sum(isinstance(a, Start | Restart) for a in sim.actions) == 4
    loop = next(e.time for e in sim.events if e.event == "crash-loop")
    assert all(t < loop for t in reboot_times(sim))
    assert loop - sim.events[0].time < 600  # all inside one crash window
    waits = [float(e.reason.split("restarting in ")[1].split("s ")[0])
             for e in sim.events if e.event == "backoff"]
    assert [8 <= waits[0] <= 10, 16 <= waits[1] <= 20, 32 <= waits[2] <= 40] == [True] * 3


def test_t23_slow_stall_loop_stays_within_the_window(tmp_path: Path) -> None:
    """FAULT: the agent stalls after every reboot, with the default stall_idle (300 s) —
    longer than restart_stable, so each run counts as stable. EXPECTED: never more than
    crash_limit reboots in any crash_window (here at most 2: one per stall_idle). By
    design this never becomes a crash loop — a reboot every 5 minutes is not a storm."""
    sim = make_sim(tmp_path)
    sim.show("s", IDLE)
    ticks(sim, 3600)
    times = reboot_times(sim)
    assert len(times) == 12
    most = max(sum(1 for u in times if t <= u < t + 600) for t in times)
    assert most == 2 <= sim.config.watchdog.crash_limit
    assert "backoff" not in sim.kinds("s") and "crash-loop" not in sim.kinds("s")
