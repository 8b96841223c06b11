"""A broken config never locks the operator out (issue 13): with errors in agents.toml the
reading and stopping verbs act on the last good config the watchdog runs, saying so on
stderr; only the verbs that start sessions (`up`, `watchdog`, `restart`) and `check`
refuse. End to end
on a private tmux server with the demo agent."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import sessions, wait_until, write_config
from harness import demo_agent

from agent_orchestrator.cli.main import main

pytestmark = pytest.mark.tmux
BROKEN = "\n[[agent]\n"  # a TOML syntax error


LOOP = """
[loop]
phases = [{ id = "one", status = "S-one.md" }, { id = "two", status = "S-two.md" }]
"""


def _acts(argv: tuple[str, ...], check: Callable[[Any, Any], None]) -> Any:
    return pytest.param(argv, check, id=" ".join(argv))


def _status(fleet: Any, result: Any) -> None:
    assert result.returncode == 0 and "\na " in result.stdout
    assert "config: ok" not in result.stdout
    doc = json.loads(fleet.agents("status", "--json").stdout)
    assert doc["config"]["ok"] is False and "TOML syntax error" in doc["config"]["errors"]
    assert [(a["agent"], a["pid"] is not None) for a in doc["agents"]] == [("a", True)]
    one = fleet.agents("status", "a", "--json")
    assert one.returncode == 0 and json.loads(one.stdout)["agent"] == "a"


def _down(fleet: Any, result: Any) -> None:
    assert result.returncode == 0
    wait_until(lambda: "e-a" not in sessions(fleet.socket), what="the agent stopped")


def _attach(fleet: Any, result: Any) -> None:
    # No terminal here: tmux itself refuses, which proves the verb got as far as tmux.
    assert "invalid config" not in result.stderr and "terminal" in result.stderr, result.stderr


VERBS = [
    _acts(("status",), _status),
    _acts(("events",), lambda f, r: r.returncode == 0 and "adopt" in r.stdout or
          pytest.fail(r.stdout)),
    _acts(("logs", "a", "-n", "5", "--no-follow"), lambda f, r: r.returncode == 0 or
          pytest.fail(r.stderr)),
    _acts(("send", "a", "hello"), lambda f, r: "delivered to a" in r.stdout or
          pytest.fail(r.stderr)),
    _acts(("phase", "show"), lambda f, r: r.returncode == 0 and "→ 1/2  one" in r.stdout or
          pytest.fail(r.stdout + r.stderr)),
    _acts(("attach", "a"), _attach),
    _acts(("down",), _down),
]


@pytest.mark.parametrize(("argv", "check"), VERBS)
def test_a_broken_config_falls_back_to_the_last_good_one(
        make_fleet: Any, tmp_path: Path, argv: tuple[str, ...],
        check: Callable[[Any, Any], None]) -> None:
    """Each verb that reads or stops the fleet acts on the last good config the watchdog
    runs, saying so on stderr, while agents.toml has a syntax error."""
    body = "[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path) + LOOP
    fleet = make_fleet(body)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    fleet.write(body + BROKEN)
    result = fleet.agents(*argv)
    assert "last good" in result.stderr and "TOML syntax error" in result.stderr, result.stderr
    check(fleet, result)


@pytest.mark.parametrize("argv", [("up",), ("check",), ("watchdog",), ("restart", "a")],
                         ids=" ".join)
def test_the_verbs_that_start_things_refuse_a_broken_config(
        make_fleet: Any, tmp_path: Path, argv: tuple[str, ...]) -> None:
    """`up`, `watchdog` and `restart` start sessions: not from a copy the user has since
    edited away from; `check` validates the file itself. Each says what is wrong."""
    body = "[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path)
    fleet = make_fleet(body)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    pid = json.loads(fleet.agents("status", "--json").stdout)["agents"][0]["pid"]
    fleet.write(body + BROKEN)
    result = fleet.agents(*argv)
    assert result.returncode == 1
    assert "invalid config" in result.stderr and "TOML syntax error" in result.stderr
    if argv[0] != "check":
        assert "nothing is started from it" in result.stderr
    fleet.write(body)
    assert json.loads(fleet.agents("status", "--json").stdout)["agents"][0]["pid"] == pid


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


def test_check_up_and_restart_refuse_a_fleet_that_cannot_start(
        tmux_socket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A program not on PATH, a missing agent dir, a phase's missing plan and status folder:
    each reported with its line; `up` and `restart` start nothing; a disabled agent's
    backend is not looked for. Once they exist, `check` passes."""
    path = write_config(tmp_path, UNSTARTABLE, socket=tmux_socket)
    text = path.read_text().splitlines()

    def line(needle: str) -> int:
        return next(n for n, row in enumerate(text, start=1) if needle in row)

    ghost = line('backend = "ghost"')  # agent a's, the first
    for argv in (["check"], ["up"], ["restart", "b"]):
        assert main([*argv, "--config", str(path)]) == 1
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


