"""Reliability cases T47–T48 (issue #14, item 8): debris after a watchdog's crash.

- T47 kill -9 mid verify gate: the loop's phase is DONE on origin/main and its gate sleeps;
  the watchdog is killed with SIGKILL while the gate runs, leaving its scratch folder, a
  registered git worktree and the gate's process — the next watchdog start removes all
  three (`debris-removed` event): no scratch folder of the dead watchdog, `git worktree
  list` without its tree, its gate's process gone.
- T48 orphaned control client: a `tmux -C` client of our server whose watchdog is gone
  (its stdin kept open by someone else, so it never sees end of file) is ended by the next
  watchdog start; a client the watchdog starts dies with it (PR_SET_PDEATHSIG), even when
  a forked process still holds its stdin open.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from conftest import clone_repo, git, wait_until
from harness import Fleet, demo_agent

from agent_orchestrator import config as config_mod
from agent_orchestrator.doors import lock
from agent_orchestrator.doors.gitrelay import SCRATCH_PREFIX

pytestmark = [pytest.mark.tmux, pytest.mark.slow]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def scratch_of(pid: int) -> list[Path]:
    return sorted(Path(os.path.realpath(tempfile.gettempdir())).glob(
        f"{SCRATCH_PREFIX}{pid}-*"))


def working_in(folder: Path) -> list[int]:
    pids = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{name}/cwd").startswith(str(folder)):
                pids.append(int(name))
        except OSError:
            continue
    return pids


def dog_pid(fleet: Fleet) -> int | None:
    return lock.read_lock_pid(config_mod.load(fleet.path))


def loop_fleet(make_fleet, tmp_path: Path) -> tuple[Fleet, Path]:
    """A loop whose only phase is DONE on origin/main, with a gate that sleeps 10 min."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    seed = clone_repo(origin, tmp_path / "seed")
    (seed / "STATUS.md").write_text("# phase\n\n## DONE\nEverything passed.\n")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "done")
    git(seed, "push", "-q", "origin", "HEAD:main")
    watch = clone_repo(origin, tmp_path / "watch")
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "builder.md").write_text("Build.\n")
    body = "[watchdog]\nsignal_interval = 0.3\nheavy_interval = 0.3\n" + \
        demo_agent("a", tmp_path) + textwrap.dedent(f"""
        [[agent]]
        name = "lp"
        kind = "loop"
        role = "builder"
        watch = "none"
        backend = "demoa"

        [loop]
        phases = [{{ id = "p1", status = "STATUS.md", verify = ["sleep 600"] }}]

        [loop.handoff]
        repo = "{watch}"
        state_subdir = ""
        claim_pings = "builder"
        review_pings = "builder"
        """)
    return make_fleet(body), watch


def test_t47_kill_9_mid_gate_leaves_no_debris(make_fleet, tmp_path: Path) -> None:
    """FAULT: SIGKILL to the watchdog while its verify gate (`sleep 600`) runs.
    EXPECTED: the debris is there (scratch folder, registered worktree, the gate's
    process); after `agents up` starts a new watchdog, all three are gone and a
    `debris-removed` event names the folder."""
    fleet, watch = loop_fleet(make_fleet, tmp_path)
    assert fleet.agents("up").returncode == 0, fleet.agents("status").stdout
    fleet.wait_event(None, "verify", timeout=30)
    first = wait_until(lambda: dog_pid(fleet), what="the watchdog's pid")
    [scratch] = wait_until(lambda: scratch_of(first), what="the gate's scratch folder")
    wait_until(lambda: working_in(scratch), what="the gate's process")
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: not alive(first), what="the watchdog to die")
    gate = working_in(scratch)
    assert scratch.exists() and gate  # the debris really is there
    assert str(scratch / "tree") in git(watch, "worktree", "list", "--porcelain")
    assert fleet.agents("up").returncode == 0
    wait_until(lambda: [e for e in fleet.events(None, "debris-removed")
                        if str(scratch) in str(e["reason"])], timeout=30,
               what="debris-removed naming the scratch folder")
    assert not scratch.exists()
    assert f"{SCRATCH_PREFIX}{first}-" not in git(watch, "worktree", "list", "--porcelain")
    wait_until(lambda: not any(alive(p) for p in gate), what="the old gate's process to end")


