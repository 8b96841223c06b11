"""Observation has an age, end to end on a real private tmux server with the demo agent:
the two stale-verdict faults issue 12 reproduced, now prevented."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from conftest import holds_for
from harness import demo_agent


def test_down_then_up_is_not_rebooted_on_the_old_runs_idle_clock(make_fleet,
                                                                 tmp_path: Path) -> None:
    """FAULT (reproduced before): `agents down s1; sleep 25; agents up s1` got s1
    stall-rebooted one second after it started, on the idle clock kept from before the stop.
    EXPECTED: the new process is a new run (`adopt`, "started by the operator"), whose
    idle clock starts then: no reboot before a whole `stall_idle` of it."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" +
                       demo_agent("a", tmp_path, watch="heal+stall").replace(
                           "stall_idle = 2", "stall_idle = 4"))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    assert fleet.agents("down", "a").returncode == 0
    holds_for(lambda: not fleet.events("a", "stall-reboot"), 5)  # longer than stall_idle
    adopts = len(fleet.events("a", "adopt"))
    started = time.monotonic()
    assert fleet.agents("up", "a").returncode == 0
    seen = fleet.wait_event("a", "adopt", after=adopts)
    assert "started by the operator" in seen["reason"]
    holds_for(lambda: not fleet.events("a", "stall-reboot"), 2.5, what="no reboot")
    reboot = fleet.wait_event("a", "stall-reboot", timeout=20)
    assert time.monotonic() - started >= 4  # a whole stall_idle of the new run, at least
    assert float(reboot["reason"].split("for ")[1].rstrip("s")) >= 4


def test_a_limited_agent_is_never_rebooted_whatever_wakes_the_watchdog(
        make_fleet, tmp_path: Path) -> None:
    """FAULT (reproduced before): a decision triggered by something else (another agent
    dying) judged a limited agent on a screen nobody had read, and stall-rebooted it.
    EXPECTED: `b` dies again and again, waking the watchdog between its light ticks; `a`,
    held at its usage limit for far longer than `stall_idle`, is never rebooted."""
    reset = datetime.fromtimestamp(time.time() + 3600, UTC).strftime("%-I:%M%p").lower()
    fleet = make_fleet("[watchdog]\nsignal_interval = 1\nrestart_backoff = 0.1\n"
                       "crash_limit = 1000\n" + demo_agent("a", tmp_path, watch="heal+stall")
                       + demo_agent("b", tmp_path, watch="heal"))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    fleet.wait_event("b", "adopt")
    fleet.control("a", f"limit {reset} (UTC)")
    fleet.wait_event("a", "limit", timeout=15)
    deadline = time.monotonic() + 8  # 4× stall_idle
    kills = 0
    while time.monotonic() < deadline:
        pid = fleet.pane_pid("e-b")
        if pid is not None:
            fleet.control("b", "crash 3")
            kills += 1
        holds_for(lambda: not fleet.events("a", "stall-reboot"), 0.5, what="a not rebooted")
    assert kills >= 3 and len(fleet.events("b", "restart")) >= 2
    assert not fleet.events("a", "stall-reboot") and not fleet.events("a", "restart")


def test_heavy_passes_have_their_own_timer(make_fleet, tmp_path: Path) -> None:
    """FAULT (reproduced before): heavy work ran only when something else woke the loop, so
    a `heavy_interval` shorter than `signal_interval` was not honoured (a DONE seen 18-27 s
    late with heavy_interval = 5). EXPECTED: with signal_interval = 60 and nothing else
    happening, a DONE written to the status file advances the phase within seconds."""
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "builder.md").write_text("Build.\n")
    fleet = make_fleet("""
        [watchdog]
        signal_interval = 60
        heavy_interval = 0.5

        [[agent]]
        name = "builder"
        kind = "loop"
        role = "builder"
        backend = "demo"
        watch = "heal"

        [loop]
        phases = [{ id = "one", plan = "", status = "STATUS-1.md" },
                  { id = "two", plan = "", status = "STATUS-2.md" }]
    """)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("builder", "adopt")
    started = time.monotonic()
    (tmp_path / "STATUS-1.md").write_text("# one\n\n## DONE\nThe gate passed.\n")
    fleet.wait_event(None, "phase-advance", timeout=15)
    assert time.monotonic() - started < 10  # far less than signal_interval
