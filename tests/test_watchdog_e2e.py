"""The watchdog end to end: a real private tmux server, the demo agent, real processes.

Each test starts the fleet with `agents up` (the watchdog in its own tmux session) or runs
the watchdog as a plain subprocess, drives the demo agent through its control file, and
waits (deadline polling) for the events the watchdog must record.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta

import pytest
from conftest import sessions, tmux_cmd, wait_until
from harness import demo_agent

from agent_orchestrator.screenrules import NUDGE

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


def test_stalled_agent_is_rebooted(make_fleet, tmp_path) -> None:
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" +
                       demo_agent("a", tmp_path, watch="heal+stall"))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    old = fleet.pane_pid("e-a")
    event = fleet.wait_event("a", "stall-reboot", timeout=15)
    assert event["reason"].startswith("stalled: no work seen for")
    wait_until(lambda: fleet.pane_pid("e-a") not in (None, old), what="a new pane")


def test_crash_loop_becomes_fatal_and_up_clears_it(make_fleet, tmp_path) -> None:
    fleet = make_fleet("""
        [watchdog]
        signal_interval = 30
        restart_backoff = 0.2
        crash_limit = 3

        [backend.broken]
        bin = "sh -c 'exit 4'"

        [[agent]]
        name = "bad"
        backend = "broken"
        watch = "heal"
    """)
    assert fleet.agents("up").returncode == 0
    loop = fleet.wait_event("bad", "crash-loop", timeout=20)
    assert "3 failures in 600s" in loop["reason"]
    kinds = [e["event"] for e in fleet.events("bad")]
    assert kinds.count("crash-loop") == 1
    restarts = kinds.count("restart")
    status = fleet.agents("status")
    assert "crash-looping" in status.stdout
    wait_until(lambda: True)  # give the watchdog room to misbehave: it must not restart
    assert [e["event"] for e in fleet.events("bad")].count("restart") == restarts
    assert fleet.agents("up", "bad").returncode == 0
    fleet.wait_event("bad", "crash-loop-cleared", timeout=10)


def test_config_typo_keeps_fleet_then_fix_applies(make_fleet, tmp_path) -> None:
    body = "[watchdog]\nsignal_interval = 30\n" + demo_agent("a", tmp_path)
    fleet = make_fleet(body)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    pid = fleet.pane_pid("e-a")
    fleet.write(body + "\n[[agent]]\nname = 'b'\nbackend = 'demoa'\npromt = 'typo'\n")
    rejected = fleet.wait_event(None, "config-rejected", timeout=5)
    assert "did you mean 'prompt'" in rejected["reason"]
    status = fleet.agents("status")
    assert "config: stale" in status.stdout
    assert fleet.pane_pid("e-a") == pid  # untouched
    fleet.write(body + "\n[[agent]]\nname = 'b'\nbackend = 'demoa'\nprompt = 'fixed'\n")
    fleet.wait_event(None, "config-reloaded", timeout=5)
    fleet.wait_event("b", "added")
    wait_until(lambda: "e-b" in sessions(fleet.socket), what="the added agent's session")
    assert fleet.pane_pid("e-a") == pid  # an unchanged agent is not restarted
    assert "config: stale" not in fleet.agents("status").stdout


def test_invalid_config_at_start_touches_nothing(make_fleet, tmp_path) -> None:
    fleet = make_fleet(demo_agent("a", tmp_path) + "\nbogus = 1\n")
    result = fleet.agents("watchdog")
    assert result.returncode == 1 and "bogus: unknown key" in result.stderr
    assert sessions(fleet.socket) == set()
    assert not (tmp_path / "logs").exists()


def test_tmux_server_killed_fleet_comes_back(make_fleet, tmp_path) -> None:
    fleet = make_fleet("[watchdog]\nsignal_interval = 30\n" + demo_agent("a", tmp_path)
                       + demo_agent("b", tmp_path))
    dog = fleet.watchdog_subprocess()
    fleet.wait_event(None, "watchdog-start")
    up = fleet.agents("up")  # the watchdog may have started them already; no second watchdog
    assert up.returncode == 0 and f"running  e-watchdog  (pid {dog.pid})" in up.stdout
    wait_until(lambda: {"e-a", "e-b"} <= sessions(fleet.socket), what="the fleet")
    tmux_cmd(fleet.socket, "kill-server")
    fleet.wait_event(None, "tmux-server-gone", timeout=10)
    wait_until(lambda: {"e-a", "e-b"} <= sessions(fleet.socket), timeout=15,
               what="the fleet to be recreated")
    assert dog.poll() is None  # the watchdog did not crash
    assert len(fleet.events(None, "tmux-server-gone")) == 1


@pytest.mark.parametrize("garbage", [b"[{", b"", b'{"version": 1, "agents": {"a": 5}}',
                                     b"\x00\xff\xfe binary", b'{"version": 1, "agen'],
                         ids=["bracket", "empty", "wrong-schema", "binary", "truncated"])
def test_corrupt_state_is_moved_aside_and_agents_adopted(make_fleet, tmp_path,
                                                         garbage: bytes) -> None:
    fleet = make_fleet("[watchdog]\nsignal_interval = 30\n" + demo_agent("a", tmp_path))
    assert fleet.agents("up", "a").returncode == 0
    fleet.wait_event("a", "adopt")
    pid = fleet.pane_pid("e-a")
    assert fleet.agents("down", "watchdog").returncode == 1  # not an agent name
    dog_pid = int((tmp_path / "logs" / "state" / "watchdog.lock").read_text())
    os.kill(dog_pid, signal.SIGTERM)
    fleet.wait_event(None, "watchdog-stop")
    state_file = tmp_path / "logs" / "state" / "watchdog.json"
    state_file.write_bytes(garbage)
    fleet.watchdog_subprocess()
    rebuilt = fleet.wait_event(None, "state-rebuilt")
    assert "moved to watchdog.json.corrupt-" in rebuilt["reason"]
    fleet.wait_event("a", "adopt", after=1)
    assert fleet.pane_pid("e-a") == pid  # adopted, not restarted
    assert not fleet.events("a", "restart")
    assert list(state_file.parent.glob("watchdog.json.corrupt-*"))
    wait_until(lambda: state_file.exists() and state_file.read_bytes().startswith(b"{"),
               what="a fresh state file")


def test_secrets_never_land_in_our_files(make_fleet, tmp_path) -> None:
    secret = "sk-ant-api03-" + "Q7x9" * 12  # one screen line with its label
    body = "[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path)
    fleet = make_fleet(body.replace('fatal_re = "API Error: 401"', 'fatal_re = "FATAL"'))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    fleet.control("a", f"say FATAL: bad key ANTHROPIC_API_KEY={secret}")
    event = fleet.wait_event("a", "restart", timeout=15)
    assert "REDACTED" in event["reason"] and secret not in event["reason"]
    fleet.agents("down")
    leaked = [p for p in (tmp_path / "logs").rglob("*") if p.is_file()
              and secret.encode() in p.read_bytes()]
    assert leaked == []
    assert b"FATAL: bad key" in (tmp_path / "logs" / "e-a.log").read_bytes()


def test_a_200mb_burst_stays_under_the_log_caps(make_fleet, tmp_path) -> None:
    firehose = ("head -c 200000000 /dev/zero | tr '\\\\0' x | fold -w 200; "
                "echo BURST-END; exec sleep 600")
    fleet = make_fleet(defaults="log_max_bytes = 1000000\nlog_keep = 1\n", body=f"""
        [backend.firehose]
        bin = "{firehose}"
        prompt_delivery = "exec"

        [[agent]]
        name = "loud"
        backend = "firehose"
    """)
    assert fleet.agents("up", "loud").returncode == 0
    log = tmp_path / "logs" / "e-loud.log"
    wait_until(lambda: log.exists() and b"BURST-END" in log.read_bytes(), timeout=120,
               what="the burst to pass through")
    files = [p for p in (tmp_path / "logs").glob("e-loud.log*")]
    assert sum(p.stat().st_size for p in files) <= 2 * 1_000_000 + 65_536
    assert len(files) <= 2
