"""A broken config never locks the operator out (issue 13): with errors in agents.toml the
reading and stopping verbs act on the last good config the watchdog runs, saying so on
stderr; only the verbs that start a fleet (`up`, `watchdog`) and `check` refuse. End to end
on a private tmux server with the demo agent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import sessions, wait_until, write_config
from harness import demo_agent

from agent_orchestrator.cli.main import main

pytestmark = pytest.mark.tmux
BROKEN = "\n[[agent]\n"  # a TOML syntax error


def test_a_broken_config_falls_back_to_the_last_good_one(make_fleet, tmp_path: Path) -> None:
    body = "[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path)
    fleet = make_fleet(body)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    fleet.write(body + BROKEN)

    for refused in (("up",), ("check",), ("watchdog",)):
        result = fleet.agents(*refused)
        assert result.returncode == 1, refused
        assert "invalid config" in result.stderr and "TOML syntax error" in result.stderr

    shown = fleet.agents("status")
    assert shown.returncode == 0 and "last good" in shown.stderr
    assert "\na " in shown.stdout and "config: ok" not in shown.stdout
    doc = json.loads(fleet.agents("status", "--json").stdout)
    assert doc["config"]["ok"] is False and "TOML syntax error" in doc["config"]["errors"]
    assert [(a["agent"], a["pid"] is not None) for a in doc["agents"]] == [("a", True)]
    one = fleet.agents("status", "a", "--json")
    assert one.returncode == 0 and json.loads(one.stdout)["agent"] == "a"

    events = fleet.agents("events")
    assert events.returncode == 0 and "adopt" in events.stdout and "last good" in events.stderr
    logs = fleet.agents("logs", "a", "-n", "5", "--no-follow")
    assert logs.returncode == 0 and "last good" in logs.stderr
    sent = fleet.agents("send", "a", "hello")
    assert sent.returncode == 0 and "delivered to a" in sent.stdout, sent.stderr
    phase = fleet.agents("phase", "show")  # this fleet has no loop: that, not the config
    assert "last good" in phase.stderr and "no [loop] phases" in phase.stderr
    attach = fleet.agents("attach", "nosuch")
    assert "last good" in attach.stderr and "nosuch" in attach.stderr

    down = fleet.agents("down")
    assert down.returncode == 0 and "last good" in down.stderr
    wait_until(lambda: "e-a" not in sessions(fleet.socket), what="the agent stopped")


def test_status_json_says_the_config_is_broken_when_no_good_one_is_known(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, '[[agent]]\nname = "a"\nbackend = "demo"\n' + BROKEN)
    assert main(["status", "--json", "--config", str(path)]) == 1
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["version"] == 2 and doc["agents"] == []
    assert doc["config"]["ok"] is False and "TOML syntax error" in doc["config"]["errors"]
    assert "TOML syntax error" in out.err