def test_check_leaves_an_agent_on_another_host_to_that_host(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A `host` agent's `dir` and program are paths on that host: `check` does not look for
    them here (`doctor` checks them there), and it does not connect to the host for it (an
    `ssh` on PATH that would leave a mark is never run). A local agent is still checked."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mark = tmp_path / "ssh-ran"
    fake_ssh = bin_dir / "ssh"
    fake_ssh.write_text(f"#!/bin/sh\ntouch '{mark}'\nexit 255\n")
    fake_ssh.chmod(0o700)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path('/usr/bin')}:{Path('/bin')}")
    remote = """
    [host.x]
    ssh = "x"

    [backend.ghost]
    bin = "no-such-agent-cli-13 --fast"
    process_name = "ghost"

    [[agent]]
    name = "far"
    backend = "ghost"
    host = "x"
    dir = "~/nowhere-here"
    """
    path = write_config(tmp_path, remote)
    assert main(["check", "--config", str(path)]) == 0, capsys.readouterr().err
    out = capsys.readouterr()
    assert "cannot start" not in out.err and "nowhere-here" not in out.err
    assert "ok" in out.out and not mark.exists()
    local = '\n[[agent]]\nname = "near"\nbackend = "ghost"\ndir = "nowhere-here"\n'
    path.write_text(path.read_text() + local)
    assert main(["check", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "agent.near.backend" in err and "agent.near.dir" in err
    assert "agent.far" not in err and not mark.exists()


@pytest.mark.parametrize(("delivery", "bin_text", "ok"), [
    ("exec", "MYCLI_HOME=~/.mycli sh -c 'echo hi' {kickoff_text}", True),  # README's example
    ("exec", "cd {dir} && exec no-such-cli-13 {kickoff}", True),  # no program to name
    ("exec", "$HOME/bin/mycli {kickoff}", True),
    ("exec", "A=1 B=2 no-such-cli-13 {kickoff}", False),  # named, and not there
    ("ping", "TERM=xterm no-such-cli-13", False),
    ("arg", "MYCLI_HOME=x sh", False),  # exec'd as argv: 'MYCLI_HOME=x' is the program
])
def test_check_looks_for_the_program_a_shell_line_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], delivery: str, bin_text: str,
        ok: bool) -> None:
    """An exec backend's `bin` is a shell command line: its leading NAME=value words are
    environment, and one that starts with `cd`, `exec` or an expansion names no program
    `check` could look for (before: all refused as 'program not found', the README's own
    example among them)."""
    path = write_config(tmp_path, f"""
        [backend.x]
        bin = {json.dumps(bin_text)}
        prompt_delivery = "{delivery}"

        [[agent]]
        name = "a"
        backend = "x"
        prompt = "go"
    """)
    assert main(["check", "--config", str(path)]) == (0 if ok else 1)
    assert ("program not found on PATH" in capsys.readouterr().err) is not ok
