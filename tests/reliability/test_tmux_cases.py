"""Reliability cases for tmux and processes: T24–T30 and T38 of
shared/reference/reliability-cases.md.

- T24 the tmux server is killed (kill-server, SIGKILL): the watchdog lives on, the fleet comes
  back capped by `fleet_restart_limit`, one incident event, the old server's leftovers end.
- T25 the tmux server hangs (SIGSTOP): calls time out, a tick stays within its budget,
  SIGCONT recovers with no duplicate or restarted session.
- T26 an agent's `nohup` and `setsid` children never outlive it: killed session, restart,
  stop; an unrelated look-alike process is untouched.
- T27 a dead pane is seen through tmux (`#{pane_dead}`), with its exit status or signal.
- T28 `agent-1` never resolves to `agent-10` (nor `foo` to `foo-bar`); blank names rejected.
- T29 an unsafe tmux socket folder is refused with a clear message, and nothing retries tmux.
- T30 killing (or restarting) the watchdog leaves every agent session running.
- T38 200 MB of output, a redraw loop, invalid UTF-8 and escapes: captures, scrollback, logs,
  tick time and the watchdog's memory stay bounded; nothing crashes.

Real parts throughout: a private tmux server, the demo agent, real processes. Where a test
runs the watchdog in-process (`Watchdog.tick()`), it is the same code the daemon loops over.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import holds_for, sessions, tmux_cmd, wait_until
from harness import Fleet, demo_agent

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Config
from agent_orchestrator.core.observed import Pane
from agent_orchestrator.doors import markers, proctree
from agent_orchestrator.doors.tmux import HISTORY_LIMIT, PANE_HEIGHT, PANE_WIDTH, Tmux, TmuxError
from agent_orchestrator.doors.tmuxcontrol import ControlClient
from agent_orchestrator.doors.tmuxsocket import socket_dir
from agent_orchestrator.runtime import launch
from agent_orchestrator.runtime.watchdog import Watchdog

pytestmark = pytest.mark.tmux

MB = 1_000_000


# ---------------------------------------------------------------------- helpers


def start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat; None when gone or a zombie (dead, not yet reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[-1].split()
    except OSError:
        return None
    return None if fields[0] == b"Z" else fields[19].decode()


def running(proc: tuple[int, str]) -> bool:
    """The very process (pid AND start time: a reused pid is another process) still runs."""
    return start_time(proc[0]) == proc[1]


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def vm_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def server_pid(socket: str) -> int:
    return int(tmux_cmd(socket, "display-message", "-p", "#{pid}").stdout)


def watchdog_pid(fleet: Fleet) -> int:
    return int((fleet.folder / "logs" / "state" / "watchdog.lock").read_text())


def control_client_parents(socket: str) -> set[int]:
    """Parent pids of the tmux clients attached to the server (a watchdog's control
    client is its child)."""
    out = tmux_cmd(socket, "list-clients", "-F", "#{client_pid}").stdout.split()
    parents = set()
    for pid in out:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[-1].split()
            parents.add(int(fields[1]))
    return parents


def pid_alive(pid: int) -> bool:
    return start_time(pid) is not None


def leftovers(socket: str, session: str) -> list[tuple[int, str]]:
    """The session's tagged `sleep 600x` processes (the children the tests plant)."""
    tag = proctree.launch_tag(socket, session)
    return [(pid, started) for pid, started in proctree.tagged(tag)
            if cmdline(pid)[:1] == ["sleep"] and cmdline(pid)[1:2] in (["6001"], ["6002"])]


def plant_children(fleet: Fleet, name: str, session: str) -> list[tuple[int, str]]:
    """Make the demo agent start a `nohup` child (its own process group) and a `setsid`
    child ignoring SIGHUP (its own session); return both as (pid, start time)."""
    agent = fleet.pane_pid(session)
    assert agent is not None
    fleet.control(name, "run nohup sleep 6001\n"
                        "run setsid sh -c 'trap \"\" HUP; exec sleep 6002'")
    kids = wait_until(lambda: len(found := leftovers(fleet.socket, session)) == 2 and found,
                      what="the agent's nohup and setsid children")
    by_arg = {cmdline(pid)[1]: (pid, started) for pid, started in kids}  # type: ignore[union-attr]
    nohup, detached = by_arg["6001"], by_arg["6002"]
    assert os.getpgid(nohup[0]) == os.getpgid(agent), "nohup child left the agent's group"
    assert os.getsid(detached[0]) == detached[0] != os.getsid(agent), "setsid child not detached"
    return [nohup, detached]


