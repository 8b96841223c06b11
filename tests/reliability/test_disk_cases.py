"""Reliability case T44 (issue #14, item 3): a full log disk does not stop healing.

- T44 full log disk: `log_dir` is a tiny tmpfs of its own (mounted here: we run as root;
  skipped with the reason where mounting is not permitted), filled to the last byte while
  the fleet runs; the agent's session is then killed twice — the watchdog restarts it both
  times (its launch spec and kickoff go to the private runtime folder, not to the full
  disk), stays up, and says ONCE that events cannot be written; once space is freed, the
  next event lands together with a `log-write-failed` event counting what was dropped.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import tmux_cmd, wait_until
from harness import demo_agent

from agent_orchestrator import config as config_mod
from agent_orchestrator.doors import eventlog
from agent_orchestrator.runtime import launch


@pytest.fixture
def tiny_log_disk(tmp_path: Path) -> Iterator[Path]:
    """`tmp_path/logs` as a 1 MB tmpfs of its own; unmounted afterwards. Requested before
    `make_fleet`, so the fleet is down before the unmount."""
    folder = tmp_path / "logs"
    folder.mkdir(mode=0o700)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs",
                              str(folder)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for log_dir here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def fill(folder: Path) -> Path:
    """Write `folder/filler` until the filesystem refuses another byte."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (65536, 4096, 1):
            try:
                while True:
                    out.write(b"x" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    with pytest.raises(OSError), (folder / "probe").open("wb", buffering=0) as probe:
        probe.write(b"x" * 4096)  # the fault really is there
    (folder / "probe").unlink(missing_ok=True)
    return filler


@pytest.mark.tmux
@pytest.mark.slow
def test_t44_full_log_disk_still_heals(tiny_log_disk: Path, make_fleet,
                                       tmp_path: Path) -> None:
    """FAULT: the tmpfs holding log_dir (events, session logs, state) is filled to the last
    byte while the fleet runs; the agent's session is killed, then its process.
    EXPECTED: both times a new pane comes up within seconds; the watchdog stays up; its
    launch files are in the runtime folder, not on the full disk; after space is freed the
    dropped events are reported by ONE `log-write-failed` event."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path))
    logs = tiny_log_disk
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    config = config_mod.load(fleet.path)
    assert not launch.launch_dir(config).is_relative_to(logs)
    dog = int((logs / "state" / "watchdog.lock").read_text())
    # Rotated by hand, so the next event needs a page of its own: none is left.
    os.rename(eventlog.events_file(logs), logs / "events.jsonl.1")
    filler = fill(logs)
    for how in ("kill-session", "kill -9"):
        pid = wait_until(lambda: fleet.pane_pid("e-a"), what="a live agent")
        if how == "kill-session":
            tmux_cmd(fleet.socket, "kill-session", "-t", "=e-a")
        else:
            os.kill(pid, 9)
        wait_until(lambda p=pid: fleet.pane_pid("e-a") not in (None, p), timeout=20,
                   what=f"healed after {how} on a full disk")
    os.kill(dog, 0)  # still up
    filler.unlink()
    fleet.control("a", "crash 1")  # one more event, now that it can be written
    failed = fleet.wait_event(None, "log-write-failed")
    assert "No space left on device" in str(failed["reason"])
    assert len(fleet.events(None, "log-write-failed")) == 1
    dropped = int(str(failed["reason"]).split()[0])
    assert dropped >= 2, failed  # at least the two restarts' events


def test_t44_a_planted_runtime_folder_is_refused_for_the_state_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FAULT: no XDG_RUNTIME_DIR, and the per-user folder name under /dev/shm taken by a
    symlink someone else planted (another user's trap).
    EXPECTED: that name is not used (nothing is written through the symlink); the launch
    files fall back to the private state folder."""
    from agent_orchestrator.doors import rundir

    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    shm = tmp_path / "shm"  # stands for /dev/shm: anyone may create names in it
    shm.mkdir()
    os.chmod(shm, 0o1777)
    monkeypatch.setattr(rundir, "SHARED", (shm,))
    trap = tmp_path / "trap"
    trap.mkdir()
    (shm / f"{rundir.NAME}-{os.geteuid()}").symlink_to(trap)
    folder = rundir.fleet_dir(tmp_path / "logs", tmp_path / "logs" / "state")
    assert folder == tmp_path / "logs" / "state"
    assert list(trap.iterdir()) == []
    (shm / f"{rundir.NAME}-{os.geteuid()}").unlink()  # no trap: a private folder of ours
    folder = rundir.fleet_dir(tmp_path / "logs", tmp_path / "logs" / "state")
    assert folder.parent == shm / f"{rundir.NAME}-{os.geteuid()}"
    assert [stat.S_IMODE(p.lstat().st_mode) for p in (folder, folder.parent)] == [0o700] * 2
