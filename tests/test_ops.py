"""The operator's verbs end to end on a private tmux server with the demo agent (issue 13):
`restart`, `attach`, `up watchdog` / `down watchdog`."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import holds_for, sessions, wait_until
from harness import demo_agent

from agent_orchestrator import config as config_mod
from agent_orchestrator.cli import status
from agent_orchestrator.cli.main import main
from agent_orchestrator.doors import memorystore, tmuxsocket

pytestmark = pytest.mark.tmux


def test_restart_is_a_new_run_with_fresh_clocks_and_counters(make_fleet,
                                                            tmp_path: Path) -> None:
    """`agents restart a` after a failure and most of a stall_idle: the new process is the
    operator's run (adopt), its back-off and crash window start over, no stall reboot
    before a whole stall_idle of it; the restart is an event naming the pid and user."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" +
                       demo_agent("a", tmp_path, watch="heal+stall").replace(
                           "stall_idle = 2", "stall_idle = 4"))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    fleet.control("a", "crash 3")
    fleet.wait_event("a", "restart")  # the watchdog's: a death counted
    config = config_mod.load(fleet.path)
    wait_until(lambda: memorystore.load_memory(config, quarantine=False)[0].agent("a").deaths,
               what="the death in memory")
    old = wait_until(lambda: fleet.pane_pid("e-a"), what="the healed pane")
    adopts = len(fleet.events("a", "adopt"))
    started = time.monotonic()  # the new run begins after this (the watchdog may adopt it
    result = fleet.agents("restart", "a")  # before this verb has even returned)
    assert result.returncode == 0, result.stderr
    assert "restarted" in result.stdout and f"was pid {old}" in result.stdout
    new = fleet.pane_pid("e-a")
    assert new is not None and new != old
    mine = [e for e in fleet.events("a", "restart") if "operator" in e["reason"]]
    assert len(mine) == 1 and f"was pid {old}" in mine[0]["reason"]
    assert re.search(r"\(operator: pid \d+, user \S+\)$", mine[0]["reason"])
    seen = fleet.wait_event("a", "adopt", after=adopts)
    assert "started by the operator" in seen["reason"]
    # The pass that adopts it saves its memory just after writing the event.
    mem = wait_until(lambda: (m := memorystore.load_memory(config, quarantine=False)[0]
                              .agent("a")).pane_pid == new and m,
                     what="the memory of the new run")
    assert mem.deaths == () and mem.failures == 0
    holds_for(lambda: not fleet.events("a", "stall-reboot"), 3, what="no reboot")
    fleet.wait_event("a", "stall-reboot", timeout=20)
    assert time.monotonic() - started >= 4


def test_restart_refuses_unknown_names_and_needs_one(make_fleet, tmp_path: Path) -> None:
    fleet = make_fleet(demo_agent("a", tmp_path))
    result = fleet.agents("restart", "b")
    assert result.returncode == 2 and "unknown name: b" in result.stderr
    assert fleet.agents("restart").returncode == 2
    assert sessions(fleet.socket) == set()


def test_restart_starts_a_stopped_agent(make_fleet, tmp_path: Path) -> None:
    fleet = make_fleet(demo_agent("a", tmp_path))
    assert fleet.agents("up").returncode == 0
    assert fleet.agents("down", "a").returncode == 0
    result = fleet.agents("restart", "a")
    assert result.returncode == 0 and "was not running" in result.stdout
    assert wait_until(lambda: fleet.pane_pid("e-a"), what="the agent")
    assert not (fleet.folder / "logs" / "state" / "stopped" / "a").exists()


class Exec(Exception):
    """What os.execvpe would have run."""


def _attach(path: Path, name: str, monkeypatch: pytest.MonkeyPatch,
            tmux_env: str | None = None) -> tuple[list[str], dict[str, str]] | int:
    def fake_exec(file: str, argv: list[str], env: dict[str, str]) -> None:
        raise Exec(argv, env)
    monkeypatch.setattr(os, "execvpe", fake_exec)
    if tmux_env is not None:
        monkeypatch.setenv("TMUX", tmux_env)
    try:
        return main(["attach", name, "--config", str(path)])
    except Exec as exc:
        return exc.args[0], exc.args[1]


