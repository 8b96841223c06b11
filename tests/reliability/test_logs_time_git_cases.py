"""Reliability cases T34, T36, T37, T39, T40: secrets, full disks, log rotation, clock jumps, git.

- T34 secrets redacted: an agent prints an Anthropic key, a GitHub token, an AWS key id, a
  PEM private key over several lines and an `Authorization: Bearer` header (in a plain
  session log and on a TUI screen the watchdog reads); a dialog line holding a secret is
  kept in state, whose file is then quarantined as corrupt — no file under the log and
  state folders (rotated logs and the quarantined copy included) holds any 16-character
  piece of a secret; the placeholders are there.
- T36 disk full on log writes: the session-log writer (logcap) and events.jsonl on a device
  where every write fails with ENOSPC — output and events are dropped, never queued; ONE
  warning on stderr per run of failures; supervision and state writes go on.
- T37 log rotation bounded: 10 × max_bytes through events.jsonl and through logcap, the
  active file deleted mid-run — the folder never holds more than max_bytes × (keep + 1)
  plus one line of slack, and logging continues into a fresh file.
- T39 clock jumps (fake clock: tests/simulate.py): the wall clock jumps a day forward and a
  day back mid-run; persisted stamps lie in the future — no mass restart, no stall of a
  working agent, no negative or endless back-off; future stamps are clamped and reported.
  libfaketime: not installed here (no `faketime` package), so that variant is N/A in CI.
- T40 git hardening: a handoff repo whose `.git/config` sets `core.fsmonitor` and
  `core.hooksPath` to canary scripts, and a pushed branch named `--upload-pack=...` — the
  watchdog's git queries (gitrelay.Git) run none of them; a static check (ast) finds no
  `shell=True` and no string command given to subprocess anywhere in the package.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import os
import re
import signal
import stat
import subprocess
import sys
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import clone_repo, git, tmux_cmd, wait_until, write_config
from harness import Fleet, demo_agent
from simulate import Sim

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Handoff
from agent_orchestrator.core.decisions import Restart, Start
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.memory import AgentMemory, FleetMemory
from agent_orchestrator.doors import eventlog
from agent_orchestrator.doors.gitrelay import ORIGIN_MAIN, Git, poll
from agent_orchestrator.doors.logcap import Capture, RotatingLog
from agent_orchestrator.doors.memorystore import memory_from_json

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "agent_orchestrator"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def full_device(path: Path) -> None:
    """Make `path` a file every write to which fails with ENOSPC, like /dev/full. As root a
    private device node (our files get fchmod 0600, which must not change the real
    /dev/full); otherwise a symlink to /dev/full (that chmod then fails, harmlessly)."""
    if os.geteuid() == 0:
        try:
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 7))
        except OSError as exc:
            pytest.skip(f"cannot make a private /dev/full here: {exc}")
    else:
        os.symlink("/dev/full", path)
    with pytest.raises(OSError, match="No space left"), open(path, "wb") as out:
        out.write(b"x")  # the fault really is there


# --------------------------------------------------------------------------- T34

ANTHROPIC = "sk-ant-api03-" + "Q7x9" * 12
GITHUB = "ghp_" + "Zq3Wv8" * 6
AWS = "AKIA" + "Q7X9Z2LMN4P5R6S8"
BEARER = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.Q7x9Sig42"
PEM_BODY = ("MIIEpAIBAAKCAQEA7dQ7x9bK2mZpLw4sVt8RyH3nJ6cF1aG5eD0uX2oI9qWzTnB4",
            "hY7kL3vM8sN1pQ5rT6uV9wX2zA4bC7dE0fG3hJ6kL9mN2pQ5rS8tU1vW4xY7zA0c",
            "Zx4Cv7Bn0Mq3Wr6Ty9Ui2Op5As8Df1Gh4Jk7Lz0Xc3Vb6Nm9Qw2Er5Tt8Yu1Io4P")
PEM = ("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(PEM_BODY)
       + "\n-----END RSA PRIVATE KEY-----\n")
SECRETS = (ANTHROPIC, GITHUB, AWS, BEARER, *PEM_BODY)


def leaks(folder: Path) -> list[str]:
    """Every file under `folder` (recursively, raw bytes) that holds a 16-character piece
    of a secret."""
    pieces = {s[i:i + 16].encode() for s in SECRETS for i in range(len(s) - 15)}
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path.name}: {p.decode()}" for p in pieces if p in data]
    return found


@pytest.mark.tmux
@pytest.mark.slow
def test_t34_secrets_never_land_in_our_files(make_fleet, tmp_path: Path) -> None:
    """FAULT: agents print secrets: a plain program prints an env dump, a GitHub token, an
    AWS key id, a bearer header and a PEM key over several lines; a TUI agent shows a fatal
    error with an Anthropic key (the watchdog reads it and restarts it) and a dialog
    holding a GitHub token (kept in state); session logs rotate (keep 2); the state file is
    then found corrupt and quarantined.
    EXPECTED: no file under logs/ (state/, rotated logs, the quarantined copy, events,
    every session log) holds any 16-character piece of any secret; the placeholders
    (`[REDACTED:<kind>]`) are in the logs, the event and the state."""
    leak = tmp_path / "leak.txt"
    leak.write_text(f"$ env\nANTHROPIC_API_KEY={ANTHROPIC}\nGITHUB_TOKEN={GITHUB}\n"
                    f"aws {AWS}\ncurl -H 'Authorization: Bearer {BEARER}'\n{PEM}done\n")
    body = "[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path).replace(
        'fatal_re = "API Error: 401"', 'fatal_re = "FATAL"') + f"""
        [backend.printer]
        bin = "cat {leak}; exec sleep 600"
        prompt_delivery = "exec"

        [[agent]]
        name = "p"
        backend = "printer"
    """
    fleet = make_fleet(body, defaults="log_max_bytes = 4096\nlog_keep = 2\n")
    logs = tmp_path / "logs"
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    wait_until(lambda: any(b"done" in p.read_bytes() for p in logs.glob("e-p.log*")),
               what="the printer's output in its log")
    fleet.control("a", f"say FATAL: bad key ANTHROPIC_API_KEY={ANTHROPIC}")
    event = fleet.wait_event("a", "restart")
    assert "[REDACTED:anthropic]" in event["reason"]
    wait_until(lambda: fleet.pane_pid("e-a"), what="the restarted agent")
    wait_until(lambda: "? for shortcuts" in fleet_screen(fleet, "e-a"), what="agent idle")
    fleet.control("a", f"say Do you want to proceed? token {GITHUB}")
    dialog = fleet.wait_event("a", "dialog")
    assert "[REDACTED:github]" in dialog["reason"]
    state_file = logs / "state" / "watchdog.json"
    wait_until(lambda: b"[REDACTED:github]" in state_file.read_bytes(), what="dialog in state")
    # The watchdog stops; its state file is found corrupt (cut short) and quarantined.
    os.kill(int((logs / "state" / "watchdog.lock").read_text()), signal.SIGTERM)
    fleet.wait_event(None, "watchdog-stop")
    state_file.write_bytes(state_file.read_bytes()[:-40])
    fleet.watchdog_subprocess()
    fleet.wait_event(None, "state-rebuilt")
    fleet.agents("down")
    quarantined = list(state_file.parent.glob("watchdog.json.corrupt-*"))
    assert quarantined and b"[REDACTED:github]" in quarantined[0].read_bytes()
    assert len(list(logs.glob("e-a.log.*"))) >= 1  # the TUI's log did rotate
    assert leaks(logs) == []
    # Control: the secrets did flow (the demo agent's own record and the printed file,
    # outside logs/, hold them), so the search above can fail.
    assert {x.split(":")[0] for x in leaks(tmp_path)} == {"rec-a", "leak.txt"}
    session_logs = b"".join(p.read_bytes() for p in logs.glob("e-*.log*"))
    for kind in ("anthropic", "github", "aws", "bearer", "private-key"):
        assert f"[REDACTED:{kind}]".encode() in session_logs, kind
    assert b"FATAL: bad key" in session_logs


def fleet_screen(fleet: Fleet, session: str) -> str:
    return tmux_cmd(fleet.socket, "capture-pane", "-p", "-t", f"={session}:").stdout


def test_t34_rotated_events_hold_no_secret(tmp_path: Path) -> None:
    """FAULT: events whose reasons quote every kind of secret, rotated many times.
    EXPECTED: no events file (active or rotated) holds a piece of a secret."""
    reasons = [f"ANTHROPIC_API_KEY={ANTHROPIC}", f"token {GITHUB}", f"id {AWS}",
               f"Authorization: Bearer {BEARER}", PEM]
    for index in range(200):
        eventlog.append(tmp_path, [Event(1e9 + index, "a", "fatal", reasons[index % 5])],
                      max_bytes=2_000, keep=3)
    assert len(eventlog.rotated_files(tmp_path)) == 3
    assert leaks(tmp_path) == []
    assert b"[REDACTED:private-key]" in eventlog.events_file(tmp_path).read_bytes() + b"".join(
        p.read_bytes() for p in eventlog.rotated_files(tmp_path))


# --------------------------------------------------------------------------- T36


def test_t36_logcap_on_a_full_disk_warns_once_and_keeps_reading(tmp_path: Path) -> None:
    """FAULT: the session log is a device on which every write fails with ENOSPC, while
    the pane writes 20 MB.
    EXPECTED: logcap reads everything (the pane never blocks), exits 0 at end of input,
    and says so ONCE on stderr, not once per write."""
    log = tmp_path / "agent.log"
    full_device(log)
    process = subprocess.Popen([sys.executable, "-m", "agent_orchestrator.doors.logcap", str(log),
                                "100000", "1"], stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=ROOT)
    line = b"output line that goes nowhere " * 3 + b"\n"
    _, err = process.communicate(line * (20_000_000 // len(line)), timeout=60)
    assert process.returncode == 0
    warnings = err.decode().splitlines()
    assert len(warnings) == 1, warnings
    assert "cannot write" in warnings[0] and "No space left on device" in warnings[0]


def test_t36_logcap_memory_stays_bounded_on_a_full_disk(tmp_path: Path) -> None:
    """FAULT: 50 MB of pane output (long lines, partial lines) into a full device.
    EXPECTED: nothing accumulates in memory: the traced peak stays under 2 MB."""
    log = tmp_path / "agent.log"
    full_device(log)
    capture = Capture(RotatingLog(str(log), 1_000_000, 1))
    chunk = (b"x" * 1000 + b"\r\n") * 60 + b"partial line without end "
    tracemalloc.start()
    try:
        now = 0.0
        for _ in range(50_000_000 // len(chunk)):
            capture.feed(chunk, now)
            now += 0.01
        capture.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000
    assert capture.log.failing


def test_t36_events_on_a_full_disk_warn_once_and_recover(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """FAULT: events.jsonl is a device on which every write fails with ENOSPC; the
    watchdog records 2,000 events.
    EXPECTED: each append raises OSError (dropped, nothing queued: memory bounded), the
    watchdog's reporting (`eventlog.write_failed`) warns ONCE; once the file is writable
    again the next event lands, and a new failure warns again (once)."""
    full_device(eventlog.events_file(tmp_path))
    caplog.set_level(logging.INFO, logger="agent_orchestrator.doors.eventlog")
    tracemalloc.start()
    try:
        for index in range(2_000):
            try:
                eventlog.append(tmp_path, [Event(1e9 + index, "a", "restart", "x" * 200)])
            except OSError as exc:
                eventlog.write_failed(tmp_path, exc)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "No space left on device" in warned[0].getMessage()
    eventlog.events_file(tmp_path).unlink()
    eventlog.append(tmp_path, [Event(2e9, "a", "start", "back")])
    [dropped, back] = eventlog.read(tmp_path)  # T44: what was dropped is said, once
    assert dropped["event"] == "log-write-failed" and back["reason"] == "back"
    assert "2000 event(s)" in str(dropped["reason"]), dropped
    assert "works again" in caplog.records[-1].getMessage()
    eventlog.events_file(tmp_path).unlink()
    full_device(eventlog.events_file(tmp_path))
    for _ in range(3):
        with pytest.raises(OSError):
            eventlog.append(tmp_path, [Event(2e9, "a", "start", "again")])
        eventlog.write_failed(tmp_path, OSError(28, "No space left on device"))
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


@pytest.mark.tmux
@pytest.mark.slow
def test_t36_watchdog_supervises_on_with_events_on_a_full_disk(make_fleet,
                                                               tmp_path: Path) -> None:
    """FAULT: while a fleet runs, events.jsonl becomes a device where every write fails
    with ENOSPC (and, where a private device node can be made, the agent's session log
    too); the agent then crashes twice.
    EXPECTED: the watchdog stays up and restarts the agent both times (seen in tmux and in
    state/watchdog.json, which is still written); its stderr carries ONE warning about
    events, however many events were dropped."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path))
    logs = tmp_path / "logs"
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    os.kill(int((logs / "state" / "watchdog.lock").read_text()), signal.SIGTERM)
    fleet.wait_event(None, "watchdog-stop")
    for old in [eventlog.events_file(logs), *eventlog.rotated_files(logs)]:
        old.unlink()
    full_device(eventlog.events_file(logs))
    if os.geteuid() == 0:  # launch chmods the log: only a private node survives that
        (logs / "e-a.log").unlink()
        full_device(logs / "e-a.log")
    stderr = (tmp_path / "watchdog.err").open("wb")
    dog = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "watchdog", "--config",
                            str(fleet.path)], stdout=subprocess.DEVNULL, stderr=stderr)
    fleet.procs.append(dog)
    state_file = logs / "state" / "watchdog.json"

    def restarts() -> int:
        try:
            return memory_from_json(state_file.read_bytes()).agent("a").restarts
        except (OSError, ValueError):
            return -1

    before = restarts()
    for crash in (1, 2):
        pid = wait_until(lambda: fleet.pane_pid("e-a"), what="a live agent")
        wait_until(lambda: "? for shortcuts" in fleet_screen(fleet, "e-a"), what="agent idle")
        fleet.control("a", "crash 1")
        wait_until(lambda p=pid: fleet.pane_pid("e-a") not in (None, p), timeout=15,
                   what=f"restart {crash}")
        wait_until(lambda c=crash: restarts() >= before + c, what="the restart in state")
    assert dog.poll() is None
    text = (tmp_path / "watchdog.err").read_text()
    assert text.count("cannot write events") == 1, text
    assert "No space left on device" in text and "Traceback" not in text


