"""Reliability cases for processes and descriptors: T50–T54 (issue #14, items 4, 5, 7),
and T55 (operator verbs against a watchdog pass; found in a failed suite run).

- T50 a low open-file limit: the watchdog raises its soft limit to the hard one, and over
  more agents than pidfds fit it degrades to polling (said once), never crashes, still heals.
- T51 the tmux server's open-file limit: a fleet that outgrows it (2 descriptors a pane)
  is warned about by `doctor` and `up`.
- T52 a daemon that double-forks, calls setsid, renames itself and drops its environment
  (no tag left to find it by) does not survive `agents down`, nor (its run's cgroup v2)
  the death of its agent followed by `agents up` or `agents down`.
- T53 `agents down a` while the watchdog is in the middle of restarting `a`: when down
  returns, `a` has no session and no process, and stays so.
- T54 under a soft `ulimit -n` of 64 (hard 4096), the tmux server the watchdog or `agents
  up` starts gets the raised limit (it inherits ours).
- T55 `agents up a` (a stopped) overlapping a watchdog pass's looks (at the operator's
  marks, at the sessions), both ways round: no pass starts `a` as well (a second start that
  failed on the duplicate session and made the operator's run the watchdog's own).

Real parts: a private tmux server, real processes, watchdogs as subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import holds_for, sessions, tmux_cmd, wait_until

from agent_orchestrator import config as config_mod
from agent_orchestrator.doors import cgroups, lock, proctree
from agent_orchestrator.doors.crashpoints import SLOW_VAR
from agent_orchestrator.runtime import launch

pytestmark = pytest.mark.tmux

TOOL = """
[watchdog]
signal_interval = 0.3
restart_stable = 0.5
restart_backoff = 0.2
crash_limit = 10

