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


UNSTARTABLE = """
[backend.ghost]
bin = "no-such-agent-cli-13 --fast"
process_name = "ghost"

[[agent]]
name = "a"
backend = "ghost"

[[agent]]
name = "b"
backend = "demo"
dir = "not-made-yet"

[[agent]]
name = "off"
backend = "ghost"
enabled = false

[loop]
phases = [
  { id = "one", plan = "PLAN-1.md", status = "docs/STATUS-1.md" },
  { id = "two", status = "STATUS-2.md" },
]
"""


def test_check_and_up_refuse_a_fleet_that_cannot_start(
        tmux_socket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A program not on PATH, a missing agent dir, a phase's missing plan and status folder:
    each reported with its line; `up` starts nothing; a disabled agent's backend is not
    looked for. Once they exist, `check` passes."""
    path = write_config(tmp_path, UNSTARTABLE, socket=tmux_socket)
    text = path.read_text().splitlines()

    def line(needle: str) -> int:
        return next(n for n, row in enumerate(text, start=1) if needle in row)

    ghost = line('backend = "ghost"')  # agent a's, the first
    for verb in ("check", "up"):
        assert main([verb, "--config", str(path)]) == 1
        err = capsys.readouterr().err
        assert "the fleet cannot start" in err
        assert f"{path}:{ghost}: agent.a.backend: backend 'ghost' " \
            "runs 'no-such-agent-cli-13 --fast': program not found on PATH" in err
        assert f"{path}:{line('not-made-yet')}: agent.b.dir: no such folder" in err
        assert f"{path}:{line('PLAN-1.md')}: loop.phases.one.plan: no such file" in err
        assert f"{path}:{line('docs/STATUS-1')}: loop.phases.one.status: no folder" in err
        assert "agent.off" not in err and "phases.two" not in err
    assert sessions(tmux_socket) == set()
    (tmp_path / "not-made-yet").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "PLAN-1.md").write_text("plan\n")
    path.write_text(path.read_text().replace("no-such-agent-cli-13", "sh"))
    assert main(["check", "--config", str(path)]) == 0