# --------------------------------------------------------------------------- T37


def dir_bytes(folder: Path, prefix: str) -> int:
    total = 0
    for path in folder.glob(prefix + "*"):
        with contextlib.suppress(FileNotFoundError):  # rotated away meanwhile
            total += path.stat().st_size
    return total


def contents(folder: Path, prefix: str) -> bytes:
    data = b""
    for path in folder.glob(prefix + "*"):
        with contextlib.suppress(FileNotFoundError):
            data += path.read_bytes()
    return data


def test_t37_events_rotation_bounded_through_deletion(tmp_path: Path) -> None:
    """FAULT: 10 × max_bytes of events, one at a time; the active events.jsonl deleted
    half way through.
    EXPECTED: after every append the files hold at most max_bytes × (keep + 1) + one event;
    after the deletion a fresh events.jsonl (mode 0600) takes the next events; reading
    returns the newest events in order."""
    max_bytes, keep = 20_000, 2
    one = len(Event(1e9, "a1", "nudge", "n0000 " + "x" * 150).to_json()) + 1
    total = 0
    for index in range(10 * max_bytes // one):
        eventlog.append(tmp_path, [Event(1e9 + index, "a1", "nudge", f"n{index:04d} " + "x" * 150)],
                      max_bytes=max_bytes, keep=keep)
        total += one
        assert dir_bytes(tmp_path, "events.jsonl") <= max_bytes * (keep + 1) + one
        if total == one * (5 * max_bytes // one):
            eventlog.events_file(tmp_path).unlink()
    assert total >= 10 * max_bytes - one
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    assert all(mode(tmp_path / n) == 0o600 for n in names)
    got = [str(r["reason"]).split()[0] for r in eventlog.read(tmp_path)]
    last = 10 * max_bytes // one - 1
    assert got[-1] == f"n{last:04d}" and got == [f"n{i:04d}" for i in range(last + 1 - len(got),
                                                                            last + 1)]


@pytest.mark.parametrize("keep", [0, 1, 3])
def test_t37_rotating_log_bounds_every_file(tmp_path: Path, keep: int) -> None:
    """FAULT: lines of all lengths and one longer than a whole file, then the active log
    deleted and more written.
    EXPECTED: exactly LOG and LOG.1..LOG.keep, each ≤ max_bytes, whole lines in rotated
    files (or pieces of the over-long one), mode 0600; writing goes on in a fresh LOG."""
    log = tmp_path / "agent.log"
    out = RotatingLog(str(log), 1000, keep)
    for index in range(500):
        out.write(f"line {index:04d} {'x' * (index % 50)}\n".encode())
        assert dir_bytes(tmp_path, "agent.log") <= 1000 * (keep + 1)
    out.write(b"y" * 2500)  # longer than a whole file
    out.write(b"end\n")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["agent.log"] + [f"agent.log.{n}" for n in range(1, keep + 1)]
    assert all((tmp_path / n).stat().st_size <= 1000 for n in names)
    assert log.read_bytes().endswith(b"yyyyend\n")
    rotated = [(tmp_path / n).read_bytes() for n in names[1:]]
    assert all(data.endswith((b"\n", b"y")) for data in rotated)  # whole lines, or the long one
    assert all(mode(tmp_path / n) == 0o600 for n in names)
    log.unlink()
    out.write(b"after the deletion\n")
    out.close()
    assert log.read_bytes() == b"after the deletion\n" and mode(log) == 0o600


def test_t37_logcap_spew_and_deleted_log(tmp_path: Path) -> None:
    """FAULT: the pane writes 10 × max_bytes (with a secret in it) through logcap, and the
    active log is deleted half way.
    EXPECTED: while it runs the folder never holds more than max_bytes × (keep + 1) plus
    one line; after the deletion logcap writes a fresh LOG (mode 0600, redacted) and ends
    cleanly."""
    log, max_bytes, keep = tmp_path / "agent.log", 50_000, 2
    process = subprocess.Popen([sys.executable, "-m", "agent_orchestrator.doors.logcap", str(log),
                                str(max_bytes), str(keep)], stdin=subprocess.PIPE, cwd=ROOT)
    assert process.stdin is not None
    line = b"spew line with some text in it, like a build log would print it  \n"
    biggest = 0
    try:
        for round_ in range(10):
            for _ in range(max_bytes // len(line)):
                process.stdin.write(line)
            process.stdin.write(f"round {round_} done\n".encode())
            process.stdin.flush()
            wait_until(lambda r=round_: f"round {r} done".encode() in contents(tmp_path,
                                                                              "agent.log"),
                       what=f"round {round_}")
            biggest = max(biggest, dir_bytes(tmp_path, "agent.log"))
            if round_ == 4:
                log.unlink()
                process.stdin.write(f"fresh file {ANTHROPIC}\n".encode())
                process.stdin.flush()
                wait_until(lambda: log.exists() and b"fresh file" in log.read_bytes(),
                           what="a fresh log after the deletion")
                assert log.read_bytes() == b"fresh file [REDACTED:anthropic]\n"
                assert mode(log) == 0o600
    finally:
        process.stdin.close()
        assert process.wait(timeout=30) == 0
    assert biggest <= max_bytes * (keep + 1) + len(line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.log", "agent.log.1",
                                                          "agent.log.2"]
    assert b"round 9 done\n" in log.read_bytes()


# --------------------------------------------------------------------------- T39

CLOCK = """
[watchdog]
signal_interval = 5
restart_backoff = 1
restart_backoff_max = 60

[backend.tool]
bin = "tool"
process_name = "tool"
active_re = "esc to interrupt"
limit_re = "You've hit your limit"
stall_idle = 120

[backend.patient]
bin = "tool"
process_name = "tool"
stall_idle = 100000
"""
AGENTS = {"busy": "tool", "idle": "patient", "limited": "tool", "plain": "patient"}


def clock_sim(tmp_path: Path) -> Sim:
    body = CLOCK + "".join(f'\n[[agent]]\nname = "{n}"\nbackend = "{b}"\nwatch = "heal+stall"\n'
                           for n, b in AGENTS.items())
    return Sim(config_mod.load(write_config(tmp_path, body)))


def run_fleet(sim: Sim, ticks: int, start: int = 0) -> None:
    """`ticks` passes 5 s apart; the busy agent's spinner moves every time."""
    for k in range(start, start + ticks):
        sim.show("busy", f"✢ Working… ({k}s · esc to interrupt)")
        sim.tick()
        sim.advance(5)


def started(sim: Sim, since: int = 0) -> list[str]:
    return [a.agent for a in sim.actions[since:] if isinstance(a, Start | Restart)]


@pytest.mark.parametrize("jump", [
    pytest.param(86_400, id="forward-1-day"),
    pytest.param(-86_400, id="back-1-day"),
])
def test_t39_wall_clock_jump_mid_run(tmp_path: Path, jump: float) -> None:
    """FAULT: the wall clock jumps a day (forward or back) while a working agent, an idle
    one, one inside a limit window and a plain one run; the monotonic clock does not jump.
    EXPECTED: over the next 400 s (> stall_idle): no start or restart at all, no stall,
    the limit window still holds (no nudge), every back-off sane."""
    sim = clock_sim(tmp_path)
    for name in AGENTS:
        sim.run(name)
    sim.show("limited", "You've hit your limit · resets in 3 hours")
    run_fleet(sim, 10)
    assert sim.kinds("limited")[-1] == "limit"
    actions, seen = len(sim.actions), len(sim.events)
    sim.wall += jump
    run_fleet(sim, 80, start=10)
    assert started(sim, actions) == []
    kinds = [e.event for e in sim.events[seen:]]
    assert kinds == [], sim.events[seen:]
    assert sim.memory.agent("limited").limit_until is not None


def test_t39_clock_jumps_never_make_backoff_negative_or_huge(tmp_path: Path) -> None:
    """FAULT: an agent crash-loops through wall jumps of +1 day and -1 day.
    EXPECTED: every `restarting in Ns` lies in [0, restart_backoff_max]; restarts keep
    coming at back-off pace (no hold for a day, no burst)."""
    sim = clock_sim(tmp_path)
    sim.run("plain")
    for step in range(120):
        if step == 30:
            sim.wall += 86_400
        if step == 70:
            sim.wall -= 2 * 86_400
        pane = sim.panes.get(sim.session("plain"))
        if pane is not None and not pane.dead:
            sim.exit("plain")
        sim.tick()
        sim.advance(5)
    delays = [float(e.reason.split("restarting in ")[1].split("s ")[0])
              for e in sim.events if e.event == "backoff"]
    assert delays and all(0 <= d <= 60 for d in delays)
    assert "crash-loop" in sim.kinds("plain")  # crash_limit reached as normal


def test_t39_future_stamps_are_clamped_not_obeyed(tmp_path: Path) -> None:
    """FAULT: memory saved before a reboot holds monotonic stamps far 'in the future'
    (start, deaths, a restart due in 11 days, a limit window of 11 days, fleet starts).
    EXPECTED: no restart storm and no false stall: on the first pass nothing is started;
    no stamp stays in the future; the restart is held at most restart_backoff_max and the
    limit at most its longest legitimate length, never for ever."""
    sim = clock_sim(tmp_path)
    far = sim.mono + 10**6
    future = AgentMemory(started_at=far, starts=1, deaths=(far,), active_at=far,
                         screen_changed_at=far)
    # `plain` had died: its restart was due "later"; the others run.
    sim.memory = FleetMemory({"plain": replace(future, restart_due_at=far), "busy": future,
                              "idle": future, "limited": replace(future, limit_until=far)},
                             fleet_starts=(far,) * 20)
    sim.run("busy")
    sim.run("idle")
    sim.run("limited", screen="You've hit your limit · resets in 3 hours")
    first = sim.tick()
    assert first.actions == ()
    for name in ("plain", "busy", "idle", "limited"):
        mem = sim.memory.agent(name)
        assert mem.started_at == sim.mono and mem.deaths == (sim.mono,)
        assert mem.active_at == sim.mono
    assert sim.memory.agent("limited").limit_until <= sim.mono + 8 * 86_400
    sim.advance(60)  # restart_backoff_max
    assert started(sim) == [] and [type(a).__name__ for a in sim.tick().actions] == ["Start"]
    assert started(sim) == ["plain"]


def test_t39_future_stamps_are_reported(tmp_path: Path) -> None:
    """FAULT: persisted memory holds stamps in the future (monotonic, after a reboot).
    EXPECTED: besides being clamped, it is reported once: an event naming the agent and
    saying its saved times were in the future."""
    sim = clock_sim(tmp_path)
    sim.memory = FleetMemory({"busy": AgentMemory(started_at=sim.mono + 10**6, starts=1)})
    sim.run("busy")
    decisions = sim.tick()
    assert any(e.agent == "busy" and re.search("future|clock", e.reason)
               for e in decisions.events), decisions.events


def test_t39_future_capture_time_does_not_blind_the_watchdog(tmp_path: Path) -> None:
    """FAULT: the state file says the last screen capture happened a day in the future
    (wall clock set back since, or state copied from another machine).
    EXPECTED: screens are read anyway: a working agent is seen working and never
    stall-rebooted."""
    sim = clock_sim(tmp_path)
    sim.run("busy")
    run_fleet(sim, 2)
    mem = sim.memory.agent("busy")
    sim.memory = replace(sim.memory, agents={**sim.memory.agents, "busy": replace(
        mem, captured_wall=sim.wall + 86_400)})
    run_fleet(sim, 60, start=2)
    assert "stall-reboot" not in sim.kinds("busy")


# --------------------------------------------------------------------------- T40

HOOKS = ("post-checkout", "reference-transaction", "post-index-change", "pre-auto-gc",
         "post-merge", "post-rewrite", "pre-commit", "pre-push", "fsmonitor-watchman")
HOSTILE_BRANCH = "--upload-pack=touch${IFS}CANARY-upload-pack"


def commit(repo: Path, subject: str, files: dict[str, str]) -> None:
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content)
        git(repo, "add", name)
    git(repo, "commit", "-q", "--allow-empty", "-m", subject)
    git(repo, "push", "-q", "origin", "HEAD:refs/heads/main")


def canaries(*places: Path) -> list[Path]:
    return sorted({p for place in places for p in place.rglob("CANARY*")})


def test_t40_hostile_repo_config_and_branch_names_run_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FAULT: the watchdog's clone of the handoff repo has `core.hooksPath` (every hook)
    and `core.fsmonitor` pointing at scripts that touch a canary; origin carries a branch
    named `--upload-pack=touch CANARY`; refs and remotes named like options are asked for.
    EXPECTED: fetch, new commits, pings, `show`, verify worktrees (gitrelay.Git, as the
    watchdog uses it) all work and run no hook, no fsmonitor, no upload-pack (no canary);
    option-like refs are refused with ValueError. Control: plain git in the same repo does
    create the canaries, so the test can fail."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(origin, "symbolic-ref", "HEAD", "refs/heads/main")
    builder = clone_repo(origin, tmp_path / "builder")
    commit(builder, "initial", {"README.md": "hello\n"})
    victim = clone_repo(origin, tmp_path / "watch")
    canary_dir = tmp_path / "canaries"
    hooks = tmp_path / "evil-hooks"
    canary_dir.mkdir()
    hooks.mkdir()
    for name in HOOKS:
        script = hooks / name
        script.write_text(f"#!/bin/sh\ntouch '{canary_dir}/CANARY-hook-{name}'\nexit 0\n")
        script.chmod(0o755)
    fsmonitor = tmp_path / "evil-fsmonitor"
    fsmonitor.write_text(f"#!/bin/sh\ntouch '{canary_dir}/CANARY-fsmonitor'\nexit 1\n")
    fsmonitor.chmod(0o755)
    git(builder, "push", "-q", "origin", f"HEAD:refs/heads/{HOSTILE_BRANCH}")
    seen = Git(victim).head()
    git(victim, "config", "core.hooksPath", str(hooks))
    git(victim, "config", "core.fsmonitor", str(fsmonitor))
    commit(builder, "claim: evil", {"machine-docs/to_builder": "x\n", "STATUS.md": "s\n"})
    monkeypatch.chdir(victim)
    places = (canary_dir, victim, builder, origin)
    handoff = Handoff(repo=victim, claim_pattern=re.compile("^claim", re.I | re.M),
                      review_pattern=re.compile("^review", re.I | re.M))

    repo = Git(victim)
    result = poll(repo, handoff, seen)
    assert len(result.pings) == 2
    assert repo.show(ORIGIN_MAIN, "STATUS.md") == "s\n"
    assert repo.run_at(ORIGIN_MAIN, ["test -f STATUS.md"]).ok
    assert not repo.run_at(ORIGIN_MAIN, ["exit 4"]).ok
    for bad in (HOSTILE_BRANCH, f"refs/remotes/origin/x:{HOSTILE_BRANCH}", "-n1", "HEAD~1"):
        with pytest.raises(ValueError):
            repo.head(bad)
        with pytest.raises(ValueError):
            repo.new_commits(seen, bad)
        with pytest.raises(ValueError):
            repo.show(bad, "STATUS.md")
    for kwargs in ({"branch": HOSTILE_BRANCH}, {"remote": HOSTILE_BRANCH}):
        with pytest.raises(ValueError):
            repo.fetch(**kwargs)
    assert canaries(*places) == []

    subprocess.run(["git", "status"], cwd=victim, capture_output=True, check=False)
    subprocess.run(["git", "worktree", "add", "--detach", str(tmp_path / "naive")],
                   cwd=victim, capture_output=True, check=False)
    subprocess.run(["git", "fetch", HOSTILE_BRANCH], cwd=victim, capture_output=True,
                   check=False)
    names = {p.name for p in canaries(*places)}
    assert {"CANARY-fsmonitor", "CANARY-hook-post-checkout", "CANARY-upload-pack"} <= names


_SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output", "getoutput",
                     "getstatusoutput"}


def _is_text(node: ast.expr) -> bool:
    """A str literal, an f-string, or text built from them with `+` / `%` / `.format`."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return _is_text(node.left) or _is_text(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("format", "join") and _is_text(node.func.value)
    return False


def shell_hazards(source: str, name: str) -> list[str]:
    """`shell=True` anywhere, a str command given to a subprocess function, and
    os.system / os.popen calls, as `name:line: what`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (isinstance(keyword.value, ast.Constant)
                                               and keyword.value.value is False):
                found.append(f"{name}:{node.lineno}: shell={ast.unparse(keyword.value)}")
        func = node.func
        callee = func.attr if isinstance(func, ast.Attribute) else \
            func.id if isinstance(func, ast.Name) else ""
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(
            func.value, ast.Name) else ""
        if owner == "os" and callee in ("system", "popen") or callee in ("getoutput",
                                                                         "getstatusoutput"):
            found.append(f"{name}:{node.lineno}: {owner}.{callee}")
        # `subprocess.run(...)` or a bare `run(...)` imported from it; not a method of
        # some other object (`server.run("stdio")`).
        elif callee in _SUBPROCESS_CALLS and (owner == "subprocess" or
                                              isinstance(func, ast.Name)):
            command = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg == "args"), None)
            if command is not None and _is_text(command):
                found.append(f"{name}:{node.lineno}: {callee}() given a string command")
    return found


def test_t40_no_shell_and_no_string_commands_in_the_package() -> None:
    """FAULT (static): any `shell=True`, any subprocess call given a string (or f-string)
    command, any os.system/os.popen in agent_orchestrator/*.py.
    EXPECTED: none. The checker itself flags each planted form, so it can fail."""
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 20 and PACKAGE / "doors" / "gitrelay.py" in sources
    found = [h for p in sources for h in shell_hazards(p.read_text(encoding="utf-8"), p.name)]
    assert found == []
    planted = ("import os, subprocess\nfrom subprocess import run\n"
               "subprocess.run(cmd, shell = True)\nsubprocess.Popen('ls -l')\n"
               "subprocess.check_output(f'git {x}')\nrun('a' + b)\nos.system(x)\n"
               "subprocess.call(args='x {}'.format(y))\nsubprocess.run(['ls', x])\n")
    assert [h.split(": ", 1)[1] for h in shell_hazards(planted, "bad.py")] == [
        "shell=True", "Popen() given a string command", "check_output() given a string command",
        "run() given a string command", "os.system", "call() given a string command"]
