"""How fast is the task queue? Submit N tasks, then claim them all (as the watchdog does,
`max_parallel` at a time, finishing each batch), on a real SQLite file in a temp dir.

    python bench/queue_throughput.py --tasks 1000 --parallel 3

Prints wall time and operations per second for submit, claim and finish, next to the same
N submits into a plain append-only JSON-lines file with fsync (the baseline a hand-rolled
queue would start from), measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent_orchestrator.doors.taskqueue import TaskQueue  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ao-queue-bench-") as tmp:
        queue = TaskQueue(Path(tmp) / "state" / "tasks.db")
        t0 = time.perf_counter()
        for n in range(args.tasks):
            queue.submit(f"task number {n}", name=f"t{n}")
        t1 = time.perf_counter()
        claimed = finished = 0
        claim_time = finish_time = 0.0
        while claimed < args.tasks:
            c0 = time.perf_counter()
            batch, _ = queue.claim(args.parallel, "bench")
            claim_time += time.perf_counter() - c0
            claimed += len(batch)
            f0 = time.perf_counter()
            for task in batch:
                queue.finish(task.name, ok=True)
                finished += 1
            finish_time += time.perf_counter() - f0
        baseline_file = Path(tmp) / "baseline.jsonl"
        b0 = time.perf_counter()
        fd = os.open(baseline_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        for n in range(args.tasks):
            os.write(fd, f'{{"name": "t{n}", "prompt": "task number {n}"}}\n'.encode())
            os.fsync(fd)
        os.close(fd)
        b1 = time.perf_counter()
    submit = t1 - t0
    batches = -(-args.tasks // args.parallel)
    print(f"tasks: {args.tasks}, max_parallel: {args.parallel} ({batches} claim batches)")
    print(f"submit : {submit:7.2f} s  {args.tasks / submit:8.0f} tasks/s")
    print(f"claim  : {claim_time:7.2f} s  {args.tasks / claim_time:8.0f} tasks/s "
          f"({claim_time / batches * 1000:.2f} ms a batch)")
    print(f"finish : {finish_time:7.2f} s  {finished / finish_time:8.0f} tasks/s")
    print(f"baseline (append + fsync per task): {b1 - b0:7.2f} s  "
          f"{args.tasks / (b1 - b0):8.0f} tasks/s; queue submit ÷ baseline = "
          f"{submit / (b1 - b0):.1f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