def demo(name: str, folder: Path, watch: str = "heal", session: str | None = None) -> str:
    snippet = demo_agent(name, folder, watch=watch)
    if session is not None:
        snippet = snippet.replace(f'name = "{name}"\n', f'name = "{name}"\n'
                                  f'        session = "{session}"\n', 1)
    return snippet


@contextlib.contextmanager
def in_process(config: Config, timeout: float = 5.0) -> Iterator[Watchdog]:
    """The watchdog's tick, run by the test (no daemon): its control client and pidfds are
    closed afterwards."""
    dog = Watchdog.open(config)
    dog.tmux = Tmux(config.tmux_socket, timeout=timeout)
    try:
        yield dog
    finally:
        dog.close()


def launch_all(config: Config) -> None:
    """Start every agent's session the way `agents up` does, without a daemon watchdog."""
    tmux = Tmux(config.tmux_socket)
    for agent in config.agents:
        markers.mark_started(config, agent.name)
        launch.start(tmux, config, launch.plan_agent(config, agent))


def event_kinds(fleet: Fleet, agent: str | None = None) -> list[str]:
    return [e["event"] for e in fleet.events(agent)]


def no_tracebacks(fleet: Fleet) -> None:
    path = fleet.folder / "logs" / "events.jsonl"
    text = path.read_text() if path.exists() else ""
    assert "Traceback" not in text, text[-2000:]


