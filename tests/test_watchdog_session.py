"""The watchdog's own tmux presence, end to end on a private tmux server: its control-mode
client is never an attached client of an agent's session (`tmux ls`), a killed watchdog
session stops the watchdog (recorded, lock released, `agents up` brings it back), and
`up` / `down` name no session that does not exist."""

from __future__ import annotations

import json
import os
import signal

import pytest
from conftest import holds_for, sessions, tmux_cmd, wait_until
from harness import demo_agent

pytestmark = pytest.mark.tmux

SERVICE = '[[service]]\nname = "web"\ncommand = "sleep 600"\n'


def attached(socket: str) -> dict[str, bool]:
    """`tmux ls` as {session: whether it says "(attached)"}."""
    out = tmux_cmd(socket, "ls").stdout
    return {line.split(":", 1)[0]: line.endswith("(attached)") for line in out.splitlines()}


def test_agent_sessions_are_not_attached_by_the_watchdog(make_fleet, tmp_path) -> None:
    fleet = make_fleet(demo_agent("a", tmp_path) + SERVICE)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    fleet.wait_event("web", "adopt")
    # With a session of its own (`agents up`), the control client sits there.
    wait_until(lambda: attached(fleet.socket).get("e-watchdog"), what="the control client")
    seen = attached(fleet.socket)
    assert seen == {"e-a": False, "e-web": False, "e-watchdog": True}


def test_a_foreground_watchdog_attaches_to_a_session_of_its_own(make_fleet, tmp_path) -> None:
    fleet = make_fleet(demo_agent("a", tmp_path) + SERVICE)
    assert fleet.agents("up").returncode == 0
    assert fleet.agents("down", "watchdog").returncode == 0
    proc = fleet.watchdog_subprocess()  # `agents watchdog` in the foreground, no session
    wait_until(lambda: attached(fleet.socket).get("e-watchdog-control"),
               what="the control client's own session")
    assert attached(fleet.socket) == {"e-a": False, "e-web": False,
                                      "e-watchdog-control": True}
    # `up` names no watchdog session: there is none
    up = fleet.agents("up")
    assert up.returncode == 0
    assert f"watchdog  (pid {proc.pid}, in no tmux session)" in up.stdout
    assert "e-watchdog " not in up.stdout and not up.stdout.rstrip().endswith("e-watchdog")
    # a killed agent is still healed at once (the control client and pidfds work there)
    tmux_cmd(fleet.socket, "kill-session", "-t", "=e-a")
    assert fleet.wait_event("a", "restart", timeout=5)["reason"] == "session gone"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    # the control session went with its client
    wait_until(lambda: "e-watchdog-control" not in sessions(fleet.socket),
               what="the control session to be destroyed")


def test_a_killed_watchdog_session_stops_the_watchdog(make_fleet, tmp_path) -> None:
    fleet = make_fleet(demo_agent("a", tmp_path))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    pid = fleet.pane_pid("e-watchdog")
    assert pid is not None
    tmux_cmd(fleet.socket, "kill-session", "-t", "=e-watchdog")
    event = fleet.wait_event(None, "watchdog-session-gone", timeout=5)
    assert "e-watchdog was killed" in event["reason"]
    fleet.wait_event(None, "watchdog-stop", timeout=10)
    wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
               open(f"/proc/{pid}/stat").read().split()[2] == "Z",
               what="the watchdog process to exit")
    doc = json.loads(fleet.agents("status", "--json").stdout)
    assert doc["watchdog"] == {"running": False, "pid": None}
    assert "e-a" in sessions(fleet.socket)  # the agents are left running
    up = fleet.agents("up")  # brings it back, in a session again
    assert up.returncode == 0 and "started  e-watchdog" in up.stdout
    wait_until(lambda: json.loads(fleet.agents("status", "--json").stdout)["watchdog"][
        "running"], what="the new watchdog")


def test_agents_down_is_a_stop_not_a_killed_session(make_fleet, tmp_path) -> None:
    fleet = make_fleet(demo_agent("a", tmp_path))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    assert fleet.agents("down").returncode == 0
    fleet.wait_event(None, "watchdog-stop", timeout=10)
    assert not fleet.events(None, "watchdog-session-gone")


def test_agents_down_stops_a_foreground_watchdog(make_fleet, tmp_path) -> None:
    """A watchdog run in the foreground (in no tmux session) is stopped by `agents down`
    too, before the agents (else it heals them back at once); `down` names it by its pid,
    no session, and leaves neither its session nor its control session. `down watchdog`
    stops it alone."""
    fleet = make_fleet(demo_agent("a", tmp_path) + SERVICE)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    assert fleet.agents("down", "watchdog").returncode == 0
    proc = fleet.watchdog_subprocess()
    wait_until(lambda: "e-watchdog-control" in sessions(fleet.socket), what="its control")
    down = fleet.agents("down", "watchdog")
    assert down.returncode == 0, down.stderr
    assert down.stdout.splitlines()[0].split() == [
        "stopped", "watchdog", "(pid", f"{proc.pid},", "in", "no", "tmux", "session)"]
    assert proc.wait(timeout=10) == 0
    wait_until(lambda: sessions(fleet.socket) == {"e-a", "e-web"}, what="the agents alone")
    proc = fleet.watchdog_subprocess()
    wait_until(lambda: "e-watchdog-control" in sessions(fleet.socket), what="its control")
    down = fleet.agents("down")
    assert down.returncode == 0, down.stderr
    lines = down.stdout.splitlines()
    assert lines[0].split() == [
        "stopped", "watchdog", "(pid", f"{proc.pid},", "in", "no", "tmux", "session)"]
    assert [line.split()[:2] for line in lines[1:3]] == [["stopped", "e-a"], ["stopped", "e-web"]]
    assert "absent" not in down.stdout and "kill" not in down.stdout
    assert proc.wait(timeout=10) == 0
    holds_for(lambda: not {s for s in sessions(fleet.socket) if s.startswith("e-")}, 2,
              what="nothing healed back, no watchdog session")
