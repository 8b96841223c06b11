"""doors/cgroups.py on this machine's real cgroup v2 hierarchy (skipped where there is none
we may write): a run's daemon that left its agent's process tree, session and environment
is still ended through the cgroup its agent joined, and only the runs asked for are."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from conftest import wait_until

from agent_orchestrator.doors import cgroups


def writable() -> str | None:
    """Why cgroups cannot be tried here (None: they can)."""
    base = cgroups.own()
    if base is None:
        return "no cgroup v2 hierarchy mounted"
    probe = base / cgroups.FOLDER / f"probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir(parents=True)
        probe.rmdir()
    except OSError as exc:
        return f"cgroup {base} is not ours to write: {exc.strerror}"
    return None


pytestmark = pytest.mark.skipif(writable() is not None, reason=writable() or "")

# One run of an agent: joins its cgroup as boot.py does, starts a daemon that double-forks,
# calls setsid and drops its environment, then exits (the agent died).
RUN = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from agent_orchestrator.doors import cgroups
    socket, session, launch, record, pidfile = sys.argv[1:6]
    group = cgroups.join(cgroups.run_name(socket, session, launch))
    assert group is not None
    cgroups.record(Path(record), group)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            Path(pidfile).write_text(str(os.getpid()))
            os.execve("/bin/sleep", ["sleep", "600"], {})
        os._exit(0)
    time.sleep(0.2)
""")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run(tmp_path: Path, socket: str, launch: str, session: str = "e-a") -> int:
    pidfile = tmp_path / f"daemon-{session}-{launch}.pid"
    subprocess.run([sys.executable, "-c", RUN, socket, session, launch,
                    str(tmp_path / "record"), str(pidfile)], check=True, timeout=30,
                   env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    return int(wait_until(lambda: pidfile.exists() and pidfile.read_text(),
                          what="the daemon's pid"))


def test_a_daemon_that_outlived_its_agent_is_ended_with_its_run(tmp_path: Path) -> None:
    socket = f"test-{uuid.uuid4().hex[:8]}"
    daemon = run(tmp_path, socket, "one")
    try:
        assert alive(daemon)
        assert b"AO_" not in Path(f"/proc/{daemon}/environ").read_bytes()  # no tag to find
        group = Path((tmp_path / "record").read_text())
        assert group.name == cgroups.run_name(socket, "e-a", "one")
        assert str(daemon) in (group / "cgroup.procs").read_text().split()
        assert cgroups.end_runs(tmp_path / "record", socket, "e-a") == 1
        wait_until(lambda: not alive(daemon), what="the daemon to be killed")
        assert not group.exists()
        assert cgroups.end_runs(tmp_path / "record", socket, "e-a") == 0  # nothing left
    finally:
        if alive(daemon):
            os.kill(daemon, 9)


def test_a_new_run_ends_the_earlier_runs_not_its_own(tmp_path: Path) -> None:
    socket, other_socket = f"test-{uuid.uuid4().hex[:8]}", f"test-{uuid.uuid4().hex[:8]}"
    old, new = run(tmp_path, socket, "old"), run(tmp_path, socket, "new")
    (tmp_path / "x").mkdir()
    other = run(tmp_path / "x", other_socket, "old")  # the same session on another server
    sibling = run(tmp_path / "x", socket, "old", session="e-b")
    try:
        assert cgroups.end_runs(tmp_path / "record", socket, "e-a", but="new") == 1
        wait_until(lambda: not alive(old), what="the earlier run's daemon to be killed")
        assert alive(new) and alive(other) and alive(sibling)
        assert cgroups.end_runs(tmp_path / "record", socket, "e-a") == 1
        wait_until(lambda: not alive(new), what="the run's daemon to be killed")
        assert alive(other) and alive(sibling)
        # A server's end ends every run of its sessions, and no other server's.
        group = Path((tmp_path / "x" / "record").read_text())
        assert cgroups.end_server(group.parent, socket) == 1
        wait_until(lambda: not alive(sibling), what="the server's other session's daemon")
        assert alive(other)
        assert cgroups.end_server(group.parent, other_socket) == 1
    finally:
        for pid in (old, new, other, sibling):
            if alive(pid):
                os.kill(pid, 9)


def test_nothing_is_joined_outside_a_cgroup_hierarchy(monkeypatch, tmp_path: Path) -> None:
    """A folder that is no cgroup (no cgroup.procs of the kernel's) is never written to."""
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setattr(cgroups, "own", lambda: plain)
    name = cgroups.run_name("t", "e-a", "one")
    assert cgroups.join(name) is None
    (plain / "cgroup.procs").write_text("")  # looks like one, but its children are plain
    assert cgroups.join(name) is None
    assert not list(plain.rglob("ao-*"))


# Inside an agent's run, as a lead agent calling `agents up` is: the tmux server it starts.
SERVER = textwrap.dedent("""
    import sys
    from agent_orchestrator.doors import cgroups
    from agent_orchestrator.doors.tmux import Tmux
    socket, launch = sys.argv[1:3]
    assert cgroups.join(cgroups.run_name(socket, "e-lead", launch)) is not None
    Tmux(socket).start("e-worker", ["sleep", "600"])
""")


def test_a_tmux_server_started_inside_a_run_is_not_killed_with_it(tmux_socket: str) -> None:
    subprocess.run([sys.executable, "-c", SERVER, tmux_socket, "one"], check=True, timeout=30,
                   env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    out = subprocess.run(["tmux", "-L", tmux_socket, "display-message", "-p", "-t",
                          "=e-worker:", "#{pid}"], capture_output=True, text=True, timeout=10)
    server = int(out.stdout)
    group = cgroups.own()
    assert group is not None
    run_group = group / cgroups.FOLDER / cgroups.run_name(tmux_socket, "e-lead", "one")
    assert run_group.name not in Path(f"/proc/{server}/cgroup").read_text()
    assert cgroups.kill(run_group) == 0  # the run held no process: the server left it
    assert alive(server)