def count_tmux_spawns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a `tmux` first on PATH that logs each call, then runs the real one; return the
    log (each line one spawned tmux client, ours or a subprocess's)."""
    real = shutil.which("tmux")
    assert real is not None
    folder = tmp_path / "spy"
    folder.mkdir()
    calls = folder / "calls"
    calls.touch()
    spy = folder / "tmux"
    spy.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {real} "$@"\n')
    spy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return calls


# ---------------------------------------------------------------------- T24


@pytest.mark.parametrize(("how", "limit"), [("kill-server", 10), ("sigkill", 2)])
def test_t24_tmux_server_killed_fleet_comes_back(make_fleet, tmp_path, how: str,
                                                 limit: int) -> None:
    """FAULT: the tmux server dies under a running fleet (`kill-server`, or SIGKILL of its
    pid, which leaves a stale socket), taking the watchdog's own pane with it; agent `a` had
    started a `nohup` child and a `setsid` child that outlive their pane.
    EXPECTED: the watchdog (SIGHUP ignored) lives on, classifies "no server" (one
    `tmux-server-gone` event, no tmux-error), starts the agents on a new server at most
    `fleet_restart_limit` at a time (with 2, the third is held back: `throttled`); the old
    run's children are ended; the new server carries no agent tag (so stopping the
    watchdog can never kill it)."""
    body = f"[watchdog]\nsignal_interval = 30\nfleet_restart_limit = {limit}\n"
    fleet = make_fleet(body + "".join(demo(n, tmp_path) for n in "abc"))
    assert fleet.agents("up").returncode == 0
    for name in "abc":
        fleet.wait_event(name, "adopt")
    dog = watchdog_pid(fleet)
    old_server = server_pid(fleet.socket)
    kids = plant_children(fleet, "a", "e-a")
    if how == "kill-server":
        assert tmux_cmd(fleet.socket, "kill-server").returncode == 0
    else:
        os.kill(old_server, signal.SIGKILL)
    fleet.wait_event(None, "tmux-server-gone", timeout=10)
    back = {"e-a", "e-b", "e-c"} if limit >= 3 else {"e-a", "e-b"}
    wait_until(lambda: back <= sessions(fleet.socket), timeout=10,
               what=f"{sorted(back)} on a new server")
    wait_until(lambda: not any(running(k) for k in kids), timeout=5,
               what="the old run's nohup/setsid children to be ended")
    if limit < 3:
        fleet.wait_event(None, "throttled")
        holds_for(lambda: "e-c" not in sessions(fleet.socket), 0.5,
                  what="the third agent held back by fleet_restart_limit")
        assert event_kinds(fleet, "c").count("restart") == 0
    assert pid_alive(dog), "the watchdog died with the tmux server"
    assert watchdog_pid(fleet) == dog
    assert event_kinds(fleet).count("tmux-server-gone") == 1
    assert "tmux-error" not in event_kinds(fleet)
    assert not pid_alive(old_server)
    new_server = server_pid(fleet.socket)
    assert new_server != old_server
    inherited = proctree.TAG_VAR.encode() in environ(new_server)
    assert not inherited, "the recreated tmux server carries the watchdog's tag"
    no_tracebacks(fleet)


# ---------------------------------------------------------------------- T25


def test_t25_hung_tmux_server_times_out_then_recovers(make_fleet, tmp_path) -> None:
    """FAULT: the tmux server is SIGSTOPped (a wedged server), once before a tick and once
    in the middle of one (after its snapshot, while it captures screens).
    EXPECTED: every tmux call raises a timeout error instead of hanging; a tick returns
    within one timeout (later calls fail at once), never raises, records ONE `tmux-error`
    naming the timeout and decides nothing; after SIGCONT the next ticks recover: the same
    sessions with the same pids, no start or restart, no duplicate session."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.1\n" + demo("a", tmp_path)
                       + demo("b", tmp_path))
    config = config_mod.load(fleet.path)
    launch_all(config)
    timeout = 0.5  # seconds; after a timeout, calls fail at once for as long
    with in_process(config, timeout=timeout) as dog:
        dog.tick()
        assert sorted(e["agent"] for e in fleet.events(None, "adopt")) == ["a", "b"]
        before = {s: fleet.pane_pid(s) for s in ("e-a", "e-b")}
        server = server_pid(fleet.socket)
        os.kill(server, signal.SIGSTOP)
        try:
            began = time.monotonic()
            assert dog.tick() is None
            first = time.monotonic() - began
            began = time.monotonic()
            assert dog.tick() is None
            second = time.monotonic() - began
            tmux = dog.tmux  # every door to tmux fails the same way, none hangs
            calls: list[Callable[[], object]] = [
                tmux.snapshot, lambda: tmux.capture("e-a"), lambda: tmux.kill("e-a"),
                lambda: tmux.start("e-x", ["sleep", "60"]), lambda: tmux.send_keys("e-a", "x"),
                lambda: tmux.paste("e-a", "text", "buf")]
            for call in calls:
                with pytest.raises(TmuxError, match="timed out after 0.5s"):
                    call()
            assert tmux.capture_many(["e-a", "e-b"]) == {}
        finally:
            os.kill(server, signal.SIGCONT)
        assert first < timeout + 1.0, f"a tick with a hung server took {first:.2f}s"
        assert second < 0.3, f"the next tick waited for tmux again ({second:.2f}s)"
        errors = fleet.events(None, "tmux-error")
        assert len(errors) == 1 and "list-panes timed out after 0.5s" in errors[0]["reason"]

        wait_until(lambda: dog.tick() is not None, timeout=5, what="the first good tick")
        # Hung in the middle of a tick: the snapshot answered, the screen capture hangs.
        real_capture = dog.tmux.capture_many

        def hang_then_capture(wanted: list[str]) -> dict[str, str]:
            os.kill(server, signal.SIGSTOP)
            return real_capture(["e-a", "e-b"])

        dog.tmux.capture_many = hang_then_capture  # type: ignore[method-assign]
        dog._last_light = float("-inf")  # make this tick a light one (it reads screens)
        try:
            began = time.monotonic()
            dog.tick()  # must not raise
            middle = time.monotonic() - began
        finally:
            os.kill(server, signal.SIGCONT)
            dog.tmux.capture_many = real_capture  # type: ignore[method-assign]
        assert middle < timeout + 1.0, f"a tick hung mid-way took {middle:.2f}s"
        wait_until(lambda: dog.tick() is not None, timeout=5, what="recovery after SIGCONT")
        dog.tick()
    out = tmux_cmd(fleet.socket, "list-sessions", "-F", "#{session_name}").stdout.split()
    assert sorted(out) == ["e-a", "e-b"], f"sessions after recovery: {out}"
    assert {s: fleet.pane_pid(s) for s in ("e-a", "e-b")} == before
    kinds = event_kinds(fleet)
    assert not {"start", "restart", "action-failed", "tmux-server-gone"} & set(kinds), kinds


# ---------------------------------------------------------------------- T26


def test_t26_no_descendant_outlives_its_agent(make_fleet, tmp_path) -> None:
    """FAULT: the agent starts a `nohup` child (same process group, ignores SIGHUP) and a
    `setsid` child ignoring SIGHUP (its own session), then (1) its session is killed from
    outside and the watchdog heals it, (2) it crashes and the watchdog restarts it, (3) the
    operator stops it; an unrelated `sleep 6001` / `nohup sleep 6002` started outside the
    fleet runs all along.
    EXPECTED: after each of the three, none of the agent's children is alive (pid AND
    start time checked in /proc); the unrelated look-alikes are untouched."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 30\nrestart_backoff = 0.1\n"
                       + demo("a", tmp_path))
    strangers = [subprocess.Popen(["sleep", "6001"], start_new_session=True),
                 subprocess.Popen(["nohup", "sleep", "6002"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)]
    try:
        assert fleet.agents("up").returncode == 0
        fleet.wait_event("a", "adopt")

        kids = plant_children(fleet, "a", "e-a")  # (1) killed from outside, healed
        tmux_cmd(fleet.socket, "kill-session", "-t", "=e-a")
        assert fleet.wait_event("a", "restart")["reason"] == "session gone"
        wait_until(lambda: not any(running(k) for k in kids), timeout=5,
                   what="the killed session's children to be ended")

        kids = plant_children(fleet, "a", "e-a")  # (2) crash → restart
        fleet.control("a", "crash 3")
        fleet.wait_event("a", "restart", after=1)
        assert "exited with status 3" in fleet.events("a", "backoff")[0]["reason"]
        wait_until(lambda: not any(running(k) for k in kids), timeout=5,
                   what="the crashed agent's children to be ended")

        wait_until(lambda: fleet.pane_pid("e-a"), what="the restarted agent")
        kids = plant_children(fleet, "a", "e-a")  # (3) the operator stops it
        assert fleet.agents("down", "a").returncode == 0
        alive = [k for k in kids if running(k)]
        assert alive == [], f"children alive after `agents down a`: {alive}"
        assert "e-a" not in sessions(fleet.socket)
        for stranger in strangers:
            assert stranger.poll() is None, f"an unrelated {stranger.args} was killed"
    finally:
        for stranger in strangers:
            stranger.kill()
            stranger.wait()


# ---------------------------------------------------------------------- T27


def test_t27_dead_pane_is_seen_through_tmux_with_its_exit(make_fleet, tmp_path) -> None:
    """FAULT: with `remain-on-exit on`, agent `x` exits with status 3 and agent `y` is
    killed by SIGKILL; their panes stay, dead.
    EXPECTED: tmux's `#{pane_dead}`/`#{pane_dead_status}`/`#{pane_dead_signal}` show it (the
    pane's pid is gone: nothing here asks `kill(pid, 0)`), and the watchdog's restart event
    names the exit status 3 and the signal 9; the status is kept in its memory."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 30\n" + demo("x", tmp_path)
                       + demo("y", tmp_path))
    config = config_mod.load(fleet.path)
    launch_all(config)
    tmux = Tmux(fleet.socket)
    assert tmux_cmd(fleet.socket, "show-options", "-w", "-v", "-t", "=e-x:",
                    "remain-on-exit").stdout.strip() == "on"
    with in_process(config) as dog:
        dog.tick()
        assert len(fleet.events(None, "adopt")) == 2
        fleet.control("x", "crash 3")
        victim = fleet.pane_pid("e-y")
        assert victim is not None
        os.kill(victim, signal.SIGKILL)

        def both_dead() -> dict[str, Pane] | None:
            # (the in-process watchdog's control client has a session of its own)
            panes = {s: p for s, p in tmux.snapshot().panes.items() if s in ("e-x", "e-y")}
            # Dead when the pty closes; the status shows once tmux has reaped the process.
            known = all(p.dead and (p.exit_status, p.exit_signal) != (None, None)
                        for p in panes.values())
            return dict(panes) if known else None

        dead = wait_until(both_dead, what="both panes dead, with their exit known")
        x, y = dead["e-x"], dead["e-y"]  # type: ignore[index]
        assert (x.exit_status, x.exit_signal) == (3, None)
        assert (y.exit_status, y.exit_signal) == (None, 9)
        assert not pid_alive(x.pid) and not pid_alive(y.pid)
        decisions = dog.tick()
        assert decisions is not None
        assert dog.memory.agent("x").last_exit == 3
    reasons = {e["agent"]: e["reason"] for e in fleet.events(None, "restart")}
    assert reasons == {"x": "exited with status 3", "y": "killed by signal 9"}
    wait_until(lambda: all(p is not None and not p.dead for p in
                           (tmux.snapshot().pane("e-x"), tmux.snapshot().pane("e-y"))),
               what="both agents running again")
    # The last session killed: the server exits; a snapshot taken at once says so (it may
    # catch the server between its last session and its exit) instead of raising.
    assert tmux.kill("e-x") and tmux.kill("e-y")
    assert tmux.snapshot().server_running is False


# ---------------------------------------------------------------------- T28


def test_t28_a_missing_session_never_resolves_to_a_longer_name(
        make_fleet, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FAULT: sessions `agent-1`, `agent-10`, `foo`, `foo-bar`; `agent-1` and `foo` vanish
    (tmux would resolve a bare `-t agent-1` to `agent-10` by prefix).
    EXPECTED: every tmux command we run (kill, capture, paste, send-keys, start, the
    watchdog's heal) targets `=NAME`/`=NAME:` exactly or a pane id; commands aimed at the
    missing sessions fail instead of landing on the neighbours; `agent-10` and `foo-bar`
    (watch = "none") are never named in any tmux command: same pid, nothing typed."""
    body = "[watchdog]\nsignal_interval = 0.1\n"
    body += demo("one", tmp_path, "heal+stall", "agent-1") + demo("ten", tmp_path, "none",
                                                                    "agent-10")
    body += demo("foo", tmp_path, "heal+stall", "foo") + demo("foobar", tmp_path, "none",
                                                             "foo-bar")
    fleet = make_fleet(body)
    config = config_mod.load(fleet.path)
    launch_all(config)
    tmux = Tmux(fleet.socket)
    wait_until(lambda: all(tmux.snapshot().pane(s) for s in ("agent-10", "foo-bar")),
               what="the neighbours")
    neighbours = {s: fleet.pane_pid(s) for s in ("agent-10", "foo-bar")}
    pane_ids = {tmux.snapshot().panes[s].pane_id for s in neighbours}
    argvs: list[list[str]] = []
    real_run = Tmux._run

    def spy(self: Tmux, args: Any, **kw: Any) -> subprocess.CompletedProcess[str]:
        argvs.append(list(args))
        return real_run(self, args, **kw)

    monkeypatch.setattr(Tmux, "_run", spy)
    with in_process(config) as dog:
        dog.tick()
        for session in ("agent-1", "foo"):
            tmux_cmd(fleet.socket, "kill-session", "-t", f"={session}")
        for session in ("agent-1", "foo"):  # aimed at the missing ones: fail, land nowhere
            with pytest.raises(TmuxError):
                tmux.capture(session)
            with pytest.raises(TmuxError):
                tmux.send_keys(session, "x")
            with pytest.raises(TmuxError):
                tmux.paste(session, "typed-by-mistake", "t28")
            assert tmux.kill(session) is False
        assert tmux.capture_many(["agent-1", "foo"]) == {}
        wait_until(lambda: dog.tick() and {"agent-1", "foo"} <= sessions(fleet.socket),
                   what="the watchdog to bring agent-1 and foo back")
        for _ in range(3):
            dog._last_light = float("-inf")  # light ticks: the healed screens are read
            dog.tick()
    targets = [argv[i + 1] for argv in argvs for i, word in enumerate(argv[:-1])
               if word == "-t"]
    assert targets, "no tmux command was recorded"
    for target in targets:
        exact = target.startswith("=") or (target.startswith("%") and target not in pane_ids)
        assert exact, f"inexact or neighbour target {target!r}"
        # (and the session of the in-process watchdog's control client, killed on close)
        assert target.lstrip("=").split(":")[0] in ("agent-1", "foo",
                                                    config.control_session) or \
            target.startswith("%"), target
    named = [argv for argv in argvs if any("agent-10" in w or "foo-bar" in w for w in argv)]
    assert named == [], f"commands naming a neighbour: {named}"
    after = Tmux(fleet.socket).snapshot().panes
    assert {s: fleet.pane_pid(s) for s in neighbours} == neighbours, \
        {s: after.get(s) for s in neighbours}
    for name in ("ten", "foobar"):
        assert not [r for r in fleet.records(name) if r["event"] == "input"], name
    assert sorted(e["agent"] for e in fleet.events(None, "restart")) == ["foo", "one"]


@pytest.mark.parametrize("line", ['name = ""', 'name = "   "', 'name = " a"',
                                  'name = "a"\nsession = " "'],
                         ids=["empty", "blank", "leading-space", "blank-session"])
def test_t28_blank_names_are_rejected(make_config, line: str) -> None:
    """FAULT: an agent named "" or "   " (or a blank session name) would make `=` targets
    match nothing or everything's prefix.
    EXPECTED: the config is rejected, naming the rule."""
    with pytest.raises(config_mod.ConfigError, match="letters, digits"):
        config_mod.load(make_config(f"[[agent]]\n{line}\nbackend = 'demo'\n"))


# ---------------------------------------------------------------------- T29


def make_unsafe(kind: str) -> Path:
    """Break this test's own socket folder (TMUX_TMPDIR is per test): mode 0777, or a
    symlink to a private folder."""
    path = socket_dir()
    if kind == "mode-0777":
        path.mkdir()
        path.chmod(0o777)
    else:
        target = path.parent / "elsewhere"
        target.mkdir(mode=0o700)
        path.symlink_to(target)
    return path


@pytest.mark.parametrize("kind", ["mode-0777", "symlink"])
def test_t29_unsafe_socket_dir_is_refused_without_retrying(
        make_fleet, tmp_path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """FAULT: `$TMUX_TMPDIR/tmux-UID` is world-writable (0777) or a symlink.
    EXPECTED: `agents up` and `agents watchdog` both exit 1 with a message naming the folder
    and what it must be (mode 0700, owned by us); no tmux process is spawned at all (so
    nothing can retry in a loop) and no session exists."""
    fleet = make_fleet(demo("a", tmp_path))
    path = make_unsafe(kind)
    calls = count_tmux_spawns(tmp_path, monkeypatch)
    for verb in ("up", "watchdog"):
        result = fleet.agents(verb)
        assert result.returncode == 1, (verb, result.stdout, result.stderr)
        message = result.stderr
        assert str(path) in message and "0700" in message and f"uid {os.getuid()}" in message
        assert ("symlink" if kind == "symlink" else "mode is 0777") in message
        assert "Traceback" not in message
    assert calls.read_text() == "", f"tmux was spawned: {calls.read_text()}"
    assert sessions(fleet.socket) == set()


def test_t29_socket_dir_turning_unsafe_under_a_running_watchdog(
        make_fleet, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FAULT: while the watchdog runs, its socket folder is chmod 0777.
    EXPECTED: its ticks report ONE `tmux-error` naming the folder and mode 0700, spawn no tmux
    (no retry storm), decide nothing; once the folder is 0700 again it carries on with the
    same sessions."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.1\n" + demo("a", tmp_path))
    config = config_mod.load(fleet.path)
    launch_all(config)
    pid = wait_until(lambda: fleet.pane_pid("e-a"), what="the agent")
    with in_process(config) as dog:
        dog.tick()
        calls = count_tmux_spawns(tmp_path, monkeypatch)
        folder = socket_dir()
        folder.chmod(0o777)
        try:
            for _ in range(20):
                assert dog.tick() is None
            spawned = calls.read_text()
        finally:
            folder.chmod(0o700)
        assert spawned == "", f"tmux was spawned against an unsafe folder: {spawned}"
        errors = fleet.events(None, "tmux-error")
        assert len(errors) == 1, errors
        assert str(folder) in errors[0]["reason"] and "0700" in errors[0]["reason"]
        assert dog.tick() is not None
    assert fleet.pane_pid("e-a") == pid
    assert not {"start", "restart"} & set(event_kinds(fleet))


# ---------------------------------------------------------------------- T30


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "term"])
def test_t30_watchdog_death_or_restart_keeps_every_session(make_fleet, tmp_path,
                                                           signum: int) -> None:
    """FAULT: the watchdog (in its own tmux session, as `agents up` runs it) is killed with
    SIGKILL, or stopped with SIGTERM as a service manager's restart would, then started
    again with `agents up`.
    EXPECTED: every agent session keeps running with the same pid throughout (the agents
    are children of the tmux server, not of the watchdog); the new watchdog takes over
    without restarting any of them."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 30\n" + demo("a", tmp_path)
                       + demo("b", tmp_path))
    assert fleet.agents("up").returncode == 0
    for name in "ab":
        fleet.wait_event(name, "adopt")
    pids = {s: fleet.pane_pid(s) for s in ("e-a", "e-b")}
    dog = watchdog_pid(fleet)
    os.kill(dog, signum)
    wait_until(lambda: not pid_alive(dog), what="the watchdog to die")
    assert {s: fleet.pane_pid(s) for s in pids} == pids
    up = fleet.agents("up")
    assert up.returncode == 0 and "started" in up.stdout, up.stdout
    fleet.wait_event(None, "watchdog-start", after=1)
    new = watchdog_pid(fleet)
    assert new != dog
    # Its first tick acts once its control client is attached (adopting says nothing: it
    # knew both from the state file); a restart would come within a second of that.
    wait_until(lambda: new in control_client_parents(fleet.socket),
               what="the new watchdog's first tick")
    holds_for(lambda: {s: fleet.pane_pid(s) for s in pids} == pids
              and not {"start", "restart"} & set(event_kinds(fleet)), 1.0,
              what="every agent kept, nothing started")


def test_t30_the_control_client_attaches_before_a_pass_acts_or_speaks(
        make_fleet, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FAULT: tmux 3.3a's server segfaults when a session is made or killed while a control
    client is still identifying itself (tmux PR #4980; seen here as a whole fleet lost
    when a test killed a session on seeing the new watchdog's `adopt`, ~1 run in 30).
    EXPECTED: a watchdog's pass attaches its control client before it starts or kills any
    session and before it records any event, so neither its own actions nor an operator's
    answer to its events can overlap the attach."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 30\n" + demo("a", tmp_path)
                       + demo("b", tmp_path))
    config = config_mod.load(fleet.path)
    tmux = Tmux(fleet.socket)
    launch.start(tmux, config, launch.plan_agent(config, config.agent("a")))
    order: list[str] = []
    attach, start = ControlClient.__init__, Tmux.start

    def attaching(client: ControlClient, *args: Any, **kwargs: Any) -> None:
        attach(client, *args, **kwargs)
        order.append(f"attached after {len(fleet.events())} events")

    def starting(door: Tmux, session: str, *args: Any, **kwargs: Any) -> None:
        order.append(f"start {session}")
        start(door, session, *args, **kwargs)

    monkeypatch.setattr(ControlClient, "__init__", attaching)
    monkeypatch.setattr(Tmux, "start", starting)
    with in_process(config) as dog:
        dog.tick()
    assert order == ["attached after 0 events", "start e-b"], order
    assert [e["event"] for e in fleet.events()] == ["adopt", "start"]


# ---------------------------------------------------------------------- T38

REDRAW = """\
import itertools, sys, time
spin = "|/-\\\\"
for i in itertools.count():
    sys.stdout.write(f"\\r\\x1b[K{spin[i % 4]} working {i} {'#' * (i % 90)}")
    if i % 50 == 0:
        sys.stdout.flush()
        time.sleep(0.02)
