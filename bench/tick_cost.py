"""Tick cost: what one watchdog tick costs against a naive per-session polling loop.

    python bench/tick_cost.py [--sizes 10,50,200] [--ticks 20] [--workload sleep|date|both]
                              [--naive-budget 12]

For each workload and each N, a private tmux server gets N agent sessions started the way the
watchdog starts them (`launch.start(tmux, config, launch.plan_agent(config, agent))`: boot.py,
remain-on-exit, pipe-pane into the session log), plus an idle stand-in for the watchdog's own
session (so the watchdog's control client attaches there, as in production). An in-process
`Watchdog.open(config)` is ticked by hand; its run loop is never started.

- light tick: `dog._last_light = -inf` before `tick()`; screens are captured for panes whose
  `window_activity` changed since their last capture (screenrules.screens_wanted). The
  backend sets a never-matching `fatal_re` so a `watch = "heal"` agent's screen is read at all.
- heavy tick: `dog._last_light = time.monotonic()` before `tick()`: no screen is read.
- naive: for every session `tmux has-session -t =S`, `tmux display-message -p -t =S:
  '#{pane_current_command}'`, `tmux capture-pane -p -t =S:`, each through subprocess.run.
  It runs `--ticks` ticks or until `--naive-budget` seconds are spent (at least 3 ticks).

Workloads: `sleep` (quiet: `sleep 100000`, never prints) and `date`
(`sh -c 'while :; do date; sleep 1; done'`, every pane prints once a second). In the date
workload light ticks are spaced 1.2 s apart so that every pane printed since the last one
(tmux's window_activity has 1 s resolution); the other measurements run back to back.

Counters: tmux processes = every `subprocess.Popen` of `tmux` (Tmux._run and the control
client both go through it), CPU = this process (time.process_time) + reaped children
(RUSAGE_CHILDREN deltas) + the watchdog's control-mode client (/proc schedstat), and the tmux
server's CPU (/proc/<server pid>/schedstat, ns) in its own column. The server column is raw:
it includes the server's background work (handling pane output), whose rate is printed per
cell.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fleet import (  # noqa: E402 - after the path tweak that makes bench/ importable
    NEVER_MATCHES,
    WORKLOADS,
    BenchError,
    Sandbox,
    kill_server,
    panes,
    pct,
    schedstat_ns,
    server_pid,
    stop_pid,
    tagged_pids,
    tmux,
    wait_for,
    write_config,
)

PREFIX = "tc-"
DATE_SPACING = 1.2  # seconds between light ticks of the date workload

COUNTS: collections.Counter[str] = collections.Counter()
_RealPopen = subprocess.Popen


class CountingPopen(_RealPopen):  # type: ignore[type-arg]
    """subprocess.Popen that counts tmux processes (subprocess.run goes through it too)."""

    def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
        argv = [str(a) for a in args] if isinstance(args, list | tuple) else [str(args)]
        if argv and Path(argv[0]).name == "tmux":
            COUNTS["tmux"] += 1
            sub = next((a for a in argv[1:] if not a.startswith("-") and
                        not a.startswith("bench-")), "?")
            COUNTS[sub] += 1
        super().__init__(args, *rest, **kwargs)


@dataclass
class Row:
    method: str
    wall: list[float] = field(default_factory=list)  # ms per tick
    cpu: list[float] = field(default_factory=list)  # ms: process + children + control client
    server: list[float] = field(default_factory=list)  # ms: tmux server
    spawns: list[int] = field(default_factory=list)
    captures: list[int] = field(default_factory=list)

    def mean(self, values: list[float] | list[int]) -> float:
        return sum(values) / len(values) if values else float("nan")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(row: Row, fn: Callable[[], object], srv: int, extra_pid: int | None) -> None:
    before = COUNTS.copy()
    p0, c0 = time.process_time(), children_cpu()
    s0 = schedstat_ns(srv)
    x0 = schedstat_ns(extra_pid) if extra_pid else 0
    w0 = time.perf_counter()
    fn()
    w1 = time.perf_counter()
    x1 = schedstat_ns(extra_pid) if extra_pid else 0
    s1 = schedstat_ns(srv)
    p1, c1 = time.process_time(), children_cpu()
    row.wall.append((w1 - w0) * 1e3)
    row.cpu.append((p1 - p0 + c1 - c0) * 1e3 + (x1 - x0) / 1e6)
    row.server.append((s1 - s0) / 1e6)
    row.spawns.append(COUNTS["tmux"] - before["tmux"])
    row.captures.append(COUNTS["capture-pane"] - before["capture-pane"])


def naive_tick(socket: str, sessions: list[str]) -> None:
    base = ["tmux", "-L", socket]
    for session in sessions:
        subprocess.run([*base, "has-session", "-t", f"={session}"], capture_output=True,
                       timeout=10, check=False)
        subprocess.run([*base, "display-message", "-p", "-t", f"={session}:",
                        "#{pane_current_command}"], capture_output=True, timeout=10,
                       check=False)
        subprocess.run([*base, "capture-pane", "-p", "-t", f"={session}:"],
                       capture_output=True, timeout=10, check=False)


def run_cell(box: Sandbox, workload: str, n: int, args: argparse.Namespace) -> list[Row]:
    from agent_orchestrator import config as config_mod
    from agent_orchestrator.doors import markers
    from agent_orchestrator.doors.tmux import Tmux
    from agent_orchestrator.runtime import launch
    from agent_orchestrator.runtime.watchdog import Watchdog

    socket = box.socket(f"{workload}{n}")
    bin_text, process = WORKLOADS[workload]
    names = [f"a{i:03d}" for i in range(n)]
    path = write_config(box.root / f"{workload}-{n}", socket, names, prefix=PREFIX,
                        bin_text=bin_text, process_name=process,
                        watchdog={"signal_interval": 30}, fatal_re=NEVER_MATCHES)
    config = config_mod.load(path)
    markers.ensure_dirs(config)
    dog = None
    try:
        handle = Tmux(config.tmux_socket)
        tmux(socket, "new-session", "-d", "-s", config.watchdog_session, "-x", "80", "-y",
             "24", "sleep", "1000000")
        setup = time.perf_counter()
        for agent in config.agents:
            launch.start(handle, config, launch.plan_agent(config, agent))
        sessions = [a.session for a in config.agents]

        def all_running() -> bool:
            seen = panes(socket)
            return all(s in seen and not seen[s][1] and seen[s][2] == process
                       for s in sessions)

        wait_for(f"{n} sessions running {process}", all_running, timeout=30 + n * 0.3,
                 interval=0.2)
        setup = time.perf_counter() - setup
        srv = server_pid(socket)
        time.sleep(1.0)  # let the boot processes' exits and first outputs settle
        s0 = schedstat_ns(srv)
        time.sleep(1.0)
        background = (schedstat_ns(srv) - s0) / 1e6
        print(f"\n## workload {workload}, N={n}: fleet up in {setup:.1f} s; tmux server "
              f"pid {srv}, background CPU {background:.1f} ms per s with nobody polling",
              flush=True)

        dog = Watchdog.open(config)

        def light() -> None:
            assert dog is not None
            dog._last_light = float("-inf")
            dog.tick()

        def heavy() -> None:
            assert dog is not None
            dog._last_light = time.monotonic()
            dog.tick()

        adopt, first = Row("light, 1st tick (adopts)"), Row("light, 2nd tick (1st read)")
        measure(adopt, light, srv, None)
        control_pid = dog.wakeups.control._proc.pid if dog.wakeups.control is not None else None
        if workload == "date":
            time.sleep(DATE_SPACING)
        measure(first, light, srv, control_pid)
        rows = [adopt, first]
        lights, heavies = Row("watchdog light tick"), Row("watchdog heavy tick")
        for _ in range(args.ticks):
            if workload == "date":
                time.sleep(DATE_SPACING)
            measure(lights, light, srv, control_pid)
        for _ in range(args.ticks):
            measure(heavies, heavy, srv, control_pid)
        naive = Row("naive (3 spawns/session)")
        started = time.monotonic()
        while len(naive.wall) < args.ticks and (
                len(naive.wall) < 3 or time.monotonic() - started < args.naive_budget):
            measure(naive, lambda: naive_tick(socket, sessions), srv, None)
        rows += [lights, heavies, naive]
        return rows
    finally:
        if dog is not None:
            if dog.wakeups.control is not None:
                dog.wakeups.control.close()
            for fd in dog.wakeups.pidfds.values():
                with contextlib.suppress(OSError):
                    os.close(fd)
        kill_server(socket)
        for pid in tagged_pids(socket):
            stop_pid(pid, "", grace=1.0)


def print_table(rows: list[Row]) -> None:
    print(f"{'method':<27} {'ticks':>5} {'wall p50':>9} {'wall mean':>9} {'CPU':>8} "
          f"{'server':>8} {'tmux procs':>10} {'captures':>8}")
    print(f"{'':<27} {'':>5} {'ms/tick':>9} {'ms/tick':>9} {'ms/tick':>8} {'ms/tick':>8} "
          f"{'/tick':>10} {'/tick':>8}")
    for row in rows:
        print(f"{row.method:<27} {len(row.wall):>5} {pct(row.wall, 50):>9.2f} "
              f"{row.mean(row.wall):>9.2f} {row.mean(row.cpu):>8.2f} "
              f"{row.mean(row.server):>8.2f} {row.mean(row.spawns):>10.1f} "
              f"{row.mean(row.captures):>8.1f}")
    by = {r.method: r for r in rows}
    naive = by["naive (3 spawns/session)"]
    for label in ("watchdog light tick", "watchdog heavy tick"):
        row = by[label]
        wall = row.mean(naive.wall) / row.mean(row.wall)
        cpu = row.mean(naive.cpu) / row.mean(row.cpu)
        both = (row.mean(naive.cpu) + row.mean(naive.server)) / (row.mean(row.cpu) +
                                                                row.mean(row.server))
        print(f"ratio naive / {label.removeprefix('watchdog '):<11}: wall {wall:6.1f}x, "
              f"CPU {cpu:6.1f}x, CPU incl. tmux server {both:6.1f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,50,200", help="fleet sizes N (10,50,200)")
    parser.add_argument("--ticks", type=int, default=20, help="ticks per measurement (20)")
    parser.add_argument("--workload", choices=("sleep", "date", "both"), default="both")
    parser.add_argument("--naive-budget", type=float, default=12.0,
                        help="seconds the naive loop may run per cell, >= 3 ticks (12)")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes comma-separated integers")
    if not sizes or min(sizes) < 1 or args.ticks < 1:
        parser.error("sizes and --ticks must be >= 1")
    box = Sandbox("tick")  # first: TMUX_TMPDIR set, TMUX unset before any tmux call
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    subprocess.Popen = CountingPopen  # type: ignore[misc]
    workloads = ["sleep", "date"] if args.workload == "both" else [args.workload]
    started = time.monotonic()
    print(f"# tick cost, {os.cpu_count()} CPUs, tmux {tmux_version()}; sizes {sizes}, "
          f"{args.ticks} ticks per row; all times are per tick")
    print("# CPU = this process + reaped tmux clients + the watchdog's control client; "
          "server = tmux server CPU (raw, background included)")
    results: dict[tuple[str, int], list[Row]] = {}
    try:
        for workload in workloads:
            for n in sizes:
                rows = run_cell(box, workload, n, args)
                results[(workload, n)] = rows
                print_table(rows)
                sys.stdout.flush()
        print("\n# summary: mean wall / CPU ms per tick (watchdog light, heavy; naive)")
        print(f"{'workload':<8} {'N':>4} {'light wall':>10} {'light CPU':>9} "
              f"{'heavy wall':>10} {'heavy CPU':>9} {'naive wall':>10} {'naive CPU':>9}")
        for (workload, n), rows in results.items():
            by = {r.method: r for r in rows}
            cells = [by["watchdog light tick"], by["watchdog heavy tick"],
                     by["naive (3 spawns/session)"]]
            print(f"{workload:<8} {n:>4} " + " ".join(
                f"{r.mean(r.wall):>10.1f} {r.mean(r.cpu):>9.1f}" for r in cells))
        print("\n# note: in the quiet (sleep) fleet the light tick captures nothing after the "
              "first read: only panes whose window_activity changed are captured. The date "
              "workload makes every pane change between light ticks, the worst case.")
        print(f"# total runtime {time.monotonic() - started:.0f} s")
        return 0
    except BenchError as exc:
        print(f"tick_cost: {exc}", file=sys.stderr)
        return 2
    finally:
        subprocess.Popen = _RealPopen  # type: ignore[misc]
        box.close()


def tmux_version() -> str:
    try:
        return subprocess.run(["tmux", "-V"], capture_output=True, text=True, timeout=5,
                              check=False).stdout.strip().removeprefix("tmux ")
    except (OSError, subprocess.TimeoutExpired):
        return "?"


if __name__ == "__main__":
    raise SystemExit(main())
