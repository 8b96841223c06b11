"""Reliability cases: the watchdog's state and its single instance (T09–T14), file modes (T35).

- T09 corrupt state file: quarantined, reported once, rebuilt; running agents adopted.
  A corrupt phase file: reported once per content, shown by `agents status`, nothing moves
  (no phase change or advance; a healed loop agent keeps its phase) until it is rewritten.
- T10 ENOSPC on the state write: old file intact, reported once, supervision goes on, the
  next successful write is reported as a recovery.
- T11 kill -9 at crash points (agent_orchestrator/doors/crashpoints.py): the next watchdog finds
  one session per agent, no stray temp file, counters kept, the lock free to take.
- T12 a restarted watchdog (after SIGTERM, after SIGKILL) adopts the running agents: same
  panes, no restart, no kickoff typed again.
- T13 a stale lock file naming a live unrelated process: flock decides, nobody is signalled.
- T14 2, then 10 (+1 through another config path) watchdogs started at once: one runs, the
  others exit 3 naming its pid and change nothing.
- T35 under umask 022 every file is 0600 and every folder 0700; looser files left from
  before are tightened by the next watchdog.

Watchdogs run as subprocesses (`agents watchdog`) on the test's private tmux server, so they
can be killed with SIGKILL and started again; T10 drives one in-process to inject ENOSPC.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from conftest import holds_for, sessions, tmux_cmd, wait_until
from harness import Fleet, demo_agent

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import model
from agent_orchestrator.core.memory import AgentMemory, FleetMemory, LoopMemory
from agent_orchestrator.doors import files, lock, markers, memorystore, proctree
from agent_orchestrator.doors.crashpoints import ENV_VAR as CRASH_VAR
from agent_orchestrator.runtime import launch, watchdog

pytestmark = pytest.mark.tmux

# Fast ticks; a run of half a second counts as stable (so a crash restarts at once, no
# back-off) and ten failures make a crash loop (never reached here).
FAST = """
[watchdog]
signal_interval = 0.3
restart_stable = 0.5
restart_backoff = 0.2
crash_limit = 10
"""


# ----------------------------------------------------------------------------- helpers

def state_dir(fleet: Fleet) -> Path:
    return fleet.folder / "logs" / "state"


def state_path(fleet: Fleet) -> Path:
    return state_dir(fleet) / "watchdog.json"


def saved(fleet: Fleet) -> FleetMemory:
    return memorystore.memory_from_json(state_path(fleet).read_bytes())


def temps(folder: Path) -> list[str]:
    """Temp files of atomic writes whose writer is gone (a running watchdog's write in
    progress is not stray)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp")
                  and not alive(int(p.name.split(".")[-3])))


def start_dog(fleet: Fleet, crash_at: str | None = None, config: Path | None = None,
              stderr: bool = False, umask: int = -1) -> subprocess.Popen[bytes]:
    """`agents watchdog` as a subprocess (stopped by the fleet's teardown if still up)."""
    env = {k: v for k, v in os.environ.items() if k != CRASH_VAR}
    if crash_at is not None:
        env[CRASH_VAR] = crash_at
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_orchestrator", "watchdog", "--config",
         str(config or fleet.path)], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if stderr else subprocess.DEVNULL, umask=umask)
    fleet.procs.append(proc)
    return proc


def stop_dog(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=10)


def count(fleet: Fleet, agent: str | None, kind: str) -> int:
    return len(fleet.events(agent, kind))


def next_event(fleet: Fleet, agent: str | None, kind: str, before: int,
               timeout: float = 10) -> dict:
    """The first `kind` event after the `before` already seen."""
    return fleet.wait_event(agent, kind, timeout=timeout, after=before)


def panes(socket: str) -> dict[str, tuple[str, int]]:
    """session → (pane id, pane pid) of every live agent pane: the watchdog's own control
    session (`<prefix>watchdog-control`, made by a watchdog that runs outside tmux) is left
    out, as it is no agent."""
    out = tmux_cmd(socket, "list-panes", "-a", "-F",
                   "#{session_name} #{pane_id} #{pane_pid} #{pane_dead}").stdout
    found = {}
    for line in out.splitlines():
        name, pane_id, pid, dead = line.split()
        if dead == "0" and not name.endswith(model.CONTROL_NAME):
            found[name] = (pane_id, int(pid))
    return found