def test_t48_orphaned_control_client_is_ended_at_start(make_fleet, tmp_path: Path) -> None:
    """FAULT: a control-mode client of our server (exactly as the watchdog starts one)
    whose parent is not a watchdog and whose stdin is held open.
    EXPECTED: the next watchdog start ends it (`debris-removed` names its pid)."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    read_end, write_end = os.pipe()
    try:
        dog = wait_until(lambda: dog_pid(fleet), what="the watchdog")
        os.kill(dog, signal.SIGTERM)
        wait_until(lambda: not alive(dog), what="the watchdog to stop")
        orphan = subprocess.Popen(
            ["tmux", "-L", fleet.socket, "-C", "attach-session", "-t", "=e-a", "-f",
             "ignore-size,no-output"], stdin=read_end, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(read_end)
        wait_until(lambda: "control" in subprocess.run(
            ["tmux", "-L", fleet.socket, "list-clients", "-F", "#{client_control_mode}"
             " control"], capture_output=True, text=True, check=False).stdout,
            what="the control client to attach")
        assert fleet.agents("up").returncode == 0
        wait_until(lambda: [e for e in fleet.events(None, "debris-removed")
                            if str(orphan.pid) in str(e["reason"])], timeout=30,
                   what="debris-removed naming the orphan's pid")
        orphan.wait(timeout=10)
    finally:
        os.close(write_end)


CHILD = """
import os, signal, sys, time
from agent_orchestrator.doors.tmux import Tmux
for _ in range(50):  # a client that could not attach (a busy server) is tried again
    client = Tmux(socket_name=sys.argv[1]).attach_control(sys.argv[2])
    time.sleep(0.1)
    if client.poll() is None:
        break
if os.fork() == 0:  # a fork that keeps the client's stdin open, as any fork could
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    time.sleep(600)
    os._exit(0)
print(client.pid, flush=True)
time.sleep(600)
"""


def test_t48_control_client_dies_with_its_watchdog(make_fleet, tmp_path: Path) -> None:
    """FAULT: the process that started a control client (as the watchdog does) is killed
    with SIGKILL while a forked process of it still holds the client's stdin open.
    EXPECTED: the client is gone within seconds all the same (PR_SET_PDEATHSIG)."""
    fleet = make_fleet(demo_agent("a", tmp_path))
    assert fleet.agents("up").returncode == 0
    wait_until(lambda: fleet.pane_pid("e-a"), what="the agent")
    parent = subprocess.Popen([sys.executable, "-c", CHILD, fleet.socket, "e-a"],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert parent.stdout is not None
        client = int(parent.stdout.readline())
        assert alive(client)
        parent.kill()
        parent.wait()
        wait_until(lambda: not alive(client), timeout=10, what="the client to die")
    finally:
        os.killpg(parent.pid, signal.SIGKILL)  # the fork holding the pipe: ours


def test_t47_a_task_gates_scratch_of_a_dead_watchdog_is_removed_without_a_handoff(
        tmp_path: Path) -> None:
    """FAULT: a watchdog killed during a TASK's verify gate (doors/worktrees.py) leaves its
    scratch folder; the fleet has no loop, so no handoff repo to clean through.
    EXPECTED: the next start's sweep removes it (and leaves a live watchdog's alone)."""
    from agent_orchestrator.doors import orphans

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    root = Path(tempfile.gettempdir())
    stale = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{dead.pid}-task-", dir=root))
    (stale / "output").write_text("gate output\n")
    live = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-task-", dir=root))
    try:
        removed = orphans.verify_debris(None)
        assert Path(os.path.realpath(stale)) in removed and not stale.exists()
        assert live.exists()
    finally:
        import shutil
        shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(live, ignore_errors=True)
