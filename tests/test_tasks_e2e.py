"""One-shot tasks end to end: a real watchdog process, a real private tmux server, real git
worktrees in tmp_path and the demo agent in its `--task` mode (it commits a file on its
branch, then exits 0)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import git, holds_for, sessions, tmux_cmd, wait_until
from harness import demo_agent

TASKS = """
[watchdog]
signal_interval = {interval}

[tasks]
max_parallel = {parallel}
backend = "demotask"

[backend.demotask]
bin = "{{python}} -m agent_orchestrator.fakeagent"
flags = "--task --busy {busy} --record {folder}/rec-tasks"
process_name = "python"
active_re = "esc to interrupt"
limit_re = "You've hit your (?:\\\\w+ )?limit"
prompt_re = "Do you want to proceed\\\\?"
"""


def project(tmp_path: Path) -> None:
    """tmp_path as a git repo with one commit: the tasks' base."""
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.name", "Test")
    git(tmp_path, "config", "user.email", "test@example.com")
    (tmp_path / ".gitignore").write_text("logs/\nrec-*\nagents.toml\n.env\n")
    (tmp_path / ".worktreeinclude").write_text(".env\n")
    (tmp_path / ".env").write_text("SECRET=1\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")


@pytest.fixture
def fleet(tmp_path: Path, make_fleet: Callable[..., Any]) -> Callable[..., Any]:
    project(tmp_path)

    def make(parallel: int = 2, busy: float = 0.5, interval: float = 0.2) -> Any:
        return make_fleet(TASKS.format(parallel=parallel, busy=busy, folder=tmp_path,
                                       interval=interval))
    return make


def tasks(fleet: Any) -> dict[str, dict[str, Any]]:
    out = fleet.agents("tasks", "--json")
    assert out.returncode == 0, out.stderr
    return {t["name"]: t for t in json.loads(out.stdout)["tasks"]}


def all_ended(fleet: Any, n: int) -> dict[str, dict[str, Any]] | None:
    now = tasks(fleet)
    return now if len(now) == n and all(t["state"] in ("done", "failed", "cancelled")
                                        for t in now.values()) else None


def submit(fleet: Any, *args: str) -> str:
    out = fleet.agents("submit", *args)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def work_times(tmp_path: Path, name: str) -> tuple[float, float]:
    """The (start, end) the demo agent wrote into the file it committed on the branch."""
    text = git(tmp_path, "show", f"agents/{name}:{name}.txt")
    fields = dict(w.split("=") for w in text.splitlines()[-1].split())
    return float(fields["started"]), float(fields["ended"])


def starts(tmp_path: Path) -> dict[str, int]:
    """How many times the demo agent started in each task's worktree."""
    count: dict[str, int] = {}
    path = tmp_path / "rec-tasks"
    for line in path.read_text().splitlines() if path.exists() else []:
        record = json.loads(line)
        if record["event"] == "start":
            name = Path(record["cwd"]).name
            count[name] = count.get(name, 0) + 1
    return count


def test_ten_tasks_three_at_a_time_each_on_its_own_branch(fleet: Callable[..., Any],
                                                          tmp_path: Path) -> None:
    f = fleet(parallel=3, busy=1.0)
    names = [submit(f, f"write file {n}", "--name", f"t{n}") for n in range(10)]
    f.watchdog_subprocess()
    most = 0

    def done() -> dict[str, dict[str, Any]] | None:
        nonlocal most
        now = tasks(f)
        most = max(most, sum(t["state"] == "running" for t in now.values()))
        return all_ended(f, 10)
    ended = wait_until(done, timeout=120, interval=0.1, what="10 tasks ended")
    assert {t["state"] for t in ended.values()} == {"done"}, ended
    assert most <= 3
    base = git(tmp_path, "rev-parse", "main")
    for name in names:
        task = ended[name]
        assert task["branch"] == f"agents/{name}"
        assert git(tmp_path, "rev-list", "--count", f"{base}..agents/{name}") == "1"
        assert task["commits"].startswith(base[:12]) and task["commits"].endswith("(1 commit)")
        assert task["diffstat"] == "1 file changed, 2 insertions(+)"
    # The agents' own clocks: never more than three worked at the same moment.
    spans = [work_times(tmp_path, n) for n in names]
    overlap = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    assert 2 <= overlap <= 3  # parallel indeed, and bounded
    assert starts(tmp_path) == {n: 1 for n in names}
    # Finished worktrees are removed (keep_worktrees = false); the branches stay.
    assert git(tmp_path, "worktree", "list").count("\n") == 0
    kinds = [e["event"] for e in f.events() if e["agent"] == "task-t0"]
    assert kinds[:1] == ["task-submitted"] and "task-started" in kinds
    assert kinds.index("task-started") < kinds.index("task-finished") < kinds.index("task-done")


