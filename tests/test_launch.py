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


SEED_EXEC = """
    [backend.seed]
    bin = "mycli --prompt-file {kickoff} --text {kickoff_text} --again '{kickoff_file}'"
    prompt_delivery = "exec"

    [[agent]]
    name = "s"
    backend = "seed"
    prompt_file = "p.md"
"""


@pytest.mark.parametrize("text", ["hello", "it's $(x) `y` \"z\"\n- a list\n---\n\t{kickoff}"])
def test_exec_kickoff_is_the_file_and_kickoff_text_the_text(
        make_config: Callable[..., Path], text: str) -> None:
    """Seed compatibility (SPEC §3): in an exec template `{kickoff}` is the kickoff FILE's
    path, as in the original tool; `{kickoff_text}` is the text, one shell word, byte-exact."""
    import shlex

    path = make_config(SEED_EXEC)
    (path.parent / "p.md").write_text(text)
    config = config_mod.load(path)
    agent = config.agent("s")
    assert agent is not None
    plan = launch.plan_agent(config, agent)
    assert plan.argv[:2] == ("/bin/sh", "-c")
    words = shlex.split(plan.argv[2])
    file = str(launch.kickoff_file(config, agent.session))
    assert words == ["mycli", "--prompt-file", file, "--text", text, "--again", file]


def test_exec_kickoff_file_is_not_refused_for_size_but_the_text_is(
        make_config: Callable[..., Path]) -> None:
    """A 200 KB prompt: as `{kickoff}` (a path) it starts; as `{kickoff_text}` it would be
    one argument over Linux's 128 KiB and is refused before a pane dies of E2BIG."""
    path = make_config(SEED_EXEC.replace(" --text {kickoff_text}", ""))
    (path.parent / "p.md").write_text(("x" * 99 + "\n") * 2_000)
    config = config_mod.load(path)
    agent = config.agent("s")
    assert agent is not None
    assert len(launch.plan_agent(config, agent).argv[2]) < 1_000
    path.write_text(path.read_text().replace("--prompt-file {kickoff}", "{kickoff_text}"))
    config = config_mod.load(path)
    with pytest.raises(OSError, match="too long for one program argument"):
        launch.plan_agent(config, config.agent("s"))


def test_arg_flags_place_kickoff_text_and_kickoff_is_the_file(
        make_config: Callable[..., Path]) -> None:
    """`arg` delivery: `{kickoff_text}` in flags glues the text to its flag (the gemini and
    opencode presets); `{kickoff}` there is the file's path and the text goes last."""
    path = make_config("""
        [backend.glued]
        bin = "mycli"
        flags = "--prompt={kickoff_text}"

        [backend.both]
        bin = "mycli"
        flags = "--read {kickoff}"

        [[agent]]
        name = "g"
        backend = "glued"
        prompt = "- hi"

        [[agent]]
        name = "b"
        backend = "both"
        prompt = "- hi"
    """)
    config = config_mod.load(path)
    g, b = config.agent("g"), config.agent("b")
    assert g is not None and b is not None
    assert launch.plan_agent(config, g).argv == ("mycli", "--prompt=- hi")
    file = str(launch.kickoff_file(config, b.session))
    assert launch.plan_agent(config, b).argv == ("mycli", "--read", file, "- hi")


def test_ping_attach_kickoff_is_the_file(make_config: Callable[..., Path]) -> None:
    """`{kickoff}` means the kickoff file's path in a ping backend's `attach` too."""
    import shlex

    path = make_config("""
        [backend.pinged]
        bin = "mycli"
        prompt_delivery = "ping"
        attach = "{bin} --read {kickoff} --also '{kickoff_file}'"

        [[agent]]
        name = "p"
        backend = "pinged"
        prompt = "hi"
    """)
    config = config_mod.load(path)
    agent = config.agent("p")
    assert agent is not None
    file = str(launch.kickoff_file(config, agent.session))
    line = launch.plan_agent(config, agent).argv[2]
    assert shlex.split(line.split("; ")[-1]) == ["mycli", "--read", file, "--also", file]