"""

HOSTILE = """\
import sys, time
out = sys.stdout.buffer
bad = [b"\\xff\\xfe\\xc3\\x28\\xa0\\xa1\\xed\\xa0\\x80\\xf8\\x88\\x80\\x80\\x80\\xc0\\xaf",
       b"\\x1b[?1049h\\x1b]0;evil-title\\x07\\x1b]52;c;aGVsbG8=\\x07\\x1bPq#0;2;0;0;0\\x1b\\\\",
       b"\\x1b[6n\\x1b[c\\x1b[?2004h\\x1b[200~not-a-paste\\x1b[201~\\x9b31m\\x00\\x07",
       b"\\x1b[999999999;999999999H\\x1b[999999999X\\x1b[999999999@\\x1b#8",
       "e\\u0301\\u0302\\u0303\\u0304\\u0305 \\u4e2d\\u6587 \\U0001f600".encode() * 40,
       b"\\x1b[?1049l\\x1b[2J\\x1b[H\\x1b[", b"\\xe2\\x82"]
while True:
    for chunk in bad:
        out.write(chunk)
    out.write(b"\\nHOSTILE-PASS\\n")
    out.flush()
    time.sleep(0.05)
"""


def exec_agent(name: str, command: str) -> str:
    return f"""
        [backend.{name}]
        bin = "{command}"
        prompt_delivery = "exec"
        fatal_re = "FATAL-NEVER-PRINTED"

        [[agent]]
        name = "{name}"
        backend = "{name}"
        watch = "heal"
    """


def log_sizes(folder: Path, session: str) -> dict[str, int]:
    sizes = {}
    for path in folder.glob(f"{session}.log*"):
        with contextlib.suppress(FileNotFoundError):  # rotated away meanwhile
            sizes[path.name] = path.stat().st_size
    return sizes


def log_has(path: Path, marker: bytes) -> bool:
    """`marker` in the log; the log may be mid-rotation (renamed, not yet re-created)."""
    try:
        return marker in path.read_bytes()
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_t38_huge_and_hostile_output_stays_bounded(make_fleet, tmp_path) -> None:
    """FAULT: one agent writes 200 MB as fast as it can, one redraws a line with carriage
    returns in a tight loop, one keeps writing invalid UTF-8 and hostile escapes (alternate
    screen, OSC 52 clipboard, DCS, cursor reports, giant counts, DECALN, cut sequences);
    meanwhile a calm demo agent's session is killed.
    EXPECTED: the calm agent is healed promptly (ticks are not starved); the watchdog stays
    alive with a bounded RSS and records no error or traceback; screens it reads are at most
    one pane (40 lines); every agent pane has `history-limit` HISTORY_LIMIT and never more
    history; the 200 MB session log never exceeds its cap (max_bytes × (keep + 1))."""
    # The user's tmux.conf (HOME is private to the test) asks for a huge scrollback, as many
    # do, and numbers windows from 1: neither may leak into an agent's pane.
    Path(os.environ["HOME"], ".tmux.conf").write_text(
        "set -g history-limit 1000000\nset -g base-index 1\n")
    (tmp_path / "redraw.py").write_text(REDRAW)
    (tmp_path / "hostile.py").write_text(HOSTILE)
    firehose = ("head -c 200000000 /dev/zero | tr '\\\\0' x | fold -w 200; "
                "echo BURST-END; exec sleep 600")
    cap = 2 * MB + 65_536  # log_max_bytes × (log_keep + 1), plus one read chunk of slack
    fleet = make_fleet(
        "[watchdog]\nsignal_interval = 0.2\n"
        + exec_agent("loud", firehose)
        + exec_agent("redraw", f"{{python}} {tmp_path}/redraw.py")
        + exec_agent("hostile", f"{{python}} {tmp_path}/hostile.py")
        + demo("calm", tmp_path),
        defaults="log_max_bytes = 1000000\nlog_keep = 1\n")
    logs = tmp_path / "logs"
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("calm", "adopt")
    dog = watchdog_pid(fleet)
    tmux = Tmux(fleet.socket)

    killed = time.monotonic()  # the burst is running: heal latency = tick time under load
    tmux_cmd(fleet.socket, "kill-session", "-t", "=e-calm")
    fleet.wait_event("calm", "restart", timeout=10)
    heal = time.monotonic() - killed

    peak = {"rss": 0, "log": 0, "capture": 0.0}
    screens: dict[str, str] = {}

    def sample() -> bool:
        """Measure while the burst passes; True once all of it reached the log."""
        nonlocal screens
        assert pid_alive(dog), "the watchdog died during the burst"
        peak["rss"] = max(peak["rss"], vm_rss_kb(dog))
        peak["log"] = max(peak["log"], sum(log_sizes(logs, "e-loud").values()))
        began = time.monotonic()
        tmux.snapshot()
        screens = tmux.capture_many(["e-loud", "e-redraw", "e-hostile"])
        peak["capture"] = max(peak["capture"], time.monotonic() - began)
        return log_has(logs / "e-loud.log", b"BURST-END")

    wait_until(sample, timeout=120, interval=0.1, what="the 200 MB to pass through the log")
    peak_rss, peak_log, worst_capture = peak["rss"], peak["log"], peak["capture"]

    assert heal < 5, f"the calm agent was healed {heal:.1f}s after its session was killed"
    assert worst_capture < 2, f"a snapshot + 3 captures took {worst_capture:.2f}s"
    assert peak_rss < 150_000, f"watchdog VmRSS peaked at {peak_rss} kB"
    assert set(screens) == {"e-loud", "e-redraw", "e-hostile"}
    for session, text in screens.items():
        lines = text.split("\n")
        assert len(lines) <= PANE_HEIGHT, (session, len(lines))
        assert len(text.encode()) <= PANE_HEIGHT * (PANE_WIDTH * 24 + 1), (session, len(text))
    deep = len(tmux.capture("e-loud", lines=100_000).split("\n"))
    assert deep <= HISTORY_LIMIT + PANE_HEIGHT, f"{deep} lines of scrollback kept"
    for session in ("e-loud", "e-redraw", "e-hostile", "e-calm"):
        limit, size = tmux_cmd(fleet.socket, "display-message", "-p", "-t", f"={session}:",
                               "#{history_limit} #{history_size}").stdout.split()
        assert int(limit) == HISTORY_LIMIT and int(size) <= HISTORY_LIMIT, (session, limit, size)

    sizes = log_sizes(logs, "e-loud")
    assert sum(sizes.values()) <= cap and len(sizes) <= 2, f"e-loud logs: {sizes}"
    assert peak_log <= cap, f"e-loud logs peaked at {peak_log} bytes (cap {cap})"
    assert log_has(logs / "e-hostile.log", b"HOSTILE-PASS")
    assert sum(log_sizes(logs, "e-redraw").values()) <= cap

    assert pid_alive(dog) and watchdog_pid(fleet) == dog
    no_tracebacks(fleet)
    kinds = event_kinds(fleet)
    assert not {"tmux-error", "action-failed", "state-write-failed"} & set(kinds), kinds
    for name in ("loud", "redraw", "hostile"):
        assert not {"restart", "backoff", "crash-loop"} & set(event_kinds(fleet, name)), \
            (name, fleet.events(name))  # the reasons, should it ever happen (seen once in ~10)
    watchdog_screen = tmux.capture("e-watchdog", lines=HISTORY_LIMIT)
    assert "Traceback" not in watchdog_screen, watchdog_screen[-2000:]