def test_attach_execs_tmux_on_that_exact_session(make_fleet, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    fleet = make_fleet(demo_agent("a", tmp_path) + demo_agent("a1", tmp_path))
    assert fleet.agents("up", "a", "a1").returncode == 0
    argv, env = _attach(fleet.path, "a", monkeypatch)  # type: ignore[misc]
    assert argv == ["tmux", "-L", fleet.socket, "attach-session", "-t", "=e-a"]
    # Inside a client of the fleet's own server: switch-client, $TMUX kept.
    ours = f"{tmuxsocket.server_path(fleet.socket, None)},123,0"
    argv, env = _attach(fleet.path, "a", monkeypatch, ours)  # type: ignore[misc]
    assert argv == ["tmux", "-L", fleet.socket, "switch-client", "-t", "=e-a"]
    assert env["TMUX"] == ours
    # Inside another tmux server: attach (nested), $TMUX dropped so tmux allows it.
    argv, env = _attach(fleet.path, "a1", monkeypatch, "/tmp/elsewhere/default,1,0")  # type: ignore[misc]
    assert argv[-3:] == ["attach-session", "-t", "=e-a1"] and "TMUX" not in env
    # The errors: an unknown name, a stopped agent.
    assert _attach(fleet.path, "nope", monkeypatch) == 2
    assert "unknown name: nope" in capsys.readouterr().err
    assert fleet.agents("down", "a").returncode == 0
    assert _attach(fleet.path, "a", monkeypatch) == 1
    err = capsys.readouterr().err
    assert "'a' is not running (stopped with `agents down`)" in err and "agents up a" in err
    assert fleet.agents("attach").returncode == 2


def test_down_and_up_watchdog_touch_the_supervisor_alone(make_fleet, tmp_path: Path) -> None:
    fleet = make_fleet(demo_agent("a", tmp_path))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    pid = fleet.pane_pid("e-a")
    result = fleet.agents("down", "watchdog")
    assert result.returncode == 0, result.stderr
    assert "e-watchdog" in result.stdout and "e-a" not in result.stdout
    assert wait_until(lambda: "e-watchdog" not in sessions(fleet.socket), what="no watchdog")
    assert fleet.pane_pid("e-a") == pid
    assert not (fleet.folder / "logs" / "state" / "stopped" / "watchdog").exists()
    result = fleet.agents("up", "watchdog")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["started", "e-watchdog"]
    assert wait_until(lambda: "e-watchdog" in sessions(fleet.socket), what="the watchdog")
    assert fleet.pane_pid("e-a") == pid


def test_status_of_one_agent_in_detail(make_fleet, tmp_path: Path) -> None:
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path)
                       + demo_agent("b", tmp_path))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    fleet.control("a", "say hello from a")
    fleet.control("a", "crash 3")
    fleet.wait_event("a", "restart")
    wait_until(lambda: fleet.agents("status", "a", "--json").returncode == 0 and json.loads(
        fleet.agents("status", "a", "--json").stdout)["judged_state"], what="a verdict")
    body = json.loads(fleet.agents("status", "a", "--json").stdout)
    pid = fleet.pane_pid("e-a")
    assert body["agent"] == "a" and body["pid"] == pid and body["processes"] >= 1
    assert body["rss_bytes"] > 1_000_000 and body["cpu_pct"] >= 0
    assert body["judged_state"] in ("idle", "active") and body["judged_source"] == "screen"
    assert body["judged_age_s"] is not None and body["uptime_s"] is not None
    assert [r["reason"] for r in body["restarts"]] == ["exited with status 3"]
    assert body["events"][-1]["agent"] == "a" and len(body["events"]) <= 10
    assert all(e["agent"] == "a" for e in body["events"])
    assert body["limit_left_s"] is None and body["backoff_left_s"] is None
    assert "Claude Code" in body["screen"] or "❯" in body["screen"]
    text = fleet.agents("status", "a")
    assert text.returncode == 0, text.stderr
    for part in (f"pid {pid}", "CPU", "MiB", "restart: exited with status 3", "screen",
                 "last events", "state "):
        assert part in text.stdout, (part, text.stdout)
    # The fleet's --json measures every running agent's process tree too.
    rows = {r["agent"]: r for r in json.loads(fleet.agents("status", "--json").stdout)["agents"]}
    for name in ("a", "b"):
        row = rows[name]
        assert row["pid"] == fleet.pane_pid(f"e-{name}"), row
        assert row["cpu_pct"] is not None and row["cpu_pct"] >= 0, row
        assert row["rss_bytes"] is not None and row["rss_bytes"] > 1_000_000, row
    assert fleet.agents("status", "zz").returncode == 2
    assert fleet.agents("status", "a", "--watch").returncode == 2
    assert fleet.agents("down", "b").returncode == 0
    stopped = json.loads(fleet.agents("status", "b", "--json").stdout)
    assert stopped["state"] == "stopped" and stopped["pid"] is None and stopped["screen"] is None
    # An operator's restart is no restart of the watchdog's: counted and listed alike.
    assert fleet.agents("restart", "a").returncode == 0
    after = json.loads(fleet.agents("status", "a", "--json").stdout)
    assert [r["reason"] for r in after["restarts"]] == ["exited with status 3"]
    assert (after["restarts_1h"], after["restarts_total"]) == (1, 1)
    assert any(e["event"] == "restart" and "operator: pid" in e["reason"]
               for e in after["events"])  # it is among its events