[backend.tool]
bin = "{bin}"
"""


def tool_agent(name: str) -> str:
    return f'\n[[agent]]\nname = "{name}"\nbackend = "tool"\nwatch = "heal"\n'


def watchdog(fleet, env: dict[str, str] | None = None,
             preexec=None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "watchdog",
                             "--config", str(fleet.path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
                            preexec_fn=preexec)
    fleet.procs.append(proc)
    return proc


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return False


# ------------------------------------------------------------------------------- T53

SERVICE = '\n[[service]]\nname = "s"\ncommand = "sleep 600"\n'


@pytest.mark.parametrize("name", ["a", "s"], ids=["agent", "service"])
def test_t53_down_during_a_restart_stays_down(make_fleet, name: str) -> None:
    """FAULT: the agent's (or the `[[service]]`'s, healed like an agent since #13, whose
    stopped mark was once not looked at before a start) process dies; the watchdog kills
    its session and, before it starts the new one (slowed 3 s at the `restart-killed`
    point), the operator runs `agents down NAME`. EXPECTED: down succeeds, and from then on
    there is no session and no process of it: the watchdog's restart does not bring it
    back."""
    session = f"e-{name}"
    fleet = make_fleet(TOOL.format(bin="sleep 600") + tool_agent("a") + SERVICE)
    dog = watchdog(fleet, {SLOW_VAR: "restart-killed:3"})  # it starts both itself
    fleet.wait_event(name, "start")
    pid = wait_until(lambda: fleet.pane_pid(session), what=f"{name}'s pane")
    os.kill(pid, 9)
    fleet.wait_event(name, "restart")
    wait_until(lambda: session not in sessions(fleet.socket), what="the old session killed")
    down = fleet.agents("down", name)
    assert down.returncode == 0, down.stderr
    tag = proctree.launch_tag(fleet.socket, session)
    holds_for(lambda: session not in sessions(fleet.socket) and not proctree.tagged(tag), 5.0,
              what=f"{name} stays down")
    assert dog.poll() is None


def test_t53_down_waits_for_a_start_in_flight(make_fleet, tmp_path: Path) -> None:
    """FAULT: `agents down a` while the watchdog holds a's session lock (its start in
    flight). EXPECTED: down waits for the start to end, then kills what it started."""
    from agent_orchestrator import config as config_mod
    from agent_orchestrator.doors import lock

    fleet = make_fleet(TOOL.format(bin="sleep 600") + tool_agent("a"))
    assert fleet.agents("up", "a").returncode == 0
    wait_until(lambda: fleet.pane_pid("e-a"), what="a's pane")
    config = config_mod.load(fleet.path)
    with lock.session_lock(config, "e-a") as held:
        assert held
        down = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "down", "a",
                                 "--config", str(fleet.path)], stdout=subprocess.PIPE)
        holds_for(lambda: down.poll() is None and "e-a" in sessions(fleet.socket), 1.0,
                  what="down waits for the lock")
    assert down.wait(timeout=30) == 0
    assert "e-a" not in sessions(fleet.socket)


# ------------------------------------------------------------------------------- T55

class _Reports:
    def record(self, events: object) -> None:
        pass

    def report_once(self, key: str, kind: str, reason: str) -> bool:
        raise AssertionError(f"no trouble expected: {kind}: {reason}")

    def resolved(self, key: str) -> None:
        return None


def test_t55_up_while_a_pass_looks_is_not_started_twice(make_fleet) -> None:
    """FAULT: `agents up a`, a stopped by the operator, overlaps a watchdog pass's two looks
    (at the operator's marks, at the sessions), both ways round: the pass looks at the
    sessions just before `up` starts a, or looks at both in the middle of `up` (reproduced
    before: the pass saw a unstopped and sessionless, healed it, its start failed on the
    duplicate session, and the operator's run became the watchdog's own, stall-rebooted
    as such). EXPECTED: that pass decides no start of `a`; the next one sees a's session,
    which `up` made, and starts nothing either."""
    from agent_orchestrator.core import rules
    from agent_orchestrator.core.decisions import Restart, Start
    from agent_orchestrator.core.memory import FleetMemory
    from agent_orchestrator.doors.tmux import Tmux
    from agent_orchestrator.runtime import fleet as fleet_mod
    from agent_orchestrator.runtime.observe import Observer, clock
    from agent_orchestrator.runtime.workers import Workers

    fleet = make_fleet(TOOL.format(bin="sleep 600") + tool_agent("a"))
    config = config_mod.load(fleet.path)
    real = Tmux(fleet.socket)
    workers = Workers(lambda: None)
    decided: list[list[object]] = []

    def a_pass(door: object) -> None:
        observed = Observer(workers).observe(config, door, FleetMemory(), True, False,
                                             _Reports())
        assert observed is not None
        actions = rules.decide(config, observed, FleetMemory(), clock()).actions
        decided.append([d for d in actions if isinstance(d, Start | Restart)])

    class UpRightAfterTheLook:  # the pass's door: `up a` right after it looked at tmux
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def snapshot(self) -> object:
            snap = real.snapshot()
            fleet_mod.up(config, real, ["a"])
            return snap

    class PassBeforeTheStart(Tmux):  # `up`'s door: a whole pass just before it starts a
        def start(self, *args: object, **kwargs: object) -> None:
            a_pass(real)
            super().start(*args, **kwargs)  # type: ignore[arg-type]

    held = lock.acquire_lock(config)  # as the running watchdog: `up` starts none
    try:
        for overlap in ("up after the look", "a pass inside up"):
            fleet_mod.down(config, real, ["a"])
            assert "e-a" not in sessions(fleet.socket)
            decided.clear()
            if overlap == "up after the look":
                a_pass(UpRightAfterTheLook())
            else:
                fleet_mod.up(config, PassBeforeTheStart(fleet.socket), ["a"])
            assert "e-a" in sessions(fleet.socket), overlap
            a_pass(real)
            assert decided == [[], []], overlap
    finally:
        workers.close()
        held.close()


# ------------------------------------------------------------------------------- T52

DAEMON = textwrap.dedent("""
    import ctypes, os, sys, time
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    # A new program with an empty environment and another argv[0]: no tag left to read.
    os.execve(sys.executable, ["sneaky-server", "-c",
        "import ctypes, time\\n"
        "ctypes.CDLL(None).prctl(15, b'sneakyd', 0, 0, 0)\\n"
        "open({pidfile!r}, 'w').write(str(__import__('os').getpid()))\\n"
        "time.sleep(600)\\n"], {{}})
""")


def test_t52_setsid_daemon_without_tag_does_not_survive_down(make_fleet,
                                                            tmp_path: Path) -> None:
    """FAULT: the agent starts a daemon that double-forks, calls setsid, execs itself
    under another name with an EMPTY environment and renames its comm. EXPECTED: `agents
    down a` leaves no process of the agent, that daemon included."""
    pidfile = tmp_path / "daemon.pid"
    script = tmp_path / "daemon.py"
    script.write_text(DAEMON.format(pidfile=str(pidfile)))
    fleet = make_fleet(TOOL.format(bin=f"sh -c '{{python}} {script}; exec sleep 600'")
                       + tool_agent("a"))
    assert fleet.agents("up", "a").returncode == 0
    pid = int(wait_until(lambda: pidfile.exists() and pidfile.read_text(),
                         what="the daemon's pid"))
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert proctree.TAG_VAR.encode() not in environ  # the old way cannot find it
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "sneakyd"
    assert fleet.agents("down", "a").returncode == 0
    try:
        assert not alive(pid), "the daemon survived down"
    finally:
        if alive(pid):
            os.kill(pid, 9)


@pytest.mark.skipif(cgroups.own() is None, reason="no cgroup v2 hierarchy here")
def test_t52_a_daemon_whose_agent_died_is_ended_by_up_and_by_down(make_fleet,
                                                                  tmp_path: Path) -> None:
    """FAULT: as above, but the agent dies after starting the daemon, so the daemon is no
    longer below the pane (its subreaper is gone) and carries no tag: only the cgroup its
    agent joined still holds it. EXPECTED: `agents up a` (a new run in place of the dead
    pane) ends the earlier run's daemon, and `agents down a` ends the new one."""
    pidfile, die = tmp_path / "daemon.pid", tmp_path / "die"
    script = tmp_path / "daemon.py"
    script.write_text(DAEMON.format(pidfile=str(pidfile)))
    live = f"while [ ! -e {die} ]; do sleep 0.05; done; exit 3"
    fleet = make_fleet(TOOL.format(bin=f"sh -c '{{python}} {script}; {live}'")
                       + tool_agent("a"))
    config = config_mod.load(fleet.path)
    daemons: list[int] = []

    def run_then_die() -> int:
        """Start `a` (the watchdog stopped: nothing heals it), let it die; its daemon."""
        assert fleet.agents("up", "a").returncode == 0
        dog = wait_until(lambda: lock.watchdog_pid(config), what="the watchdog")
        # Its own session has no cgroup of a run (one would hold a server it starts again).
        assert "/agent-orchestrator/" not in Path(f"/proc/{dog}/cgroup").read_text()
        assert fleet.agents("down", "watchdog").returncode == 0
        daemons.append(int(wait_until(lambda: pidfile.exists() and pidfile.read_text(),
                                      what="the daemon's pid")))
        pidfile.unlink()
        group = Path(launch.cgroup_file(config, "e-a").read_text())
        assert str(daemons[-1]) in (group / "cgroup.procs").read_text().split()
        die.touch()  # the agent exits; its daemon is left without a parent of ours
        wait_until(lambda: pane_dead(fleet), what="the agent's pane to die")
        die.unlink()
        assert alive(daemons[-1])
        return daemons[-1]

    try:
        first = run_then_die()
        second = run_then_die()  # `up` put a new run in place of the dead pane
        assert not alive(first), "the dead run's daemon survived the new run"
        assert fleet.agents("down", "a").returncode == 0
        assert not alive(second), "the daemon of a dead agent survived down"
    finally:
        for pid in daemons:
            if alive(pid):
                os.kill(pid, 9)


def pane_dead(fleet) -> bool:
    out = tmux_cmd(fleet.socket, "list-panes", "-a", "-F", "#{session_name} #{pane_dead}")
    return "e-a 1" in out.stdout.splitlines() or "e-a" not in sessions(fleet.socket)


# ------------------------------------------------------------------------------- T50

def low_fd_limit(limit: int, hard: int | None = None):
    """A preexec_fn setting `ulimit -n` (soft `limit`, hard `hard` or the same)."""
    def preexec() -> None:
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard or limit))
    return preexec


