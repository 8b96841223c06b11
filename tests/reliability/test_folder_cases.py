"""Reliability cases T45–T46 (issue #14, item 6): a `log_dir` in a shared folder.

- T45 symlinks planted where our logs go: `log_dir` is a shared sticky folder (mode 1777)
  in which someone planted `events.jsonl` and the agent's `<session>.log` as symlinks to
  files of theirs — the fleet runs, the agent prints and is restarted, and neither target
  is written or re-moded (every file we write is opened O_NOFOLLOW); supervision goes on.
  A planted `log_dir/worktrees` symlink (or a folder there not ours alone) is refused with
  a clear error: no worktree is checked out, written or removed through it.
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


# ----------------------------------------------- T45: a planted `log_dir/worktrees` link


def worktree_project(tmp_path: Path) -> config_mod.Config:
    """tmp_path as a git repo, and a config with one agent working in its own worktree
    (`log_dir/worktrees/agents/w`)."""
    from conftest import git

    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-q",
        "--allow-empty", "-m", "base")
    path = write_config(tmp_path, """
        [[agent]]
        name = "w"
        backend = "demo"
        worktree = true
    """)
    (tmp_path / "logs").mkdir(mode=0o700)
    return config_mod.load(path)


def victim_folder(tmp_path: Path) -> Path:
    """Someone's folder, with what a half-made worktree's clean-up would remove."""
    victim = tmp_path / "theirs"
    (victim / "agents" / "w").mkdir(parents=True)
    (victim / "agents" / "w" / "keep.txt").write_text("theirs\n")
    return victim


@pytest.mark.parametrize("planted", ["symlink", "symlink-below", "foreign", "writable"])
def test_t45_a_planted_worktrees_folder_is_refused(tmp_path: Path, planted: str) -> None:
    """FAULT: `log_dir/worktrees` (or `log_dir/worktrees/agents`) is a symlink someone
    planted to a folder of theirs, or a folder owned by someone else, or one others can
    write to.
    EXPECTED: the agent's worktree is not made (`agents up` skips it saying why; the
    watchdog's worker fails with the same message, `worktree-failed`): nothing is checked
    out, written or removed through it — the target keeps its files (was: the half-made
    tree's clean-up `rm -rf` ran in the target, and the checkout landed there)."""
    from agent_orchestrator.doors import files, worktrees
    from agent_orchestrator.runtime import fleet

    config = worktree_project(tmp_path)
    victim = victim_folder(tmp_path)
    home = tmp_path / "logs" / "worktrees"
    if planted == "symlink":
        home.symlink_to(victim)
        bad, why = home, f"is a symlink (to {victim})"
    elif planted == "symlink-below":
        home.mkdir(mode=0o700)
        (home / "agents").symlink_to(victim / "agents")
        bad, why = home / "agents", "is a symlink"
    elif planted == "foreign":
        if os.geteuid() != 0:
            pytest.skip("making a folder someone else owns needs root")
        home.mkdir(mode=0o700)
        os.chown(home, 54321, 54321)
        bad, why = home, "is owned by uid 54321, not by you"
    else:
        home.mkdir()
        os.chmod(home, 0o777)
        bad, why = home, "can be written by others (mode 0777)"
    with pytest.raises(files.NotOurFolder) as caught:
        worktrees.ensure_agent_tree(config, config.agents[0])
    assert str(caught.value).startswith(f"{bad} {why}")
    assert "remove it (it is made again, private)" in str(caught.value)
    outcome = fleet._worktree(config, config.agents[0])
    assert outcome is not None and outcome.action == "skipped"
    assert f"{bad} {why}" in outcome.detail
    assert (victim / "agents" / "w" / "keep.txt").read_text() == "theirs\n"
    assert sorted(p.name for p in victim.rglob("*")) == ["agents", "keep.txt", "w"]


def test_t45_worktrees_made_by_us_are_private_and_accepted(tmp_path: Path) -> None:
    """Control: no `worktrees` folder yet: it is made 0700 and the worktree is made."""
    from agent_orchestrator.doors import worktrees

    config = worktree_project(tmp_path)
    worktrees.ensure_agent_tree(config, config.agents[0])
    assert worktrees.ready(worktrees.agent_tree(config, "w"))
    assert mode(tmp_path / "logs" / "worktrees") == 0o700
    assert mode(tmp_path / "logs" / "worktrees" / "agents") == 0o700


def test_t45_a_task_worktree_is_never_removed_through_a_planted_link(tmp_path: Path) -> None:
    """FAULT: after a task ended, `log_dir/worktrees` was swapped for a symlink to someone's
    folder holding `tasks/<task>`. EXPECTED: the clean-up refuses (reported as the task's
    `task-error`), and their folder keeps its files (was: `rm -rf` through the link)."""
    from agent_orchestrator.doors import files, worktrees

    config = worktree_project(tmp_path)
    victim = tmp_path / "theirs"
    (victim / "tasks" / "t1").mkdir(parents=True)
    (victim / "tasks" / "t1" / "keep.txt").write_text("theirs\n")
    (tmp_path / "logs" / "worktrees").symlink_to(victim)
    with pytest.raises(files.NotOurFolder, match="is a symlink"):
        worktrees.TaskGit(tmp_path).remove(worktrees.task_tree(config, "t1"),
                                           root=config.log_dir)
    assert (victim / "tasks" / "t1" / "keep.txt").read_text() == "theirs\n"