def test_status_of_one_agent_shows_its_limit_window_and_back_off(make_fleet,
                                                                 tmp_path: Path) -> None:
    """The watchdog's memory of a limit window and a held-back restart (saved as it saves
    them, the watchdog stopped so that it does not look again): `status a --json` has the
    reset time, what is left of both and where the limit was seen; the text says it."""
    fleet = make_fleet(demo_agent("a", tmp_path))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    assert fleet.agents("down", "watchdog").returncode == 0
    wait_until(lambda: "e-watchdog" not in sessions(fleet.socket), what="no watchdog")
    config = config_mod.load(fleet.path)
    memory = memorystore.load_memory(config, quarantine=False)[0]
    mono, reset = time.monotonic(), time.time() + 3 * 3600 + 30
    held = dataclasses.replace(memory.agent("a"), limit_until=mono + 3 * 3600 + 30,
                               limit_reset_wall=reset, limit_source="screen", failures=2,
                               restart_due_at=mono + 20 * 60 + 30)
    memorystore.save_memory(config, dataclasses.replace(memory,
                                                        agents={**memory.agents, "a": held}))
    body = json.loads(fleet.agents("status", "a", "--json").stdout)
    assert body["state"] == "limited" and body["limit_until"] == status.iso(reset)
    assert body["limit_reset"] == reset and body["limit_source"] == "screen"
    assert 3 * 3600 < body["limit_left_s"] <= 3 * 3600 + 30
    assert 20 * 60 < body["backoff_left_s"] <= 20 * 60 + 30 and body["failures"] == 2
    text = fleet.agents("status", "a").stdout
    when = datetime.fromtimestamp(reset).strftime("%Y-%m-%d %H:%M")
    assert f"  limit      held 3h00m more (reset {when}, seen on its screen)" in text, text
    assert "  back-off   restart in 20m (failure 2 in a row)" in text, text


def test_usage_mistakes_and_unknown_names_exit_2(tmp_path: Path) -> None:
    from conftest import write_config

    path = write_config(tmp_path, """
        [loop]
        phases = [{ id = "a", status = "A.md" }]

        [[agent]]
        name = "a"
        backend = "demo"
    """)
    for argv in (["phase", "set"], ["phase", "next", "1"], ["phase", "show", "0"],
                 ["phase", "set", "abc"], ["explain"], ["transcript"],
                 ["events", "--since", "whenever"], ["send", "a"], ["restart"],
                 ["attach"]):
        result = subprocess.run([sys.executable, "-m", "agent_orchestrator", *argv,
                                 "--config", str(path)], capture_output=True, text=True,
                                timeout=30, check=False)
        assert result.returncode == 2, (argv, result.stderr)
        assert result.stderr.strip(), argv
    events = subprocess.run([sys.executable, "-m", "agent_orchestrator", "events", "--agent",
                             "nobody", "--config", str(path)], capture_output=True, text=True,
                            timeout=30, check=False)
    assert events.returncode == 2 and "unknown name: nobody" in events.stderr
