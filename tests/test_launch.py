"""Launching agents for real: resume ids, permission skips. (Hostile prompts through every
delivery: tests/reliability/test_injection_cases.py; file modes: test_state_cases.py T35.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent_orchestrator import config as config_mod
from agent_orchestrator.doors import markers
from agent_orchestrator.doors.tmux import Tmux
from agent_orchestrator.runtime import launch

pytestmark = pytest.mark.tmux


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
    stored = markers.resume_id_file(config, agent.name)
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