def alive(pid: int) -> bool:
    """Running (not a zombie, not stopped by a signal)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "T", "X")


# ----------------------------------------------------------------------------- T09

def _variants(good: bytes) -> dict[str, bytes]:
    rng = random.Random(9)  # deterministic "random" cut and bytes
    return {
        "bracket": b"[{",
        "empty": b"",
        "truncated": good[:rng.randrange(1, len(good) - 2)],
        "binary": bytes(rng.randrange(256) for _ in range(4096)),
        "wrong-schema": json.dumps({"version": 1, "agents": {"a": {
            "starts": "many", "deaths": "yesterday", "restart_due_at": True}}}).encode(),
    }


def _write_huge(path: Path) -> None:
    """100 MB: a state file's first bytes, then (sparse) zeros: cheap to make, and any
    attempt to read it whole would show in time and memory."""
    with open(path, "wb") as out:
        out.write(b'{"version": 1, "agents": {"a": {"starts": 1')
        out.truncate(100 * 1024 * 1024)


EXTRA_BAD = {
    "list": b"[1, 2, 3]",
    "other-version": b'{"version": 2, "agents": {}}',
    "nan": b'{"version": 1, "agents": {"a": {"started_at": NaN}}}',
    "huge-int-as-float": b'{"version": 1, "agents": {"a": {"started_at": 1' + b"0" * 400 +
                         b"}}}",
    "bool-as-int": b'{"version": 1, "agents": {"a": {"restarts": true}}}',
    "loop-wrong": b'{"version": 1, "agents": {}, "loop": {"phase": "2"}}',
    "fleet-starts-wrong": b'{"version": 1, "agents": {}, "fleet_starts": {"a": 1}}',
    "deep-nesting": b"[" * 200_000,
    "latin1": b'{"version": 1, "agents": {"\xe9": {}}}',
}


@pytest.mark.parametrize("variant", ["bracket", "empty", "truncated", "binary",
                                     "wrong-schema", "huge", *EXTRA_BAD])
def test_t09_corrupt_state_is_quarantined_by_load(make_config, variant: str) -> None:
    """FAULT: the state file is garbage (each variant of T09, plus wrong types, NaN, deep
    nesting, invalid UTF-8). EXPECTED: load_memory never raises, returns empty memory with
    one warning naming the quarantined copy, moves the file aside byte for byte (0600), and
    a 100 MB file is not read into memory (fast, small peak)."""
    config = config_mod.load(make_config('[[agent]]\nname = "a"\nbackend = "demo"\n'))
    markers.ensure_dirs(config)
    good = memorystore.memory_to_json(FleetMemory({"a": AgentMemory(starts=3, restarts=2,
                                                              deaths=(1.0, 2.0))}))
    path = memorystore.state_file(config)
    if variant == "huge":
        _write_huge(path)
    else:
        path.write_bytes(_variants(good).get(variant, EXTRA_BAD.get(variant, b"")))
    size = path.stat().st_size
    os.chmod(path, 0o644)
    tracemalloc.start()
    began = time.monotonic()
    try:
        memory, warning = memorystore.load_memory(config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - began < 1.0
    assert peak < 2 * 1024 * 1024
    assert memory == FleetMemory()
    assert warning is not None and "moved to watchdog.json.corrupt-" in warning
    assert not path.exists()
    [aside] = path.parent.glob("watchdog.json.corrupt-*")
    assert aside.name in warning and aside.stat().st_size == size
    assert stat.S_IMODE(aside.stat().st_mode) == 0o600
    # `agents status` reads without quarantining: nothing is moved, still no exception.
    aside.rename(path)
    assert memorystore.load_memory(config, quarantine=False)[0] == FleetMemory()
    assert path.exists()


def test_t09_good_state_round_trips_and_tolerates_missing_fields(make_config) -> None:
    """The validation of T09 must not reject what the watchdog writes: a full memory
    round-trips exactly, and a file from an older version (fields missing, an unknown
    one) loads with defaults."""
    config = config_mod.load(make_config('[[agent]]\nname = "a"\nbackend = "demo"\n'))
    memory = FleetMemory(
        {"a": AgentMemory(started_at=5.5, starts=2, restarts=1, last_exit=3,
                                deaths=(1.0, 2.5), screen_hash="x", limit_nudged=True)},
        fleet_starts=(4.0,), throttled=True, server_up=False,
        loop=LoopMemory(phase=2, seen_sha="abc", sequence_complete=True))
    memorystore.save_memory(config, memory)
    assert memorystore.load_memory(config) == (memory, None)
    memorystore.state_file(config).write_text('{"version": 1, "agents": {"a": {"starts": 4, '
                                        '"started_at": 7, "from_the_future": [1]}}}')
    loaded, warning = memorystore.load_memory(config)
    assert warning is None
    assert loaded.agent("a") == AgentMemory(starts=4, started_at=7.0)


@pytest.mark.slow
def test_t09_corrupt_state_file_fleet_adopted_not_restarted(make_fleet, tmp_path) -> None:
    """FAULT: between two watchdog runs the state file is replaced by each T09 variant
    (`[{`, 0 bytes, valid JSON cut at a random byte, random binary, valid JSON of the
    wrong schema, 100 MB). EXPECTED each time: the watchdog starts, quarantines the file
    (`watchdog.json.corrupt-*`), logs `state-rebuilt` once, adopts the running agent
    (same pane pid, no restart) and writes a fresh valid state."""
    fleet = make_fleet(FAST + demo_agent("a", tmp_path))
    first = start_dog(fleet)
    fleet.wait_event("a", "start")
    pid = wait_until(lambda: fleet.pane_pid("e-a"), what="a's pane")
    wait_until(lambda: state_path(fleet).exists() and saved(fleet).agent("a").starts == 1,
               what="a first state file")
    assert stop_dog(first) == 0
    variants = _variants(state_path(fleet).read_bytes())
    for number, (name, garbage) in enumerate([*variants.items(), ("huge", b"")]):
        if name == "huge":
            _write_huge(state_path(fleet))
        else:
            state_path(fleet).write_bytes(garbage)
        dog = start_dog(fleet)
        rebuilt = next_event(fleet, None, "state-rebuilt", number)
        assert "moved to watchdog.json.corrupt-" in rebuilt["reason"], name
        next_event(fleet, "a", "adopt", number)
        wait_until(lambda: state_path(fleet).exists() and
                   saved(fleet).agent("a").starts == 1, what=f"a fresh state ({name})")
        assert fleet.pane_pid("e-a") == pid, name
        assert stop_dog(dog) == 0
        assert count(fleet, None, "state-rebuilt") == number + 1, name  # logged once
    quarantined = sorted(state_dir(fleet).glob("watchdog.json.corrupt-*"))
    assert len(quarantined) == 6
    assert count(fleet, "a", "restart") == 0 and count(fleet, "a", "start") == 1
    assert [r["event"] for r in fleet.records("a")].count("start") == 1


LOOP = """
[watchdog]
signal_interval = 0.3
heavy_interval = 0.3
restart_stable = 0.5
restart_backoff = 0.2
crash_limit = 10