def test_a_dependency_chain_runs_in_order(fleet: Callable[..., Any], tmp_path: Path) -> None:
    f = fleet(parallel=3)
    tricky = "first: 'quotes' \"double\" $HOME `uname` \\n ; rm -rf / #\n\ttabbed ünïcode"
    submit(f, tricky, "--name", "a")
    submit(f, "second", "--name", "b", "--after", "a")
    submit(f, "third", "--name", "c", "--after", "b")
    f.watchdog_subprocess()
    ended = wait_until(lambda: all_ended(f, 3), timeout=60, what="the chain ended")
    assert [ended[n]["state"] for n in "abc"] == ["done"] * 3
    assert ended["a"]["finished"] <= ended["b"]["started"]
    assert ended["b"]["finished"] <= ended["c"]["started"]
    assert all(ended[n]["seconds"] > 0 for n in "abc"), ended  # durations measured
    table = [line.split() for line in f.agents("tasks").stdout.splitlines()[1:]]
    assert [row[0] for row in table] == ["a", "b", "c"]
    assert all(re.fullmatch(r"\d+s", row[3]) for row in table), table  # TIME, not "-"
    (_, a_end), (b_start, b_end), (c_start, _) = (work_times(tmp_path, n) for n in "abc")
    assert git(tmp_path, "show", "agents/a:a.txt").startswith(tricky + "\n")  # byte-exact
    assert a_end <= b_start and b_end <= c_start


def test_a_failing_gate_retries_then_fails_with_its_output(fleet: Callable[..., Any],
                                                           tmp_path: Path) -> None:
    f = fleet()
    submit(f, "try", "--name", "gated", "--retries", "1",
           "--verify", "test -f .env && echo 'gate says: 2 tests failed'; exit 3")
    submit(f, "exit badly\n/fake crash 7", "--name", "crashes")
    submit(f, "never", "--name", "orphan", "--after", "crashes")
    submit(f, "crash twice\n/fake crash 5", "--name", "crashy", "--retries", "1")
    f.watchdog_subprocess()
    ended = wait_until(lambda: all_ended(f, 4), timeout=60, what="the tasks ended")
    gated = ended["gated"]
    assert (gated["state"], gated["attempts"]) == ("failed", 2)
    assert gated["reason"].startswith("verify failed (exit 3)")
    assert gated["output_tail"] == "gate says: 2 tests failed\n"  # .env was copied in
    assert starts(tmp_path)["gated"] == 2
    # Its second run continued the first one's branch: two commits.
    assert git(tmp_path, "rev-list", "--count", "main..agents/gated") == "2"
    kinds = [e["event"] for e in f.events() if e["agent"] == "task-gated"]
    assert kinds.count("task-retry") == 1 and kinds[-1] == "task-failed"
    assert kinds.count("start") == 2 and "restart" not in kinds  # a new run, not a death
    assert (ended["crashes"]["state"], ended["crashes"]["reason"]) == (
        "failed", "its agent exited with status 7")
    assert (ended["orphan"]["state"], ended["orphan"]["reason"]) == (
        "failed", "dependency crashes failed")
    shown = f.agents("task", "show", "gated").stdout
    assert "gate says: 2 tests failed" in shown
    # An agent that exits non-zero is retried like a failed gate, then fails with its exit.
    crashy = ended["crashy"]
    assert (crashy["state"], crashy["attempts"], crashy["reason"]) == (
        "failed", 2, "its agent exited with status 5")
    assert starts(tmp_path)["crashy"] == 2
    story = [e for e in f.events() if e["agent"] == "task-crashy"]
    retries = [e for e in story if e["event"] == "task-retry"]
    assert [e["reason"] for e in retries] == [
        "its agent exited with status 5 (attempt 1 of 2; queued again)"]
    assert [e["event"] for e in story].count("task-exited") == 2
    assert story[-1]["event"] == "task-failed"
    assert story[-1]["reason"] == "its agent exited with status 5"
    assert "reason:      its agent exited with status 5" in \
        f.agents("task", "show", "crashy").stdout