@pytest.mark.slow
def test_t50_watchdog_under_a_low_fd_limit_still_heals(make_fleet) -> None:
    """FAULT: the watchdog runs with `ulimit -n 64` (hard) over 60 agents: more than
    pidfds fit. EXPECTED: it never crashes; agents it could not give a pidfd are polled
    (one `fd-limit` event says so); killed agents are restarted."""
    count = 60
    fleet = make_fleet(TOOL.format(bin="sleep 600").replace(
        "crash_limit = 10", "crash_limit = 10\nfleet_restart_limit = 100")
        + "".join(tool_agent(f"a{i}") for i in range(count)))
    tmux_cmd(fleet.socket, "new-session", "-d", "-s", "keep", "sleep 600")  # normal limit
    dog = watchdog(fleet, preexec=low_fd_limit(64))
    names = {f"e-a{i}" for i in range(count)}
    wait_until(lambda: names <= sessions(fleet.socket), timeout=60, what="60 sessions")
    event = fleet.wait_event(None, "fd-limit", timeout=20)
    assert "polled" in event["reason"]
    victims = [wait_until(lambda i=i: fleet.pane_pid(f"e-a{i}"), what="a pane")
               for i in (0, 30, 59)]
    for pid in victims:
        os.kill(pid, 9)
    for i, old in zip((0, 30, 59), victims, strict=True):
        wait_until(lambda i=i, old=old: fleet.pane_pid(f"e-a{i}") not in (None, old),
                   timeout=20, what=f"a{i} restarted")
    assert dog.poll() is None, dog.stderr.read().decode() if dog.stderr else ""
    assert len(fleet.events(None, "fd-limit")) == 1


