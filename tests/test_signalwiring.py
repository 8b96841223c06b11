"""runtime/signalwiring.py: each CLI is told, per agent and at launch, to hand us its own
signals, never through the user's settings files; the commands it is given really store
a signal when run as the CLI runs them (Claude: through a shell; Codex: argv + payload)."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

from conftest import write_config

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Config
from agent_orchestrator.doors import signals
from agent_orchestrator.runtime import launch, signalwiring


def fleet(tmp_path: Path) -> Config:
    folder = tmp_path / "a dir with 'quotes' and spaces"
    folder.mkdir()
    return config_mod.load(write_config(folder, """
        [[agent]]
        name = "cc"
        backend = "claude"
        prompt = "go"

        [[agent]]
        name = "cx"
        backend = "codex"
        prompt = "go"

        [[agent]]
        name = "gm"
        backend = "gemini"
        prompt = "go"
    """))


def test_claude_gets_a_private_settings_file_whose_hooks_store_signals(tmp_path: Path) -> None:
    config = fleet(tmp_path)
    agent = config.agent("cc")
    assert agent is not None
    plan = launch.plan_agent(config, agent)
    path = signalwiring.settings_file(config, agent.session)
    assert plan.argv[1:3] == ("--settings", str(path))
    assert [p for p, _ in plan.files] == [path]
    body = json.loads(dict(plan.files)[path])
    assert set(body["hooks"]) == set(signalwiring.CLAUDE_EVENTS)
    command = body["hooks"]["Stop"][0]["hooks"][0]["command"]
    # Claude Code runs hook commands through a shell: run it the same way.
    done = subprocess.run(["/bin/sh", "-c", command], input=json.dumps(
        {"hook_event_name": "Stop", "session_id": "s"}), text=True, capture_output=True,
        timeout=30)
    assert done.returncode == 0 and done.stderr == ""
    stored = signals.read(signals.signals_dir(config.state_dir), "cc")
    assert stored is not None and stored.signal.turn_finished
    assert plan.forget == (signals.signal_file(signals.signals_dir(config.state_dir), "cc"),)


def test_codex_gets_its_notify_program_on_the_command_line(tmp_path: Path) -> None:
    config = fleet(tmp_path)
    agent = config.agent("cx")
    assert agent is not None
    plan = launch.plan_agent(config, agent)
    assert plan.argv[1] == "-c" and plan.files == ()
    notify = tomllib.loads(plan.argv[2])["notify"]  # codex parses `-c` values as TOML
    assert notify == signalwiring.hook_argv(config, agent, "codex")
    payload = json.dumps({"type": "agent-turn-complete", "last-assistant-message": "done"})
    done = subprocess.run([*notify, payload], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    stored = signals.read(signals.signals_dir(config.state_dir), "cx")
    assert stored is not None and stored.turns == 1


def test_gemini_gets_its_hooks_as_system_defaults_in_its_environment(tmp_path: Path) -> None:
    config = fleet(tmp_path)
    agent = config.agent("gm")
    assert agent is not None
    plan = launch.plan_agent(config, agent)
    path = signalwiring.settings_file(config, agent.session)
    assert dict(plan.env)["GEMINI_CLI_SYSTEM_DEFAULTS_PATH"] == str(path)
    assert "--settings" not in plan.argv
    body = json.loads(dict(plan.files)[path])
    assert set(body["hooks"]) == set(signalwiring.GEMINI_EVENTS)
    command = body["hooks"]["AfterAgent"][0]["hooks"][0]["command"]
    done = subprocess.run(["/bin/sh", "-c", command], input=json.dumps(
        {"hook_event_name": "AfterAgent", "prompt": "go"}), text=True, capture_output=True,
        timeout=30)
    assert done.returncode == 0 and done.stderr == ""
    stored = signals.read(signals.signals_dir(config.state_dir), "gm")
    assert stored is not None and stored.signal.turn_finished


def test_a_cli_without_signals_is_left_alone(tmp_path: Path) -> None:
    config = fleet(tmp_path)
    for name in ("aider", "opencode"):
        backend = config.backend(name)
        assert not backend.signals
        agent = config.agents[0]
        assert signalwiring.wiring(config, agent, backend) == signalwiring.Wiring()
