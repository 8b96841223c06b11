"""How long `agents status` takes for a fleet of N agents (target: 300 ms at N = 100).

Usage: python bench/status_cost.py [--agents 100] [--runs 15]

A private tmux server gets N quiet sessions (`sleep`) started the way `agents up` starts
agents (boot shim, pipe-pane logging), no watchdog. Then `agents status` and
`agents status --json` run as fresh processes, as a user would, and their wall times are
printed (median, p90, max), next to `python -c pass` measured in the same run: the floor of
any Python CLI on this machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fleet import Sandbox, pct, python, write_config  # noqa: E402

from agent_orchestrator import config as config_mod  # noqa: E402
from agent_orchestrator.doors.tmux import Tmux  # noqa: E402
from agent_orchestrator.runtime import launch  # noqa: E402


def timed(argv: list[str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with Sandbox("status") as box:
        socket = box.socket()
        path = write_config(box.root / "proj", socket, [f"a{i:03d}" for i in range(args.agents)],
                            prefix="st-", bin_text="sleep 100000", process_name="sleep",
                            watchdog={"signal_interval": 30})
        config = config_mod.load(path)
        tmux = Tmux(socket)
        began = time.perf_counter()
        for agent in config.agents:
            launch.start(tmux, config, launch.plan_agent(config, agent))
        print(f"# {args.agents} sessions on tmux -L {socket} in "
              f"{time.perf_counter() - began:.1f} s; {args.runs} runs each")
        cli = [python(), "-m", "agent_orchestrator"]
        rows = [("python -c pass", timed([python(), "-c", "pass"], args.runs)),
                ("agents status", timed(cli + ["status", "--config", str(path)], args.runs)),
                ("agents status --json", timed(cli + ["status", "--json", "--config",
                                                      str(path)], args.runs))]
        print(f"{'command':<22} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8}")
        for name, samples in rows:
            print(f"{name:<22} {pct(samples, 50):8.1f} {pct(samples, 90):8.1f} "
                  f"{max(samples):8.1f}")
        worst = max(pct(rows[1][1], 90), pct(rows[2][1], 90))
        print(f"# p90 of agents status at N={args.agents}: {worst:.0f} ms vs target 300 ms: "
              f"{'PASS' if worst <= 300 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
