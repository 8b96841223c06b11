"""Heal latency and idle cost across machines: H hosts × N agents over loopback ssh next to the
same H×N agents on this machine, in the same run.

    PYTHONPATH=. python bench/remote_heal.py [--hosts 3] [--per-host 40] [--kills 12]
                                             [--settle 10] [--one-host-away]

Needs root and OpenSSH's sshd: each "host" is an sshd of its own on 127.0.0.1 with its own
HOME and TMUX_TMPDIR (tests/sshhosts.py), so its tmux server and state are separate. Both
fleets run `sleep` agents (`watch = "heal"`) started by `agents up`, with back-off and the
crash caps out of the way (as bench/heal_latency.py).

Per fleet: `idle cpu` is the watchdog's CPU (threads + the ssh/tmux clients it reaped) per
second over `--settle` quiet seconds: the cost of looking (remote: a poller per host, one
snapshot a second over each host's ssh master). Then `--kills` sessions are killed round
robin (`tmux kill-session` on the server they live on) and each `heal` is death → a NEW live
pane for that session on that server (polled every 5 ms, the same way for both fleets).
With `--one-host-away` the first host's sshd is then stopped and `--kills` more sessions of
the other hosts are killed: do they heal as fast while one host does not answer?
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _fleet import (  # noqa: E402 - after the path tweak
    CLK_TCK,
    BenchError,
    Sandbox,
    pct,
    reaped_children_ticks,
    schedstat_ns,
    wait_for,
)
from sshhosts import SshHost, make_client_key, sshd_missing  # noqa: E402

from agent_orchestrator.config import load  # noqa: E402
from agent_orchestrator.doors import lock  # noqa: E402

Lister = Callable[[], dict[str, int]]  # session → live pane pid, on one server
SETTINGS = ("signal_interval = 30\nrestart_stable = 1\nrestart_backoff = 1\n"
            "crash_window = 600\ncrash_limit = 1000000\nfleet_restart_limit = 1000000\n")


def lister(run: Callable[..., str], socket: str) -> Lister:
    def live() -> dict[str, int]:
        out = run(socket, "list-panes", "-a", "-F", "#{session_name} #{pane_pid} #{pane_dead}")
        found = {}
        for row in out.splitlines():
            name, pid, dead = (row.split(" ") + ["", "", ""])[:3]
            if dead == "0" and pid.isdigit():
                found.setdefault(name, int(pid))
        return found
    return live


def local_tmux(socket: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True,
                          timeout=10, check=False).stdout


def host_runner(host: SshHost) -> Callable[..., str]:
    return lambda socket, *args: host.tmux(socket, *args).stdout


def write_fleet(folder: Path, socket: str, prefix: str, count: int,
                hosts: list[SshHost]) -> Path:
    lines = ["[defaults]", f'session_prefix = "{prefix}"', 'log_dir = "logs"',
             f'tmux_socket = "{socket}"', 'backend = "bench"', 'watch = "heal"', "",
             "[watchdog]", SETTINGS, "[backend.bench]", 'bin = "sleep 100000"',
             'process_name = "sleep"']
    for host in hosts:
        lines += ["", f"[host.{host.alias}]", f'ssh = "{host.alias}"',
                  f'ssh_config = "{host.ssh_config}"', f'python = "{sys.executable}"']
    for index in range(count):
        lines += ["", "[[agent]]", f'name = "a{index:03d}"']
        if hosts:
            host = hosts[index % len(hosts)]
            lines += [f'host = "{host.alias}"', f'dir = "{host.home}"']
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "agents.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def agents(path: Path, *words: str) -> None:
    done = subprocess.run([sys.executable, "-m", "agent_orchestrator", *words, "--config",
                           str(path)], capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise BenchError(f"agents {' '.join(words)}: {done.stdout}{done.stderr}")


def dog_cpu_ns(pid: int) -> int:
    return schedstat_ns(pid) + reaped_children_ticks(pid) * 1_000_000_000 // CLK_TCK


Placed = dict[str, tuple[Lister, Callable[..., str], str]]


@dataclass
class Away:
    """One host taken off the network mid-run (`--one-host-away`): how, how it comes back,
    and the sessions still reachable (the other hosts')."""

    stop: Callable[[], None]
    start: Callable[[], None]
    reachable: list[str]


def measure(box: Sandbox, label: str, path: Path, placed: Placed, kills: int,
            settle: float, away: Away | None = None) -> dict[str, float]:
    """`placed`: session → (its server's lister, its tmux runner, its socket)."""
    agents(path, "up")
    servers = {id(v[0]): v[0] for v in placed.values()}
    everything = lambda: {s for f in servers.values() for s in f()}  # noqa: E731
    wait_for(f"{label}: every agent running", lambda: set(placed) <= everything(), 120)
    config = load(path)
    wait_for(f"{label}: the watchdog", lambda: lock.watchdog_pid(config) is not None, 30)
    pid = lock.watchdog_pid(config)
    assert pid is not None
    box.own_pid(pid, str(path))  # stopped at the end even if this bench fails midway
    time.sleep(3)  # its first passes (adopting) are not the idle cost
    before, start = dog_cpu_ns(pid), time.monotonic()
    time.sleep(settle)
    idle = (dog_cpu_ns(pid) - before) / 1e6 / (time.monotonic() - start)
    heals = _heals(label, placed, sorted(placed), kills)
    row = {"agents": len(placed), "p50": pct(heals, 50), "p95": pct(heals, 95),
           "max": max(heals), "idle": idle}
    if away is not None:
        away.stop()
        time.sleep(3)  # its poller has failed a look and backs off: the host is away
        heals = _heals(f"{label}, one host away", placed, away.reachable, kills)
        row |= {"away_p50": pct(heals, 50), "away_p95": pct(heals, 95),
                "away_max": max(heals)}
        away.start()
        time.sleep(3)  # reconnected (back-off at most a few seconds here)
    agents(path, "down")
    return row


def _heals(label: str, placed: Placed, sessions: list[str], kills: int) -> list[float]:
    """Kill `kills` of `sessions` round robin; each death → new live pane, in ms."""
    heals = []
    for index in range(kills):
        session = sessions[(index * 7) % len(sessions)]
        live, run, socket = placed[session]
        old = wait_for_pid(live, session)
        run(socket, "kill-session", "-t", f"={session}")
        t0 = time.perf_counter()
        while True:
            new = live().get(session)
            if new is not None and new != old:
                heals.append((time.perf_counter() - t0) * 1000)
                break
            if time.perf_counter() - t0 > 20:
                raise BenchError(f"{label}: {session} not healed within 20 s")
            time.sleep(0.005)
        time.sleep(0.5)
    return heals


def wait_for_pid(live: Lister, session: str) -> int:
    found: list[int] = []
    wait_for(f"{session} live", lambda: bool(found.append(live().get(session, 0)) or
                                             found[-1]), 20)
    return found[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--per-host", type=int, default=40)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--one-host-away", action="store_true",
                        help="then take the first host off the network and heal on the others")
    args = parser.parse_args()
    if (why := sshd_missing()) is not None:
        print(f"skipped: {why}")
        return 0
    box = Sandbox("remote")
    hosts: list[SshHost] = []
    try:
        key = make_client_key(box.root)
        hosts = [SshHost(box.root, f"h{i}", key) for i in range(args.hosts)]
        for host in hosts:
            host.start()
        count = args.hosts * args.per_host
        here = box.socket("local")
        far = box.socket("far")
        for host in hosts:
            host.sockets.add(far)
        here_live = lister(local_tmux, here)
        local = measure(box, "local", write_fleet(box.root / "local", here, "bl-", count, []),
                        {f"bl-a{i:03d}": (here_live, local_tmux, here) for i in range(count)},
                        args.kills, args.settle)
        runs = [host_runner(host) for host in hosts]
        runners = [(lister(run, far), run) for run in runs]
        away = Away(hosts[0].stop, hosts[0].start,
                    [f"br-a{i:03d}" for i in range(count) if i % len(hosts)]) \
            if args.one_host_away and len(hosts) > 1 else None
        remote = measure(box, "remote", write_fleet(box.root / "remote", far, "br-", count, hosts),
                         {f"br-a{i:03d}": (*runners[i % len(hosts)], far)
                          for i in range(count)}, args.kills, args.settle, away)
    finally:
        for host in hosts:
            host.close(tuple(host.sockets))
        box.close()
    print(f"{'fleet':<28} {'agents':>6} {'heal p50':>9} {'p95':>7} {'max':>7} "
          f"{'idle cpu':>12}")
    for label, row in (("local", local), (f"{args.hosts} hosts over loopback ssh", remote)):
        print(f"{label:<28} {row['agents']:>6.0f} {row['p50']:>7.0f}ms {row['p95']:>5.0f}ms "
              f"{row['max']:>5.0f}ms {row['idle']:>7.1f} ms/s")
    if "away_p95" in remote:
        print(f"{'  the others, one host away':<28} {count - args.per_host:>6.0f} "
              f"{remote['away_p50']:>7.0f}ms {remote['away_p95']:>5.0f}ms "
              f"{remote['away_max']:>5.0f}ms")
        print(f"p95 with a host away / p95 all there: "
              f"{remote['away_p95'] / remote['p95']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
