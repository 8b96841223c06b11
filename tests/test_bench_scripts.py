"""The bench scripts stay runnable: each imports and prints its --help (the figures in the
README come from them; a module moved under them must not break them silently)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_script_runs_its_help(script: str) -> None:
    done = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True,
                          text=True, timeout=60, cwd=BENCH.parent)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_queue_throughput_prints_its_figures() -> None:
    """The README's queue figures come from this script: a tiny run prints every one."""
    done = subprocess.run([sys.executable, str(BENCH / "queue_throughput.py"), "--tasks", "20",
                           "--parallel", "3"], capture_output=True, text=True, timeout=120,
                          cwd=BENCH.parent)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "tasks: 20, max_parallel: 3 (7 claim batches)"
    figures = r"\s+\d+\.\d\d s\s+\d+ tasks/s"
    assert re.fullmatch(r"submit :" + figures, lines[1]), lines
    assert re.fullmatch(r"claim  :" + figures + r" \(\d+\.\d\d ms a batch\)", lines[2]), lines
    assert re.fullmatch(r"finish :" + figures, lines[3]), lines
    assert re.fullmatch(r"baseline \(append \+ fsync per task\):" + figures
                        + r"; queue submit ÷ baseline = \d+\.\d×", lines[4]), lines
    assert len(lines) == 5