[[agent]]
name = "b"
kind = "loop"
role = "builder"
backend = "demob"
watch = "heal"

[backend.demob]
bin = "{{python}} -m agent_orchestrator.fakeagent"
flags = "--busy 0.3 --record {folder}/rec-b"
process_name = "python"

[loop]
roles_dir = "."
kickoff_template = "kickoff.md"

[[loop.phases]]
id = "one"
status = "S1.md"

[[loop.phases]]
id = "two"
status = "S2.md"
"""


def test_t09_corrupt_phase_file_is_reported_and_changes_nothing(make_fleet, tmp_path) -> None:
    """FAULT: while the loop runs, the phase file is overwritten with garbage, then emptied;
    meanwhile the phase's status says DONE and the loop agent is killed. EXPECTED: one
    `phase-file-corrupt` per distinct content (the content shown), `agents status` shows
    it, the file is left as it is, no phase change or advance, the killed agent is healed on
    the phase it had; once `agents phase set 1` rewrites the file, `phase-file-recovered`
    and the DONE phase advances as usual."""
    (tmp_path / "builder.md").write_text("Build.\n")
    (tmp_path / "kickoff.md").write_text("Phase {phase_id} as {role}.\n")
    fleet = make_fleet(LOOP.format(folder=tmp_path))
    index = state_dir(fleet) / "phase-idx"

    def kickoffs() -> list[str]:  # the first line: "Phase <id> as builder."
        return [r["argv"][-1].split("\n")[0] for r in fleet.records("b")
                if r["event"] == "start"]

    def status_phase() -> str:
        shown = fleet.agents("status", "--json")
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)["phase"]

    assert fleet.agents("up").returncode == 0
    wait_until(lambda: kickoffs() == ["Phase one as builder."], what="b on phase one")
    wait_until(lambda: state_path(fleet).exists() and saved(fleet).loop.phase == 0,
               what="the watchdog to know phase one")
    index.write_text("two\n")
    corrupt = fleet.wait_event(None, "phase-file-corrupt")
    assert "holds 'two'" in corrupt["reason"] and "stays on phase 1/2 one" in corrupt["reason"]
    assert "holds 'two'" in status_phase() and status_phase().startswith("1/2 one (kept: ")
    (tmp_path / "S1.md").write_text("# one\n## DONE\nAll gates pass.\n")  # would advance
    old = fleet.pane_pid("e-b")
    tmux_cmd(fleet.socket, "kill-session", "-t", "=e-b")
    wait_until(lambda: fleet.pane_pid("e-b") not in (None, old), what="b to be healed")
    wait_until(lambda: len(kickoffs()) == 2, what="b's second start")
    assert kickoffs()[1] == kickoffs()[0]  # healed on the phase it had
    holds_for(lambda: index.read_text() == "two\n" and len(kickoffs()) == 2
              and count(fleet, None, "phase-file-corrupt") == 1
              and not fleet.events(None, "phase-advance")
              and not fleet.events(None, "phase-changed"), 1.5,
              what="nothing moving while the phase file is corrupt")
    index.write_text("")
    emptied = next_event(fleet, None, "phase-file-corrupt", 1)
    assert "holds ''" in emptied["reason"]
    assert fleet.agents("phase", "set", "1").returncode == 0
    fleet.wait_event(None, "phase-file-recovered")
    fleet.wait_event(None, "phase-advance")
    wait_until(lambda: index.read_text() == "1\n", what="the advance to be saved")
    wait_until(lambda: kickoffs()[2:] == ["Phase two as builder."], what="b on phase two")
    assert count(fleet, None, "phase-file-corrupt") == 2


# ----------------------------------------------------------------------------- T10

@pytest.mark.parametrize("where", ["rename", "temp-fsync"])
def test_t10_enospc_on_state_write(make_fleet, tmp_path, where: str) -> None:
    """FAULT: the disk is full when the state file is written (ENOSPC at the rename, or
    at the temp file's fsync) while agents die and are restarted. EXPECTED: the previous
    state file stays intact and parseable, no temp file is left, `state-write-failed` is
    recorded once however many writes fail, supervision goes on (the killed agent comes
    back), and the first write that succeeds records `state-write-recovered` and saves
    the current memory."""
    fleet = make_fleet(FAST + demo_agent("a", tmp_path))
    config = config_mod.load(fleet.path)
    markers.ensure_dirs(config)
    dog = watchdog.Watchdog.open(config)
    failed = []
    real_replace, real_fsync = os.replace, os.fsync

    def full_replace(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(dst).name == "watchdog.json":
            failed.append(dst)
            raise OSError(errno.ENOSPC, "No space left on device", str(src))
        return real_replace(src, dst, *args, **kwargs)

    def full_fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[-1].startswith(".watchdog.json"):
            failed.append(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    def tick_until(predicate, what: str):  # type: ignore[no-untyped-def]
        return wait_until(lambda: (dog.tick(), predicate())[1], what=what)

    # Its own MonkeyPatch, undone mid-test: undoing the shared `monkeypatch` would also undo
    # the isolated HOME and TMUX_TMPDIR (and leak this test's tmux server).
    monkeypatch = pytest.MonkeyPatch()
    try:
        tick_until(lambda: fleet.pane_pid("e-a"), "a to start")
        tick_until(lambda: state_path(fleet).exists(), "the first state write")
        good = state_path(fleet).read_bytes()
        if where == "rename":
            monkeypatch.setattr(os, "replace", full_replace)
        else:
            monkeypatch.setattr(os, "fsync", full_fsync)
        for round_ in range(3):  # three deaths, each a memory change to save
            old = fleet.pane_pid("e-a")
            tmux_cmd(fleet.socket, "kill-session", "-t", "=e-a")
            tick_until(lambda old=old: fleet.pane_pid("e-a") not in (None, old),
                       f"a to be restarted ({round_})")
        assert len(failed) >= 3
        assert state_path(fleet).read_bytes() == good
        assert memorystore.memory_from_json(good).agent("a").restarts == 0
        assert [p for p in state_dir(fleet).iterdir() if p.name.endswith(".tmp")] == []
        [report] = fleet.events(None, "state-write-failed")
        assert "No space left on device" in report["reason"]
        assert "watchdog.json" in report["reason"]
        assert dog.memory.agent("a").restarts == 3  # kept in memory meanwhile
        monkeypatch.undo()
        tick_until(lambda: count(fleet, None, "state-write-recovered") == 1, "recovery")
        assert saved(fleet).agent("a").restarts == 3
        assert count(fleet, None, "state-write-failed") == 1
        assert count(fleet, "a", "restart") == 3
    finally:
        monkeypatch.undo()
        dog.close()


# ----------------------------------------------------------------------------- T11

def _tagged(socket: str, session: str) -> set[int]:
    return {pid for pid, _ in proctree.tagged(proctree.launch_tag(socket, session))}


@pytest.mark.slow
def test_t11_kill_9_at_crash_points(make_fleet, tmp_path) -> None:
    """FAULT: the watchdog is SIGKILLed (AGENT_ORCHESTRATOR_CRASH_AT) at each crash point
    in turn, each time started again normally: after the state temp file is written and
    before its rename; after the rename before the folder fsync; mid-restart (old session
    killed, new not started); after `new-session` before the memory recording it is saved;
    mid-config-apply (removed agent stopped, added one not started). EXPECTED after each:
    the next watchdog takes the lock, leaves no stray temp file, keeps one session (and one
    process tree) per agent, never resets restart counters, and finishes the interrupted
    work (restart done, added agent started, removed one gone)."""
    body = FAST + demo_agent("a", tmp_path) + demo_agent("b", tmp_path)
    fleet = make_fleet(body)
    config = config_mod.load(fleet.path)
    dog = start_dog(fleet)
    fleet.wait_event("a", "start")
    fleet.wait_event("b", "start")
    wait_until(lambda: {"e-a", "e-b"} <= set(panes(fleet.socket)), what="the fleet")
    fleet.control("a", "crash 3")  # one real restart: counters the crashes must not reset
    fleet.wait_event("a", "restart")
    wait_until(lambda: saved(fleet).agent("a").restarts == 1, what="the restart saved")
    assert stop_dog(dog) == 0

    def crashed(point: str, trigger=None) -> None:  # type: ignore[no-untyped-def]
        starts = count(fleet, None, "watchdog-start")
        proc = start_dog(fleet, crash_at=point)
        if trigger is not None:
            next_event(fleet, None, "watchdog-start", starts)
            trigger()
        assert proc.wait(timeout=15) == -signal.SIGKILL, point

    def healthy(point: str, proc: subprocess.Popen[bytes] | None = None) -> None:
        """What must hold once another watchdog (`proc`, if it still runs) started."""
        if proc is not None:
            assert lock.watchdog_pid(config) == proc.pid, point  # the lock is its
        assert temps(state_dir(fleet)) == [], point
        assert saved(fleet).agent("a").restarts >= 1, point
        for session, (_, pid) in panes(fleet.socket).items():
            assert _tagged(fleet.socket, session) == {pid}, (point, session)

    def normal(point: str) -> subprocess.Popen[bytes]:
        starts = count(fleet, None, "watchdog-start")
        proc = start_dog(fleet)
        next_event(fleet, None, "watchdog-start", starts)
        wait_until(lambda: lock.read_lock_pid(config) == proc.pid, what=f"lock ({point})")
        return proc

    # 1. temp written, not renamed: the old file stays, the stray temp file is removed.
    before = state_path(fleet).read_bytes()
    crashed("state-temp-written:watchdog.json", lambda: fleet.control("a", "say hello"))
    assert state_path(fleet).read_bytes() == before
    assert len(temps(state_dir(fleet))) == 1  # the point was reached
    # 2. renamed, folder not fsynced: the new file is whole.
    crashed("state-renamed:watchdog.json", lambda: fleet.control("a", "say again"))
    assert memorystore.memory_from_json(state_path(fleet).read_bytes()) != \
        memorystore.memory_from_json(before)
    healthy("state-renamed")  # the second watchdog removed the first one's temp file
    # 3. mid-restart: a's old session killed, the new one not started.
    restarts = count(fleet, "a", "restart")
    crashed("restart-killed", lambda: fleet.control("a", "crash 4"))
    assert "e-a" not in sessions(fleet.socket)
    assert count(fleet, "a", "restart") == restarts + 1  # decided, not carried out
    # 4. a's session created, the memory recording it not saved.
    crashed("session-created")
    assert "e-a" in panes(fleet.socket)
    a_pane = panes(fleet.socket)["e-a"]
    # 5. config applied halfway: b (removed) stopped, c (added) not started.
    dog = normal("session-created")
    wait_until(lambda: saved(fleet).agent("a").started_at is not None, what="a state")
    healthy("session-created", dog)
    assert panes(fleet.socket)["e-a"] == a_pane  # adopted: no second restart
    assert stop_dog(dog) == 0
    starts = count(fleet, None, "watchdog-start")
    proc = start_dog(fleet, crash_at="config-applied")
    next_event(fleet, None, "watchdog-start", starts)
    wait_until(lambda: lock.read_lock_pid(config) == proc.pid, what="the crash watchdog")
    fleet.write(FAST + demo_agent("a", tmp_path) + demo_agent("c", tmp_path))
    assert proc.wait(timeout=15) == -signal.SIGKILL
    assert "e-b" not in sessions(fleet.socket) and "e-c" not in sessions(fleet.socket)
    # The last watchdog finishes the job and supervises normally.
    dog = normal("config-applied")
    fleet.wait_event("c", "start")
    wait_until(lambda: set(panes(fleet.socket)) == {"e-a", "e-c"}, what="a and c only")
    holds_for(lambda: set(panes(fleet.socket)) == {"e-a", "e-c"} and
              panes(fleet.socket)["e-a"] == a_pane, 0.5, what="one session per agent")
    healthy("config-applied", dog)
    assert _tagged(fleet.socket, "e-b") == set()
    assert count(fleet, "c", "start") == 1
    # c's own record of its start is written by its process, which may still be starting.
    wait_until(lambda: [r["event"] for r in fleet.records("c")].count("start") >= 1,
               what="c's process started")
    assert [r["event"] for r in fleet.records("c")].count("start") == 1
    assert dog.poll() is None


def test_t11_only_dead_writers_temp_files_are_removed(tmp_path) -> None:
    """FAULT: temp files of atomic writes lie in the state folder: one of a writer killed
    before its rename, one of a writer still writing (e.g. `agents up` right now), plus
    files that only look alike. EXPECTED: only the dead writer's temp file is removed;
    with `targets`, only temp files of those names."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    gone = tmp_path / f".watchdog.json.{dead.pid}.abcd1234.tmp"
    live = tmp_path / f".kickoff-e-a.txt.{os.getpid()}.efgh5678.tmp"
    other_name = tmp_path / f".notes.{dead.pid}.ijkl9012.tmp"
    lookalikes = [tmp_path / "watchdog.json", tmp_path / ".watchdog.json.abcd1234.tmp",
                  tmp_path / f"x.{dead.pid}.abcd1234.tmp"]
    for path in [gone, live, other_name, *lookalikes]:
        path.write_text("x")
    assert files.remove_stray_temps(tmp_path, frozenset({"watchdog.json"})) == [gone]
    assert files.remove_stray_temps(tmp_path) == [other_name]
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        sorted(p.name for p in [live, *lookalikes])


# ----------------------------------------------------------------------------- T12

@pytest.mark.slow
def test_t12_restarted_watchdog_adopts_running_agents(make_fleet, tmp_path) -> None:
    """FAULT: the watchdog is stopped (SIGTERM), started again, then SIGKILLed and started
    again, while its agent keeps running in tmux past the back-off reset window.
    EXPECTED: each new watchdog takes over the running agent: same pane id and pid, no
    start/restart, the agent's kickoff not given again (one `start` in its record, no
    typed input), its restart counters as they were."""
    fleet = make_fleet(FAST + demo_agent("a", tmp_path))
    dog = start_dog(fleet)
    fleet.wait_event("a", "start")
    pane = wait_until(lambda: panes(fleet.socket).get("e-a"), what="a's pane")
    holds_for(lambda: panes(fleet.socket).get("e-a") == pane, 0.6,  # > restart_stable
              what="a running")
    memory = wait_until(lambda: state_path(fleet).exists() and saved(fleet).agent("a"),
                        what="a's memory")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        assert stop_dog(dog, sig) == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
        assert panes(fleet.socket).get("e-a") == pane  # the agent outlives its watchdog
        began = time.time()
        starts = count(fleet, None, "watchdog-start")
        dog = start_dog(fleet)
        next_event(fleet, None, "watchdog-start", starts)
        fleet.control("a", f"say still here after {sig.name}")  # something to look at
        wait_until(lambda began=began: (saved(fleet).agent("a").captured_wall or 0) > began,
                   what=f"the new watchdog to read a's screen ({sig.name})")
        assert panes(fleet.socket).get("e-a") == pane
    assert count(fleet, "a", "start") == 1
    assert count(fleet, "a", "restart") == count(fleet, "a", "adopt") == 0
    assert [r["event"] for r in fleet.records("a")].count("start") == 1
    assert [r for r in fleet.records("a") if r["event"] == "input"] == []
    now = saved(fleet).agent("a")
    assert (now.starts, now.restarts, now.started_at) == \
        (memory.starts, memory.restarts, memory.started_at)


# ----------------------------------------------------------------------------- T13

def test_t13_stale_lock_naming_a_live_process(make_fleet, tmp_path) -> None:
    """FAULT: the lock file exists, held by nobody, and holds the pid of a live unrelated
    process (a `sleep`). EXPECTED: `agents status` does not call that process the
    watchdog; `agents up` starts the watchdog (flock decides, not the file or
    kill(pid, 0)); it writes its own pid; `agents down` ends it; the unrelated process is
    never signalled (still running, not stopped)."""
    fleet = make_fleet(FAST + demo_agent("a", tmp_path))
    bystander = subprocess.Popen(["sleep", "600"])
    try:
        stale = state_dir(fleet) / "watchdog.lock"
        stale.parent.mkdir(parents=True)
        stale.write_text(f"{bystander.pid}\n")
        status = fleet.agents("status")
        assert status.returncode == 0 and str(bystander.pid) not in status.stdout
        up = fleet.agents("up")
        assert up.returncode == 0, up.stderr
        started = fleet.wait_event(None, "watchdog-start")
        pid = int(started["reason"].split(",")[0].removeprefix("pid "))
        assert pid != bystander.pid
        assert lock.read_lock_pid(config_mod.load(fleet.path)) == pid
        assert f"running (pid {pid})" in fleet.agents("status").stdout
        fleet.wait_event("a", "adopt")
        assert fleet.agents("down").returncode == 0
        wait_until(lambda: not alive(pid), what="the watchdog to end")
        assert bystander.poll() is None and alive(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


# ----------------------------------------------------------------------------- T14

def _race(commands: list[list[str]]) -> list[subprocess.Popen[bytes]]:
    """Start the commands at the same instant (a barrier before each Popen)."""
    barrier = threading.Barrier(len(commands))
    procs: list[subprocess.Popen[bytes] | None] = [None] * len(commands)

    def go(index: int) -> None:
        barrier.wait()
        procs[index] = subprocess.Popen(commands[index], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(commands))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [p for p in procs if p is not None]


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in folder.rglob("*") if p.is_file()}


# What the one running watchdog writes; losers must leave everything else as it was.
WINNER_WRITES = {"state/watchdog.lock", "state/watchdog.json", "events.jsonl",
                 "state/config-health.json", "state/last-good.toml", "e-a.log"}


@pytest.mark.slow
def test_t14_concurrent_start(make_fleet, tmp_path) -> None:
    """FAULT: 2 watchdogs are started at the same instant with nothing running; then 10
    for the same config plus 1 through another config file whose log_dir (hence state
    folder and lock) and socket are the same. EXPECTED each time: exactly one runs; every
    other exits with status 3 and `already running (pid <the winner>)`; the losers create
    no session and change no file (the lock still names the winner; one watchdog-start
    event per race)."""
    fleet = make_fleet(FAST + demo_agent("a", tmp_path))
    other = tmp_path / "other" / "agents.toml"
    other.parent.mkdir()
    other.write_text(fleet.path.read_text().replace('log_dir = "logs"',
                                                    f'log_dir = "{tmp_path / "logs"}"'))
    command = [sys.executable, "-m", "agent_orchestrator", "watchdog", "--config"]
    pane = None
    for round_, paths in enumerate([[fleet.path] * 2, [fleet.path] * 10 + [other]]):
        before = _files(fleet.folder / "logs") if round_ else {}
        starts = count(fleet, None, "watchdog-start")
        procs = _race([[*command, str(p)] for p in paths])
        fleet.procs += procs
        wait_until(lambda procs=procs: sum(p.poll() is not None for p in procs) ==
                   len(procs) - 1, timeout=20, what="all but one watchdog to exit")
        [winner] = [p for p in procs if p.poll() is None]
        for loser in procs:
            if loser is not winner:
                message = loser.stderr.read().decode() if loser.stderr else ""
                assert loser.returncode == 3, message
                assert f"already running (pid {winner.pid})" in message
        next_event(fleet, None, "watchdog-start", starts)
        wait_until(lambda: "e-a" in panes(fleet.socket), what="a's session")
        pane = pane or panes(fleet.socket)["e-a"]
        holds_for(lambda winner=winner, pane=pane: winner.poll() is None and
                  set(panes(fleet.socket)) == {"e-a"} and panes(fleet.socket)["e-a"] == pane,
                  0.5, what="one watchdog, one a")
        assert lock.read_lock_pid(config_mod.load(fleet.path)) == winner.pid
        assert [e["reason"].split(",")[0] for e in fleet.events(None, "watchdog-start")
                [starts:]] == [f"pid {winner.pid}"]
        after = _files(fleet.folder / "logs")
        if round_:
            changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
            assert changed <= WINNER_WRITES, changed
        assert stop_dog(winner) == 0
    assert count(fleet, "a", "start") == 1  # the second race's winner adopted it


def test_t14_lock_names_holder_even_before_it_writes_its_pid(make_fleet, tmp_path) -> None:
    """FAULT: a watchdog checks the lock in the instant after the winner took it and
    before it wrote its pid (the file still names a dead holder). EXPECTED: the message
    names the real holder, read from the kernel (/proc/locks), not the stale pid."""
    fleet = make_fleet(FAST + demo_agent("a", tmp_path))
    config = config_mod.load(fleet.path)
    markers.ensure_dirs(config)
    lock.lock_file(config).write_text("999999999\n")  # a dead watchdog's
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time\n"
                               f"f = open({str(lock.lock_file(config))!r})\n"
                               "fcntl.flock(f, fcntl.LOCK_EX)\nprint('held', flush=True)\n"
                               "time.sleep(600)"], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with pytest.raises(lock.AlreadyRunning) as refused:
            lock.acquire_lock(config)
        assert refused.value.pid == holder.pid
        assert lock.lock_file(config).read_text() == "999999999\n"  # untouched
    finally:
        holder.kill()
        holder.wait()


