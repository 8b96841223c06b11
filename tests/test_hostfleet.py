"""Planning and doors for agents on other hosts, without a host: the plan names the host's
files and interpreter (never this machine's), no hooks are wired, and the door across hosts
is only made (and made again) when the config places agents elsewhere."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from conftest import write_config

from agent_orchestrator.config import load
from agent_orchestrator.doors.tmux import Tmux
from agent_orchestrator.runtime import hostfleet, launch
from agent_orchestrator.runtime.hosts import FleetTmux
from agent_orchestrator.runtime.workers import Workers

BODY = """
    [host.far]
    ssh = "nobody@far.invalid"
    python = "/opt/py/bin/python3"

    [[agent]]
    name = "builder"
    host = "far"
    backend = "claude"
    dir = "/srv/work"
    prompt_file = "~/prompts/builder.md"

    [[agent]]
    name = "here"
    backend = "demo"
    prompt = "hi"

    [backend.claude]
    bin = "{python} -m some.cli"
    signals = "claude"
"""


def test_a_remote_plan_names_the_hosts_kickoff_file_and_python(tmp_path: Path) -> None:
    config = load(write_config(tmp_path / "p", BODY, "hf"))
    agent = config.agent("builder")
    assert agent is not None
    plan = launch.plan_agent(config, agent, kickoff="go {x}",
                             kickoff_path=Path("/run/far/kickoff-t-builder.txt"))
    assert plan.argv[0] == "/opt/py/bin/python3"
    assert "--settings" not in plan.argv and plan.files == ()  # judged by its screen
    assert plan.argv[-1] == "go {x}" and plan.cwd == Path("/srv/work")
    assert not any(str(config.log_dir) in word for word in plan.argv)


def test_the_door_is_this_machines_tmux_without_hosts(tmp_path: Path) -> None:
    config = load(write_config(tmp_path / "p", 'prompt = "x"\n[[agent]]\nname = "a"\n'
                               'backend = "demo"\n', "hf"))
    local = Tmux("hf")
    assert hostfleet.open_fleet(config, local, lambda: None) is local
    assert hostfleet.local_of(local) is local


def test_the_door_is_made_again_only_when_placement_changes(tmp_path: Path) -> None:
    config = load(write_config(tmp_path / "p", BODY, "hf"))
    workers = Workers(lambda: None)
    door = hostfleet.open_fleet(config, Tmux("hf"), lambda: None, first_look=10)
    try:
        assert isinstance(door, FleetTmux)
        assert door.remote_of("t-builder") == "far" and door.remote_of("t-here") is None
        look = door.pollers["far"].latest()  # looked once (a verb): far.invalid is no host
        assert look is not None and look.error is not None
        assert door.snapshot().unreachable.keys() == {"far"}
        assert hostfleet.local_of(door) is door.local
        quieter = dataclasses.replace(config, log_keep=3)
        assert hostfleet.reopened(door, config, quieter, workers, lambda: None) is door
        moved = dataclasses.replace(config, agents=tuple(
            dataclasses.replace(a, host=None, dir=Path("/tmp")) for a in config.agents))
        other = hostfleet.reopened(door, config, moved, workers, lambda: None)
        assert other is not door and isinstance(other, FleetTmux)
        assert other.placement == {}
        hostfleet.close(other)
    finally:
        workers.close()
        hostfleet.close(door)


def test_each_verb_has_its_own_ssh_folder_and_a_dead_verbs_empty_one_goes(
        tmp_path: Path) -> None:
    """The watchdog's masters and a verb's never share a folder (closing one ends every
    channel on it); a killed verb's empty folder is removed by the next verb."""
    import os

    config = load(write_config(tmp_path, BODY))
    watchdog = hostfleet.control_dir(config)
    root = watchdog.parent
    gone = root / "v999999999"  # no such pid
    busy = root / "v999999998"
    for folder in (gone, busy, root / "vx"):
        folder.mkdir(parents=True)
    (busy / "sock").write_text("")  # its master still runs (ControlPersist)
    mine = hostfleet.control_dir(config, verb=True)
    assert mine == root / f"v{os.getpid()}" and watchdog == root / "w"
    assert not gone.exists() and busy.exists() and (root / "vx").exists()
