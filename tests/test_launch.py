"""Launching agents for real: the prompt reaches the program byte for byte, through every
delivery, executing nothing; and every file the tool writes is private."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import sessions

from agent_orchestrator import config as config_mod
from agent_orchestrator import fleet, launch, state
from agent_orchestrator.tmux import Tmux

pytestmark = pytest.mark.tmux

HOSTILE = ("$(touch canary1) `touch canary2` \"double\" 'single' ; touch canary3;\n"
           "second line\twith tab #{session_name} #(touch canary4) \\ end;")


def records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def start_event(path: Path) -> dict | None:
    return next((r for r in records(path) if r.get("event") == "start"), None)


def no_canaries(folder: Path) -> bool:
    return not any(folder.rglob("canary*"))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    return folder


def test_arg_delivery_passes_hostile_prompt_as_one_argument(
        make_config: Callable[..., Path], tmux_socket: str, workdir: Path, wait_for) -> None:
    record = workdir / "rec.jsonl"
    path = make_config(f"""
        [backend.demo]
        flags = "--record {record} --busy 0.2"

        [[agent]]
        name = "x"
        backend = "demo"
        model = "m'1 $(touch canary5)"
        prompt = {json.dumps(HOSTILE)}
    """, socket=tmux_socket)
    config = config_mod.load(path)
    fleet.up(config, Tmux(tmux_socket), ["x"])
    event = wait_for(lambda: start_event(record), what="the agent to record its argv")
    argv = event["argv"]
    assert argv[-1] == HOSTILE
    assert argv[argv.index("--model") + 1] == "m'1 $(touch canary5)"
    assert no_canaries(workdir) and no_canaries(config.log_dir)
    assert launch.kickoff_file(config, "t-x").read_text() == HOSTILE


def test_exec_delivery_quotes_every_value(
        make_config: Callable[..., Path], tmux_socket: str, workdir: Path, wait_for) -> None:
    record = workdir / "rec.jsonl"
    template = (f"FOO=bar {{python}} -m agent_orchestrator.fakeagent --record {record} "
                "--model '{model}' {kickoff}")
    path = make_config(f"""
        [backend.wrapped]
        bin = "{template}"
        prompt_delivery = "exec"

        [[agent]]
        name = "x"
        backend = "wrapped"
        model = "it's"
        prompt = {json.dumps(HOSTILE)}
    """, socket=tmux_socket)
    fleet.up(config_mod.load(path), Tmux(tmux_socket), ["x"])
    argv = wait_for(lambda: start_event(record), what="argv record")["argv"]
    assert argv[-1] == HOSTILE
    assert argv[argv.index("--model") + 1] == "it's"
    assert no_canaries(workdir)


def test_ping_delivery_types_the_boot_line(
        make_config: Callable[..., Path], tmux_socket: str, workdir: Path, wait_for) -> None:
    record = workdir / "rec.jsonl"
    path = make_config(f"""
        [backend.tui]
        bin = "{{python}} -m agent_orchestrator.fakeagent --record {record} --busy 0.2"
        prompt_delivery = "ping"
        connect_delay = 0.5

        [[agent]]
        name = "x"
        backend = "tui"
        prompt = {json.dumps(HOSTILE)}
    """, socket=tmux_socket)
    config = config_mod.load(path)
    fleet.up(config, Tmux(tmux_socket), ["x"])

    def typed() -> str | None:
        inputs = [r["text"] for r in records(record) if r.get("event") == "input"]
        return inputs[0] if inputs else None

    line = wait_for(typed, what="the boot line to be typed and submitted")
    kickoff = launch.kickoff_file(config, "t-x")
    assert line == config_mod.BOOT_LINE.replace("{kickoff_file}", str(kickoff))
    assert kickoff.read_text() == HOSTILE
    assert no_canaries(workdir)


def test_files_are_private_whatever_the_umask(
        make_config: Callable[..., Path], tmux_socket: str, wait_for) -> None:
    old = os.umask(0o022)
    try:
        path = make_config("""
            [[agent]]
            name = "x"
            backend = "demo"
            watch = "heal"
            prompt = "hello"
        """, socket=tmux_socket)
        config = config_mod.load(path)
        fleet.up(config, Tmux(tmux_socket))
        wait_for(lambda: (config.log_dir / "events.jsonl").exists(), what="watchdog events")
        fleet.down(config, Tmux(tmux_socket))
    finally:
        os.umask(old)
    assert sessions(tmux_socket) == set()
    found = list(config.log_dir.rglob("*")) + [config.log_dir]
    assert len(found) > 4
    for item in found:
        mode = stat.S_IMODE(item.stat().st_mode)
        assert mode == (0o700 if item.is_dir() else 0o600), f"{item} has mode {oct(mode)}"
    # The launch specs (they hold the prompt) are consumed by boot.py.
    assert not list(config.state_dir.glob("launch-*.json"))


def test_resume_pins_a_new_id_then_resumes_it(make_config: Callable[..., Path],
                                              tmux_socket: str, wait_for) -> None:
    """Claude Code can be given its conversation id at launch: a restart resumes it."""
    path = make_config("""
        [backend.claude]
        bin = "{python} -m agent_orchestrator.fakeagent"

        [[agent]]
        name = "c"
        backend = "claude"
        resume = true
        prompt = "hi"
    """, socket=tmux_socket)
    config = config_mod.load(path)
    agent = config.agent("c")
    first = launch.plan_agent(config, agent, new_id=lambda: "11111111-2222")
    assert first.argv[first.argv.index("--session-id") + 1] == "11111111-2222"
    assert "--resume" not in first.argv  # claude rejects the two together
    launch.start(Tmux(tmux_socket), config, first)
    stored = state.resume_id_file(config, agent.name)
    assert stored.read_text() == "11111111-2222" and (stored.stat().st_mode & 0o777) == 0o600
    again = launch.plan_agent(config, agent, resume_id=stored.read_text(),
                              new_id=lambda: "unused")
    assert again.argv[again.argv.index("--resume") + 1] == "11111111-2222"
    assert "--session-id" not in again.argv and again.new_resume_id is None


def test_no_resume_unless_the_agent_asks(make_config: Callable[..., Path]) -> None:
    config = config_mod.load(make_config("""
        [[agent]]
        name = "c"
        backend = "claude"
    """))
    plan = launch.plan_agent(config, config.agent("c"), resume_id="abc")
    assert "--resume" not in plan.argv and "--session-id" not in plan.argv


def test_permission_skip_only_with_the_opt_in(make_config: Callable[..., Path]) -> None:
    body = """
        [backend.claude]
        skip_permissions = {flag}

        [[agent]]
        name = "c"
        backend = "claude"
        prompt = "-- not an option"
    """
    plain = config_mod.load(make_config(body.format(flag="false")))
    assert "--dangerously-skip-permissions" not in launch.plan_agent(
        plain, plain.agent("c")).argv
    opted = config_mod.load(make_config(body.format(flag="true")))
    argv = launch.plan_agent(opted, opted.agent("c")).argv
    assert argv[:2] == ("claude", "--dangerously-skip-permissions")
    assert argv[-2:] == ("--", "-- not an option")


def test_permission_skip_for_unknown_cli_is_a_config_error(
        make_config: Callable[..., Path]) -> None:
    with pytest.raises(config_mod.ConfigError, match="no known permission-skip flag"):
        config_mod.load(make_config("""
            [backend.mine]
            bin = "mine"
            skip_permissions = true
        """))
