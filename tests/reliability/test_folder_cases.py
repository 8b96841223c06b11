"""Reliability cases T45–T46 (issue #14, item 6): a `log_dir` in a shared folder.

- T45 symlinks planted where our logs go: `log_dir` is a shared sticky folder (mode 1777)
  in which someone planted `events.jsonl` and the agent's `<session>.log` as symlinks to
  files of theirs — the fleet runs, the agent prints and is restarted, and neither target
  is written or re-moded (every file we write is opened O_NOFOLLOW); supervision goes on.
- T46 folders we did not create: `log_dir` is a shared sticky folder (1777) made by someone
  else — after `up` and a watchdog restart it is still 1777 (never chmod-ed to 0700); a
  `log_dir` in a folder anyone can write to WITHOUT the sticky bit is refused by `check`
  and `up` with the fix in the message (exit 1, no traceback, nothing started).
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import sessions, tmux_cmd, wait_until, write_config
from harness import Fleet, demo_agent

from agent_orchestrator import config as config_mod
from agent_orchestrator.doors import lock


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def shared_log_dir(tmp_path: Path) -> Path:
    """`tmp_path/logs` → a folder like /tmp: anyone may create files in it (1777)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    (tmp_path / "logs").symlink_to(shared)
    return shared


def run_agents(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent_orchestrator", *args, "--config",
                           str(config)], capture_output=True, text=True, timeout=30,
                          check=False)


@pytest.mark.tmux
@pytest.mark.slow
def test_t45_planted_symlinks_are_never_written_through(make_fleet, tmp_path: Path) -> None:
    """FAULT: in the shared log_dir, events.jsonl and e-a.log are symlinks someone planted,
    pointing at their own files (mode 0644).
    EXPECTED: the agent starts, runs and is restarted after a crash (supervision goes on);
    both targets keep their content and mode; the links are still links."""
    shared = shared_log_dir(tmp_path)
    victims = {}
    for name in ("events.jsonl", "e-a.log"):
        victim = tmp_path / f"theirs-{name}"
        victim.write_text("their file\n")
        os.chmod(victim, 0o644)
        (shared / name).symlink_to(victim)
        victims[name] = victim
    fleet: Fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path))
    assert fleet.agents("up").returncode == 0
    pid = wait_until(lambda: fleet.pane_pid("e-a"), what="the agent")
    wait_until(lambda: fleet.records("a"), what="the agent to run")
    config = config_mod.load(fleet.path)
    wait_until(lambda: lock.read_lock_pid(config), what="the watchdog")
    fleet.control("a", "crash 1")
    wait_until(lambda: fleet.pane_pid("e-a") not in (None, pid), what="the restart")
    wait_until(lambda: tmux_cmd(fleet.socket, "capture-pane", "-p", "-t", "=e-a:").stdout
               .strip(), what="output for the session log")
    for name, victim in victims.items():
        assert (shared / name).is_symlink(), name
        assert victim.read_text() == "their file\n", name
        assert mode(victim) == 0o644, name


@pytest.mark.tmux
@pytest.mark.slow
def test_t46_a_shared_log_dir_keeps_its_mode(make_fleet, tmp_path: Path) -> None:
    """FAULT: log_dir is a shared folder (mode 1777) that someone else created.
    EXPECTED: after `up`, and after the watchdog is restarted (its start-up tidying runs
    again), it is still 1777; our own state folder in it is 0700."""
    shared = shared_log_dir(tmp_path)
    fleet: Fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    assert mode(shared) == 0o1777
    config = config_mod.load(fleet.path)
    dog = lock.read_lock_pid(config)
    assert dog is not None
    os.kill(dog, signal.SIGTERM)
    wait_until(lambda: fleet.events(None, "watchdog-stop"), what="the watchdog to stop")
    assert fleet.agents("up").returncode == 0
    wait_until(lambda: len(fleet.events(None, "watchdog-start")) == 2, what="a new watchdog")
    assert mode(shared) == 0o1777
    assert mode(shared / "state") == 0o700


def test_t46_log_dir_in_a_folder_anyone_can_write_is_refused(tmp_path: Path,
                                                             tmux_socket: str) -> None:
    """FAULT: log_dir's parent is mode 0777 without the sticky bit (anyone may rename or
    replace what is in it).
    EXPECTED: `agents check` and `agents up` exit 1 naming the folder and the fix
    (chmod o-w / +t, or another log_dir), no traceback; no session is started."""
    open_folder = tmp_path / "open"
    open_folder.mkdir()
    os.chmod(open_folder, 0o777)
    config = write_config(tmp_path, demo_agent("a", tmp_path), socket=tmux_socket)
    config.write_text(config.read_text().replace('log_dir = "logs"', 'log_dir = "open/logs"'))
    for verb in ("check", "up"):
        result = run_agents(config, verb)
        text = result.stdout + result.stderr
        assert result.returncode == 1, (verb, text)
        assert "Traceback" not in text
        assert str(open_folder) in text and f"chmod o-w {open_folder}" in text, text
        assert "sticky" in text
    assert sessions(tmux_socket) == set()
    assert not (open_folder / "logs").exists()
    os.chmod(open_folder, 0o1777)  # sticky: like /tmp, fine
    assert run_agents(config, "check").returncode == 0


def test_t46_private_dir_modes_only_what_it_creates(tmp_path: Path) -> None:
    """FAULT: a shared folder (1777) exists; folders below it are missing; umask 022.
    EXPECTED: the shared folder keeps 1777; each folder we create is 0700."""
    from agent_orchestrator.doors.files import private_dir

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    old = os.umask(0o022)
    try:
        private_dir(shared / "logs" / "state")
        private_dir(shared)
    finally:
        os.umask(old)
    assert [mode(p) for p in (shared, shared / "logs", shared / "logs" / "state")] == \
        [0o1777, 0o700, 0o700]


def test_t45_open_private_refuses_a_planted_symlink(tmp_path: Path) -> None:
    """FAULT: a symlink at the name of a file we are about to append to.
    EXPECTED: ELOOP; the target keeps its content and mode."""
    from agent_orchestrator.doors.files import open_private, touch_private

    victim = tmp_path / "theirs"
    victim.write_text("x")
    os.chmod(victim, 0o644)
    (tmp_path / "ours.log").symlink_to(victim)
    for attempt in (lambda: open_private(tmp_path / "ours.log", os.O_WRONLY),
                    lambda: touch_private(tmp_path / "ours.log")):
        with pytest.raises(OSError) as caught:
            attempt()
        assert caught.value.errno == errno.ELOOP
    assert victim.read_text() == "x" and mode(victim) == 0o644