# ----------------------------------------------------------------------------- T35

def _modes(folder: Path) -> dict[str, int]:
    """Modes of everything in `folder`, but for a temp file renamed away between the listing
    and its stat (the running watchdog writes its memory atomically)."""
    modes = {}
    for p in [folder, *folder.rglob("*")]:
        try:
            modes[str(p.relative_to(folder))] = stat.S_IMODE(p.lstat().st_mode)
        except FileNotFoundError:
            continue
    return modes


def test_t35_tighten_leaves_symlinks_and_strict_files_alone(tmp_path) -> None:
    """FAULT: among the files to tighten are a symlink to a world-readable file elsewhere,
    a file already stricter than 0600 and a loose folder. EXPECTED: the symlink's target
    keeps its mode (never followed), the strict file stays as it is, the folder becomes
    0700, the loose file 0600."""
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    os.chmod(outside, 0o644)
    link = tmp_path / "link"
    link.symlink_to(outside)
    strict, loose, folder = tmp_path / "strict", tmp_path / "loose", tmp_path / "dir"
    strict.write_text("")
    os.chmod(strict, 0o400)
    loose.write_text("")
    os.chmod(loose, 0o666)
    folder.mkdir(mode=0o755)
    assert files.tighten([link, strict, loose, folder, tmp_path / "missing"]) == \
        [loose, folder]
    assert {p.name: stat.S_IMODE(p.lstat().st_mode) & 0o777 for p in
            [outside, strict, loose, folder]} == \
        {"outside.txt": 0o644, "strict": 0o400, "loose": 0o600, "dir": 0o700}