# ------------------------------------------------------------------------------- T51

def many_agents(count: int) -> str:
    return TOOL.format(bin="sleep 600") + "".join(tool_agent(f"a{i}") for i in range(count))


def test_t51_doctor_warns_when_the_fleet_outgrows_the_limits(make_fleet) -> None:
    """FAULT: `ulimit -n 64` (hard) and 40 agents; no server running yet. EXPECTED: doctor
    warns that the tmux server it would start (2 descriptors a pane) and the watchdog (a
    pidfd an agent) will not fit them, and says what to do; 10 agents fit."""
    fleet = make_fleet(many_agents(40))
    result = subprocess.run([sys.executable, "-m", "agent_orchestrator", "doctor",
                             "--config", str(fleet.path)], capture_output=True, text=True,
                            preexec_fn=low_fd_limit(64), timeout=60, check=False)
    lines = [line for line in result.stdout.splitlines() if "open files" in line]
    assert len(lines) == 2, result.stdout
    server, dog = lines
    assert "warn" in server and "limit 64" in server and "about 114" in server
    assert "past about 16 agents" in server and "ulimit -n" in server
    assert "warn" in dog and "polled" in dog
    fleet.write(many_agents(10))
    result = subprocess.run([sys.executable, "-m", "agent_orchestrator", "doctor",
                             "--config", str(fleet.path)], capture_output=True, text=True,
                            preexec_fn=low_fd_limit(64), timeout=60, check=False)
    assert [line.split()[0] for line in result.stdout.splitlines()
            if "open files" in line] == ["ok", "ok"], result.stdout


def test_t51_up_warns_about_a_running_server_with_a_low_limit(make_fleet) -> None:
    """FAULT: the fleet's tmux server is already running with an open-file limit of 64
    (started under that ulimit) and the config has 40 agents. EXPECTED: `agents up` warns,
    naming the server's pid and its limit (read from /proc/<pid>/limits), before it starts
    anything; `doctor` says the same."""
    fleet = make_fleet(many_agents(40))
    subprocess.run(["tmux", "-L", fleet.socket, "new-session", "-d", "-s", "keep",
                    "sleep 600"], check=True, preexec_fn=low_fd_limit(64), timeout=10)
    pid = int(tmux_cmd(fleet.socket, "display-message", "-p", "#{pid}").stdout)
    result = fleet.agents("up", "watchdog")
    assert result.returncode == 0, result.stderr
    warning = next(line for line in result.stdout.splitlines() if "open files" in line)
    assert "tmux server" in warning and f"pid {pid}" in warning and "limit 64" in warning
    assert result.stdout.index("open files") < result.stdout.index("e-watchdog")
    doctor = fleet.agents("doctor").stdout
    assert f"pid {pid}) but this fleet needs about 114" in doctor


# ------------------------------------------------------------------------------- T54

def server_limit(socket: str) -> int | None:
    from agent_orchestrator.doors import fdlimit
    out = tmux_cmd(socket, "display-message", "-p", "#{pid}").stdout.strip()
    return fdlimit.process_limit(int(out)) if out.isdigit() else None


@pytest.mark.parametrize("starter", ["watchdog", "up"])
def test_t54_a_server_we_start_gets_the_raised_limit(make_fleet, starter: str) -> None:
    """FAULT: `ulimit -n` soft 64, hard 4096, and no tmux server yet. EXPECTED: the server
    the watchdog (or `agents up`) starts inherits the soft limit raised to the hard one."""
    fleet = make_fleet(many_agents(1))
    if starter == "watchdog":
        watchdog(fleet, preexec=low_fd_limit(64, 4096))
    else:
        assert subprocess.run([sys.executable, "-m", "agent_orchestrator", "up", "a0",
                               "--config", str(fleet.path)], capture_output=True, timeout=60,
                              preexec_fn=low_fd_limit(64, 4096), check=False).returncode == 0
    wait_until(lambda: "e-a0" in sessions(fleet.socket), what="a0's session")
    assert server_limit(fleet.socket) == 4096
