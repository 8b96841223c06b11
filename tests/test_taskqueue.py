"""doors/taskqueue.py against a real SQLite file: submit, claim with bounded parallelism and
dependencies, finish with retries, cancel/retry, and concurrent processes that never
duplicate a name or claim a task twice."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent_orchestrator.doors.taskqueue import TaskError, TaskQueue

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def queue(tmp_path: Path) -> TaskQueue:
    return TaskQueue(tmp_path / "state" / "tasks.db")


def test_submit_names_and_stores_a_private_file(queue: TaskQueue) -> None:
    a = queue.submit("Fix the failing parser tests!", retries=2, verify="pytest -q")
    b = queue.submit("Fix the failing parser tests!")
    c = queue.submit("!!!")
    assert (a.name, b.name, c.name) == ("fix-the-failing-parser", "fix-the-failing-parser-2",
                                        "task")
    assert (a.state, a.retries, a.verify, a.attempts) == ("queued", 2, "pytest -q", 0)
    assert stat.S_IMODE(queue.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(queue.path.parent.stat().st_mode) == 0o700
    assert [t.name for t in queue.tasks()] == [a.name, b.name, c.name]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"prompt": "  "}, "needs a prompt"),
    ({"prompt": "x", "name": "../evil"}, "letters, digits"),
    ({"prompt": "x", "name": "a b"}, "letters, digits"),
    ({"prompt": "x", "after": ["nope"]}, "--after nope: no such task"),
    ({"prompt": "x", "retries": -1}, "--retries"),
    ({"prompt": "x", "retries": 2**70}, "--retries must be 0 to 100"),  # no SQLite overflow
    ({"prompt": "a\0b"}, "the prompt holds a NUL"),
    ({"prompt": "x", "model": "m\0"}, "--model holds a NUL"),
    ({"prompt": "x", "verify": "true\0"}, "--verify holds a NUL"),
])
def test_bad_submissions_are_refused_with_a_message(queue: TaskQueue, kwargs: dict[str, object],
                                                    message: str) -> None:
    with pytest.raises(TaskError, match=message):
        queue.submit(**kwargs)  # type: ignore[arg-type]


def test_duplicate_name_is_refused(queue: TaskQueue) -> None:
    queue.submit("x", name="one")
    with pytest.raises(TaskError, match="exists already"):
        queue.submit("y", name="ONE")


def test_claim_honours_max_parallel_and_order(queue: TaskQueue) -> None:
    names = [queue.submit(f"task {n}", name=f"t{n}").name for n in range(5)]
    claimed, _ = queue.claim(2, "dog")
    assert [t.name for t in claimed] == names[:2]
    assert all(t.state == "running" and t.attempts == 1 and t.claimed_by == "dog"
               for t in claimed)
    assert queue.claim(2, "dog") == ([], [])  # full
    queue.finish("t0", ok=True)
    claimed, _ = queue.claim(2, "dog")
    assert [t.name for t in claimed] == ["t2"]


def test_dependencies_run_in_order_and_a_failed_one_fails_its_followers(
        queue: TaskQueue) -> None:
    queue.submit("a", name="a")
    queue.submit("b", name="b", after=["a"])
    queue.submit("c", name="c", after=["b"])
    assert [t.name for t in queue.claim(5, "d")[0]] == ["a"]
    queue.finish("a", ok=True)
    assert [t.name for t in queue.claim(5, "d")[0]] == ["b"]
    queue.finish("b", ok=False, reason="gate failed")
    claimed, failed = queue.claim(5, "d")
    assert claimed == [] and [(t.name, t.reason) for t in failed] == [("c", "dependency b "
                                                                             "failed")]


def test_finish_retries_then_fails_with_the_output_tail(queue: TaskQueue) -> None:
    queue.submit("x", name="x", retries=1)
    queue.claim(1, "d")
    again = queue.finish("x", ok=False, reason="gate failed", output_tail="E1")
    assert (again.state, again.attempts) == ("queued", 1)
    queue.claim(1, "d")
    final = queue.finish("x", ok=False, reason="gate failed", output_tail="E2")
    assert (final.state, final.attempts, final.output_tail) == ("failed", 2, "E2")
    with pytest.raises(TaskError, match="not running"):
        queue.finish("x", ok=True)


def test_cancel_retry_update_and_unknowns(queue: TaskQueue) -> None:
    queue.submit("x", name="x")
    assert queue.cancel("x").state == "cancelled"
    with pytest.raises(TaskError, match="nothing to cancel"):
        queue.cancel("x")
    assert queue.retry("x").state == "queued"
    with pytest.raises(TaskError, match="only a failed or cancelled"):
        queue.retry("x")
    assert queue.update("x", branch="agents/x", diffstat="1 file").branch == "agents/x"
    with pytest.raises(TaskError, match="not a task field"):
        queue.update("x", state="done")
    with pytest.raises(TaskError, match="no task named"):
        queue.get("nope")
    with pytest.raises(TaskError, match="unknown state"):
        queue.tasks("weird")
    assert [t.name for t in queue.tasks("queued")] == ["x"]


def test_a_missing_queue_lists_nothing_and_creates_nothing(tmp_path: Path) -> None:
    queue = TaskQueue(tmp_path / "state" / "tasks.db")
    assert queue.tasks() == [] and not queue.path.exists()


SUBMIT = """
import sys
from pathlib import Path
from agent_orchestrator.doors.taskqueue import TaskQueue
q = TaskQueue(Path(sys.argv[1]))
print(q.submit("the same prompt for everyone").name)
"""

CLAIM = """
import json, sys
from pathlib import Path
from agent_orchestrator.doors.taskqueue import TaskQueue
q = TaskQueue(Path(sys.argv[1]))
got = []
for _ in range(40):
    claimed, _ = q.claim(100, sys.argv[2])
    got += [t.name for t in claimed]
print(json.dumps(got))
"""


def run_all(script: str, args_list: list[list[str]]) -> list[str]:
    procs = [subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True) for args in args_list]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    return outs


def test_eight_concurrent_submitters_get_eight_tasks(queue: TaskQueue) -> None:
    names = [o.strip() for o in run_all(SUBMIT, [[str(queue.path)]] * 8)]
    assert len(set(names)) == 8
    assert sorted(t.name for t in queue.tasks()) == sorted(names)


def test_concurrent_claimers_never_take_the_same_task(queue: TaskQueue) -> None:
    for n in range(60):
        queue.submit(f"task {n}", name=f"t{n}")
    outs = run_all(CLAIM, [[str(queue.path), f"dog{n}"] for n in range(4)])
    taken = [name for out in outs for name in json.loads(out)]
    assert sorted(taken) == sorted(f"t{n}" for n in range(60))  # each exactly once
    assert {t.state for t in queue.tasks()} == {"running"}