@pytest.mark.slow
def test_t35_files_are_private_whatever_the_umask(make_fleet, tmp_path) -> None:
    """FAULT: everything runs under umask 022 (files would be 0644, folders 0755); later
    files from elsewhere are left world-readable in the log and state folders. EXPECTED:
    every file the tool creates (state, lock, health, last-good, events, session logs,
    kickoff, stop/start marks) is 0600 and every folder 0700; the launch spec holding the
    prompt is gone once the agent started; no temp file is left; the next watchdog
    tightens the loose files and folders it owns (and leaves other files alone)."""
    fleet = make_fleet(FAST + demo_agent("a", tmp_path) + demo_agent("b", tmp_path))

    def agents(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agent_orchestrator", *args,
                               "--config", str(fleet.path)], capture_output=True, text=True,
                              timeout=30, check=False, umask=0o022)

    assert agents("up").returncode == 0  # the tmux server (and so the watchdog) gets 022
    fleet.wait_event("a", "adopt")
    fleet.control("b", "crash 2")  # a restart: kickoff written again
    fleet.wait_event("b", "restart")
    assert agents("down", "a").returncode == 0 and agents("up", "a").returncode == 0
    wait_until(lambda: {"e-a", "e-b"} <= sessions(fleet.socket), what="a and b back")
    logs = fleet.folder / "logs"
    wait_until(lambda: (logs / "e-b.log").exists() and (logs / "state" / "watchdog.json")
               .exists(), what="logs and state")
    modes = _modes(logs)
    for name in ["state/watchdog.json", "state/watchdog.lock", "state/config-health.json",
                 "state/last-good.toml", "events.jsonl", "e-a.log", "e-b.log",
                 "state/stopped",
                 "state/started/a"]:
        assert name in modes, name
    wrong = {n: oct(m) for n, m in modes.items()
             if m != (0o700 if (logs / n).is_dir() else 0o600)}
    assert wrong == {}
    kickoff = launch.kickoff_file(config_mod.load(fleet.path), "e-a")  # in memory: T44
    assert [stat.S_IMODE(p.stat().st_mode) for p in (kickoff, kickoff.parent)] == [0o600, 0o700]
    # A launch spec lives until its pane's boot has read it; a temp file until its rename.
    wait_until(lambda: not list(logs.rglob("launch-*.json")) and not list(logs.rglob("*.tmp")),
               what="launch specs and temp files to be gone")
    # Loosen what an older version or a hand copy could have left, then restart.
    dog_pid = lock.read_lock_pid(config_mod.load(fleet.path))
    assert dog_pid is not None
    os.kill(dog_pid, signal.SIGTERM)
    wait_until(lambda: not alive(dog_pid), what="the watchdog to stop")
    loose = ["state/watchdog.json", "events.jsonl", "e-a.log", "state/started/a"]
    for name in loose:
        os.chmod(logs / name, 0o644)
    os.chmod(logs / "state", 0o755)
    os.chmod(logs / "state" / "started", 0o777)
    foreign = logs / "notes.txt"  # not ours: left as it is
    foreign.write_text("the user's")
    os.chmod(foreign, 0o644)
    starts = count(fleet, None, "watchdog-start")
    start_dog(fleet, umask=0o022)
    next_event(fleet, None, "watchdog-start", starts)
    modes = _modes(logs)
    assert {n: oct(modes[n]) for n in [*loose, "state", "state/started"]} == \
        {n: oct(0o700 if (logs / n).is_dir() else 0o600)
         for n in [*loose, "state", "state/started"]}
    assert modes["notes.txt"] == 0o644