def test_kill_9_of_the_watchdog_loses_no_task_and_runs_none_twice(
        fleet: Callable[..., Any], tmp_path: Path) -> None:
    f = fleet(parallel=2, busy=3.0)
    names = [submit(f, f"slow {n}", "--name", f"s{n}") for n in range(4)]
    first = f.watchdog_subprocess()
    wait_until(lambda: sum(t["state"] == "running" for t in tasks(f).values()) == 2
               and len(starts(tmp_path)) == 2, timeout=30, what="two tasks at work")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    at_work = sorted(s.removeprefix("e-task-") for s in sessions(f.socket)
                     if s.startswith("e-task-"))
    assert len(at_work) == 2
    f.watchdog_subprocess()
    ended = wait_until(lambda: all_ended(f, 4), timeout=90, what="all tasks ended")
    # The new watchdog adopted the two it found running (their sessions alive), once each.
    adopted = sorted(e["agent"].removeprefix("task-") for e in f.events(kind="task-adopted"))
    assert adopted == at_work
    assert {t["state"] for t in ended.values()} == {"done"}, ended
    assert starts(tmp_path) == {n: 1 for n in names}
    for name in names:
        assert git(tmp_path, "rev-list", "--count", f"main..agents/{name}") == "1"
    assert wait_until(lambda: not any(s.startswith("e-task-") for s in sessions(f.socket)),
                      timeout=10, what="task sessions gone")


def test_submit_and_cancel_wake_the_watchdog(fleet: Callable[..., Any]) -> None:
    """With `signal_interval = 60` a timed pass would take a minute: the verbs wake it."""
    f = fleet(busy=60, interval=60)
    f.watchdog_subprocess()
    f.wait_event(None, "watchdog-start")
    submit(f, "long", "--name", "long")
    wait_until(lambda: "e-task-long" in sessions(f.socket), timeout=10, what="its session")
    assert f.agents("task", "cancel", "long").returncode == 0
    wait_until(lambda: "e-task-long" not in sessions(f.socket), timeout=10,
               what="its session stopped")
    assert tasks(f)["long"]["state"] == "cancelled"
    assert git(f.folder, "rev-list", "--count", "main..agents/long") == "0"  # stopped mid-work


def test_declared_agents_can_work_in_their_own_worktree(
        tmp_path: Path, make_fleet: Callable[..., Any]) -> None:
    """`worktree = true`: the watchdog makes it in a worker and starts the agent only then;
    `agents up` makes it before the start. Each agent works on its own branch."""
    project(tmp_path)
    own = 'watch = "heal"\n        worktree = true'
    f = make_fleet(demo_agent("w1", tmp_path).replace('watch = "heal"', own)
                   + demo_agent("w2", tmp_path).replace('watch = "heal"',
                                                        own + "\n        enabled = false"))
    f.watchdog_subprocess()

    def started_in(name: str) -> Path | None:
        record = next((r for r in f.records(name) if r["event"] == "start"), None)
        return Path(record["cwd"]) if record else None
    cwd = wait_until(lambda: started_in("w1"), timeout=30, what="w1 started")
    assert cwd == tmp_path / "logs" / "worktrees" / "agents" / "w1"
    assert git(cwd, "rev-parse", "--abbrev-ref", "HEAD") == "agent/w1"
    assert (cwd / ".env").read_text() == "SECRET=1\n"  # .worktreeinclude
    assert not f.events("w1", "crash-loop") and not f.events("w1", "backoff")
    f.write(f.path.read_text()[len(f.head):].replace("enabled = false", "enabled = true"))
    out = f.agents("up", "w2")
    assert out.returncode == 0, out.stderr
    cwd2 = wait_until(lambda: started_in("w2"), timeout=30, what="w2 started")
    assert git(cwd2, "rev-parse", "--abbrev-ref", "HEAD") == "agent/w2"


def test_a_limited_task_is_held_and_a_dialog_reported_not_failed(
        fleet: Callable[..., Any]) -> None:
    f = fleet()
    submit(f, "work\n/fake limit 3am (UTC)", "--name", "limited")
    submit(f, "work\n/fake idle\n/fake say Do you want to proceed?", "--name", "asking")
    f.watchdog_subprocess()
    f.wait_event("task-limited", "limit", timeout=30)
    f.wait_event("task-asking", "task-dialog", timeout=30)
    holds_for(lambda: {t["state"] for t in tasks(f).values()} == {"running"}, 2,
              what="both tasks still running")
    assert not f.events("task-limited", "restart") and not f.events("task-asking", "restart")
    assert len(f.events("task-asking", "task-dialog")) == 1


