"""The watchdog end to end: a real private tmux server, the demo agent, real processes.

Each test starts the fleet with `agents up` (the watchdog in its own tmux session) or runs
the watchdog as a plain subprocess, drives the demo agent through its control file, and
waits (deadline polling) for the events the watchdog must record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import tmux_cmd, wait_until
from harness import demo_agent

from agent_orchestrator.core.screenrules import NUDGE

pytestmark = pytest.mark.tmux


def test_killed_session_is_healed_long_before_the_next_tick(make_fleet, tmp_path) -> None:
    fleet = make_fleet("[watchdog]\nsignal_interval = 30\n" + demo_agent("a", tmp_path))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    old = fleet.pane_pid("e-a")
    tmux_cmd(fleet.socket, "kill-session", "-t", "=e-a")
    event = fleet.wait_event("a", "restart", timeout=5)  # the next light tick is 30 s away
    assert event["reason"] == "session gone"
    new = wait_until(lambda: fleet.pane_pid("e-a"), timeout=5, what="the new pane")
    assert new != old


def test_agent_exit_is_seen_through_its_pid(make_fleet, tmp_path) -> None:
    fleet = make_fleet("[watchdog]\nsignal_interval = 30\n" + demo_agent("a", tmp_path))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    fleet.control("a", "crash 3")
    event = fleet.wait_event("a", "restart", timeout=5)
    assert event["reason"] == "exited with status 3"


def test_limit_banner_is_held_then_nudged_then_left(make_fleet, tmp_path) -> None:
    fleet = make_fleet("""
        [watchdog]
        signal_interval = 0.3
        limit_reset_slack = 0
    """ + demo_agent("a", tmp_path, watch="heal+stall"))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    reset = (datetime.now(UTC) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fleet.control("a", f"limit {reset}")
    held = fleet.wait_event("a", "limit")
    assert "You've hit your session limit" in held["reason"] and "holding until" in held["reason"]
    fleet.wait_event("a", "limit-nudge", timeout=15)
    typed = wait_until(lambda: [r["text"] for r in fleet.records("a")
                                if r["event"] == "input"], what="the nudge to arrive")
    assert typed == [NUDGE]
    fleet.wait_event("a", "limit-over")
    # Held past stall_idle (2 s) without a stall reboot.
    assert not fleet.events("a", "stall-reboot")

