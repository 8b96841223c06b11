"""Shared fixtures: every test runs with a private HOME and TMUX_TMPDIR, and tmux tests get a
private tmux server (`-L <unique name>`) that is killed afterwards. Nothing here can reach
the user's default tmux server: even a call that forgot `-L` would land in the temp dir."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agent_orchestrator.doors import cgroups, proctree

_counter = itertools.count()
_servers: list[str] = []  # every tmux_socket of this test process
T = TypeVar("T")


@pytest.fixture(scope="session", autouse=True)
def no_cgroup_left() -> Iterator[None]:
    """Once more at the end: a run's cgroup whose last process was still dying when its
    test ended (a loaded machine) could not be removed then (doors/cgroups.py)."""
    yield
    if (own := cgroups.own()) is not None:
        for name in _servers:
            cgroups.end_server(own / cgroups.FOLDER, name)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    # Short: a unix socket path must stay under 108 bytes, and pytest's tmp paths are long.
    tmux_tmp = tempfile.mkdtemp(prefix="ao-")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMUX_TMPDIR", tmux_tmp)
    monkeypatch.setenv("XDG_RUNTIME_DIR", tmux_tmp)  # launch files (doors/rundir.py)
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("TMUX_PANE", raising=False)
    for name in list(os.environ):
        if name.startswith(("AGENT_MODEL_", "AGENT_BACKEND_")):
            monkeypatch.delenv(name)
    yield
    shutil.rmtree(tmux_tmp, ignore_errors=True)


@pytest.fixture
def tmux_socket() -> Iterator[str]:
    """A unique private tmux socket name; its server is killed after the test."""
    name = f"aot{os.getpid()}x{next(_counter)}"
    _servers.append(name)
    yield name
    # Everything launched on this server carries its tag: a watchdog ignores SIGHUP (to
    # outlive a killed server), so killing the server alone would leave it running.
    proctree.terminate(proctree.tagged(proctree.launch_tag(name, ""), prefix=True))
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True, check=False)
    if (own := cgroups.own()) is not None:  # the runs' cgroups (doors/cgroups.py), if any
        cgroups.end_server(own / cgroups.FOLDER, name)


def wait_until(predicate: Callable[[], T | None], timeout: float = 15.0,
               interval: float = 0.05, what: str = "condition") -> T:
    """Poll `predicate` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def holds_for(predicate: Callable[[], object], seconds: float, interval: float = 0.05,
              what: str = "condition") -> None:
    """Poll `predicate` for `seconds` and fail the test the moment it is falsy: how a test
    asserts that something does NOT happen (no restart, no canary) over a stretch of time."""
    deadline = time.monotonic() + seconds
    while True:
        if not predicate():
            pytest.fail(f"{what} stopped holding")
        if time.monotonic() > deadline:
            return
        time.sleep(interval)


@pytest.fixture
def wait_for() -> Callable[..., object]:
    return wait_until


def write_config(folder: Path, body: str, socket: str | None = None,
                 prefix: str = "t-") -> Path:
    """Write agents.toml with a [defaults] table (private socket, log dir) plus `body`."""
    folder.mkdir(parents=True, exist_ok=True)
    head = f'[defaults]\nsession_prefix = "{prefix}"\nlog_dir = "logs"\n'
    if socket:
        head += f'tmux_socket = "{socket}"\n'
    path = folder / "agents.toml"
    path.write_text(head + textwrap.dedent(body), encoding="utf-8")
    return path


def write_project(folder: Path, text: str, files: tuple[str, ...] = ()) -> Path:
    """Write `text` as folder/agents.toml as is, and create each of `files` (relative
    paths, e.g. prompt files the config names) with some content."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"contents of {name}\n", encoding="utf-8")
    path = folder / "agents.toml"
    path.write_text(text, encoding="utf-8")
    return path


def git(cwd: Path, *args: str) -> str:
    """The TEST's own plain git (it may run hooks: the repos a test makes are benign when
    it runs); its output, stripped."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True, timeout=30).stdout.strip()


def clone_repo(origin: Path, dest: Path) -> Path:
    """A clone of `origin` at `dest` with a committer identity, on branch main."""
    subprocess.run(["git", "clone", "-q", str(origin), str(dest)], check=True,
                   capture_output=True, timeout=30)
    git(dest, "config", "user.name", "Test")
    git(dest, "config", "user.email", "test@example.com")
    git(dest, "symbolic-ref", "HEAD", "refs/heads/main")
    return dest


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    def make(body: str, socket: str | None = None, prefix: str = "t-") -> Path:
        return write_config(tmp_path / "proj", body, socket, prefix)
    return make


def tmux_cmd(socket: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True,
                          check=False, timeout=10)


PANE_LIST = "#{session_name} #{pane_pid} #{pane_dead}"  # the -F of `list-panes -a` below


def live_pane_pid(listing: str, session: str) -> int | None:
    """The pid of `session`'s live pane in a `list-panes -a -F PANE_LIST` listing."""
    for line in listing.splitlines():
        name, pid, dead = line.split()
        if name == session and dead == "0":
            return int(pid)
    return None


def sessions(socket: str) -> set[str]:
    result = tmux_cmd(socket, "list-sessions", "-F", "#{session_name}")
    return set(result.stdout.split()) if result.returncode == 0 else set()


@pytest.fixture
def make_fleet(tmp_path: Path, tmux_socket: str) -> Iterator[Callable[..., Any]]:
    """`make_fleet(body, defaults="")` → a harness.Fleet in tmp_path on this test's private
    socket; every fleet made is brought down (and its watchdogs stopped) afterwards."""
    from harness import Fleet  # harness imports this module: import it late

    fleets: list[Fleet] = []

    def make(body: str, defaults: str = "") -> Fleet:
        fleet = Fleet(tmp_path, tmux_socket, body, defaults)
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        fleet.close()