def test_a_task_whose_session_vanished_with_the_watchdog_is_started_once_more(
        fleet: Callable[..., Any], tmp_path: Path) -> None:
    f = fleet(busy=4.0)
    submit(f, "slow", "--name", "gone")
    first = f.watchdog_subprocess()
    wait_until(lambda: starts(tmp_path).get("gone") == 1, timeout=30, what="it started")
    second = f.watchdog_subprocess()  # one watchdog per log_dir: this one exits 3
    assert second.wait(timeout=30) == 3
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    tmux_cmd(f.socket, "kill-session", "-t", "=e-task-gone")
    f.watchdog_subprocess()
    ended = wait_until(lambda: all_ended(f, 1), timeout=60, what="it ended")
    assert ended["gone"]["state"] == "done"
    assert starts(tmp_path) == {"gone": 2}  # the lost run, and exactly one more
    assert git(tmp_path, "rev-list", "--count", "main..agents/gone") == "1"


def test_a_bad_base_fails_the_task_with_a_reason(tmp_path: Path,
                                                 make_fleet: Callable[..., Any]) -> None:
    project(tmp_path)
    f = make_fleet(TASKS.format(parallel=1, busy=0.2, folder=tmp_path, interval=0.2)
                   .replace('backend = "demotask"', 'backend = "demotask"\nbase = "nope"'))
    submit(f, "x", "--name", "x")
    f.watchdog_subprocess()
    ended = wait_until(lambda: all_ended(f, 1), timeout=30, what="it ended")
    assert ended["x"]["state"] == "failed"
    assert "[tasks] base 'nope': no such branch or commit" in ended["x"]["reason"]


def test_without_worktrees_a_task_works_in_the_project(tmp_path: Path,
                                                       make_fleet: Callable[..., Any]) -> None:
    project(tmp_path)
    f = make_fleet(TASKS.format(parallel=1, busy=0.2, folder=tmp_path, interval=0.2)
                   .replace("max_parallel = 1", "max_parallel = 1\nworktree = false"))
    submit(f, "in place", "--name", "inplace")
    f.watchdog_subprocess()
    ended = wait_until(lambda: all_ended(f, 1), timeout=30, what="it ended")
    assert (ended["inplace"]["state"], ended["inplace"]["branch"]) == ("done", None)
    assert git(tmp_path, "log", "-1", "--format=%s", "main") == "task " + tmp_path.name \
        + ": in place"  # the demo agent names its file and commit after its folder
    assert f.events("task-inplace", "task-done")[0]["reason"] == "finished"


def test_done_and_failed_tasks_are_notifications(tmp_path: Path,
                                                 make_fleet: Callable[..., Any]) -> None:
    project(tmp_path)
    inbox = tmp_path / "notified"
    sink = f"import sys; open({str(inbox)!r}, 'a').write(sys.stdin.read() + '\\\\n')"
    f = make_fleet(TASKS.format(parallel=2, busy=0.2, folder=tmp_path, interval=0.2) + f"""
[notify]
on = ["task-done", "task-failed"]

[[notify.sink]]
kind = "command"
argv = ["{sys.executable}", "-c", "{sink}"]
""")
    submit(f, "fine", "--name", "fine")
    submit(f, "bad\n/fake crash 2", "--name", "bad")
    f.watchdog_subprocess()
    wait_until(lambda: all_ended(f, 2), timeout=30, what="both ended")
    sent = wait_until(lambda: len(lines := [json.loads(x) for x in inbox.read_text()
                                            .splitlines() if x.strip()]) >= 2 and lines
                      if inbox.exists() else None, timeout=30, what="two notifications")
    assert sorted((n["kind"], tuple(n["agents"])) for n in sent) == [
        ("task-done", ("task-fine",)), ("task-failed", ("task-bad",))]


def test_a_turn_finished_hook_finishes_a_task_whose_agent_stays_up(
        tmp_path: Path, make_fleet: Callable[..., Any]) -> None:
    """A CLI that stays at its prompt after the work: its own Stop hook says the turn (and
    so the task) is over; the watchdog judges it and stops the session."""
    project(tmp_path)
    f = make_fleet(TASKS.format(parallel=1, busy=0.2, folder=tmp_path, interval=0.2)
                   .replace('active_re = "esc', 'signals = "claude"\nactive_re = "esc'))
    submit(f, "work\n/fake idle", "--name", "hooked")
    f.watchdog_subprocess()
    wait_until(lambda: "e-task-hooked" in sessions(f.socket), timeout=30, what="its session")
    holds_for(lambda: tasks(f)["hooked"]["state"] == "running", 1.5, what="still running")
    payload = json.dumps({"hook_event_name": "Stop", "session_id": "s1"})
    hook = subprocess.run([sys.executable, "-m", "agent_orchestrator", "hook", "claude",
                           "--signals", str(tmp_path / "logs" / "state" / "signals"),
                           "--agent", "task-hooked", payload], capture_output=True, text=True,
                          timeout=30, check=False)  # as the CLI's hook runs it
    assert hook.returncode == 0, hook.stderr
    ended = wait_until(lambda: all_ended(f, 1), timeout=30, what="it ended")
    assert ended["hooked"]["state"] == "done"
    assert f.events("task-hooked", "task-finished")[0]["reason"] == \
        "its turn finished (claude Stop)"
    wait_until(lambda: "e-task-hooked" not in sessions(f.socket), timeout=10,
               what="its session stopped")


def test_keep_worktrees_keeps_a_finished_tasks_worktree(
        tmp_path: Path, make_fleet: Callable[..., Any]) -> None:
    """`[tasks] keep_worktrees = true`: the worktree outlives `done` (the default removes
    it: test_ten_tasks_three_at_a_time_each_on_its_own_branch)."""
    project(tmp_path)
    f = make_fleet(TASKS.format(parallel=1, busy=0.2, folder=tmp_path, interval=0.2)
                   .replace("max_parallel = 1", "max_parallel = 1\nkeep_worktrees = true"))
    submit(f, "keep it", "--name", "kept")
    f.watchdog_subprocess()
    ended = wait_until(lambda: all_ended(f, 1), timeout=30, what="it ended")
    assert ended["kept"]["state"] == "done"
    tree = tmp_path / "logs" / "worktrees" / "tasks" / "kept"
    assert ended["kept"]["worktree"] == str(tree)
    # Past the point where a removal would have been done (the session is stopped after).
    wait_until(lambda: "e-task-kept" not in sessions(f.socket), timeout=10,
               what="its session stopped")
    holds_for(lambda: (tree / "kept.txt").is_file(), 1.0, what="its worktree kept")
    assert git(tree, "rev-parse", "--abbrev-ref", "HEAD") == "agents/kept"
    assert str(tree) in git(tmp_path, "worktree", "list")
    assert f"{tree} (removed)" not in f.agents("task", "show", "kept").stdout


def test_backend_and_model_reach_the_launched_agent(
        tmp_path: Path, make_fleet: Callable[..., Any]) -> None:
    """`submit --backend/--model` override `[tasks] backend/model`; without them the
    `[tasks]` ones are used: the demo agent records the argv it was launched with."""
    project(tmp_path)
    body = TASKS.format(parallel=2, busy=0.2, folder=tmp_path, interval=0.2)
    other = body[body.index("[backend.demotask]"):].replace("[backend.demotask]",
                                                            "[backend.other]")
    f = make_fleet(body.replace('backend = "demotask"', 'backend = "demotask"\n'
                                'model = "tasks-model"')
                   + other.replace("--task", "--task --name other-cli"))
    submit(f, "plain", "--name", "plain")
    submit(f, "picky", "--name", "picky", "--backend", "other", "--model", "own-model")
    f.watchdog_subprocess()
    ended = wait_until(lambda: all_ended(f, 2), timeout=30, what="both ended")
    assert {t["state"] for t in ended.values()} == {"done"}, ended
    argv = {Path(r["cwd"]).name: r["argv"] for r in map(json.loads, (tmp_path / "rec-tasks")
                                                         .read_text().splitlines())
            if r["event"] == "start"}

    def option(args: list[str], flag: str) -> str | None:
        return args[args.index(flag) + 1] if flag in args else None
    assert (option(argv["plain"], "--model"), option(argv["plain"], "--name")) == (
        "tasks-model", None)
    assert (option(argv["picky"], "--model"), option(argv["picky"], "--name")) == (
        "own-model", "other-cli")
