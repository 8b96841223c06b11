"""`agents submit`, `agents tasks`, `agents task show|cancel|retry` as real processes on a
real queue file: output, JSON, errors and exit codes, and racing submitters."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CONFIG = """
[tasks]
backend = "demo"

[backend.demo]
bin = "{python} -m agent_orchestrator.fakeagent"
"""


def agents(config: Path, *args: str, stdin: str | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent_orchestrator", *args, "--config",
                           str(config)], capture_output=True, text=True, timeout=60,
                          check=False, input=stdin)


@pytest.fixture
def config(make_config: Callable[..., Path]) -> Path:
    return make_config(CONFIG)


def test_submit_prints_the_name_and_the_queue_lists_it(config: Path, tmp_path: Path) -> None:
    first = agents(config, "submit", "Add a --json flag to export")
    assert (first.returncode, first.stdout, first.stderr) == (0, "add-a-json-flag\n", "")
    prompt = "line one\n  tabs\tand 'quotes' \"and\" $HOME `x`\n"
    (tmp_path / "task.md").write_text(prompt)
    second = agents(config, "submit", "--file", str(tmp_path / "task.md"), "--name", "docs",
                    "--after", "add-a-json-flag", "--verify", "pytest -q", "--retries", "2",
                    "--model", "m2", "--json")
    assert second.returncode == 0, second.stderr
    task = json.loads(second.stdout)
    assert (task["name"], task["prompt"], task["after"], task["verify"], task["retries"],
            task["model"], task["state"]) == ("docs", prompt, ["add-a-json-flag"],
                                              "pytest -q", 2, "m2", "queued")
    assert "the watchdog is not running" in agents(config, "tasks").stderr
    third = agents(config, "submit", "-", stdin="from stdin\n")
    assert third.returncode == 0 and third.stdout == "from-stdin\n"
    listed = json.loads(agents(config, "tasks", "--json").stdout)["tasks"]
    assert [t["name"] for t in listed] == ["add-a-json-flag", "docs", "from-stdin"]
    assert listed[2]["prompt"] == "from stdin\n"  # byte-exact, final newline and all
    table = agents(config, "tasks").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATE", "TRIES", "TIME", "BRANCH", "CHANGES", "/",
                                "REASON"]
    assert table[2].split()[:4] == ["docs", "queued", "0/3", "-"]
    assert agents(config, "tasks", "--state", "done").stdout == "no tasks done\n"
    shown = agents(config, "task", "show", "docs")
    assert "verify:      pytest -q" in shown.stdout and "  tabs\tand" in shown.stdout
    events = (config.parent / "logs" / "events.jsonl").read_text()
    assert events.count('"task-submitted"') == 3
    assert "task-docs" in shown.stdout and "task-submitted" in shown.stdout  # its story
    detail = json.loads(agents(config, "task", "show", "docs", "--json").stdout)
    assert [e["event"] for e in detail["events"]] == ["task-submitted"]


def test_cancel_and_retry(config: Path) -> None:
    agents(config, "submit", "one", "--name", "one")
    assert agents(config, "task", "cancel", "one").stdout == "one: cancelled\n"
    again = agents(config, "task", "cancel", "one")
    assert (again.returncode, again.stderr.strip()) == (
        1, "agents: task one is cancelled: nothing to cancel")
    assert agents(config, "task", "retry", "one").stdout == "one: queued\n"
    assert json.loads(agents(config, "task", "show", "one", "--json").stdout)["state"] == \
        "queued"
    events = [json.loads(x) for x in (config.parent / "logs" / "events.jsonl").read_text()
              .splitlines()]
    assert [(e["agent"], e["event"], e["reason"].split(" (operator: ")[0]) for e in events] \
        == [("task-one", "task-submitted", "queued"), ("task-one", "task-cancelled",
             "cancelled"), ("task-one", "task-retried", "queued again")]  # a refusal: none
    assert all(" (operator: pid " in e["reason"] for e in events)  # who did it


@pytest.mark.parametrize(("args", "code", "message"), [
    (("submit",), 2, "give the prompt as PROMPT, '-' (stdin) or --file F"),
    (("submit", "x", "--file", "f"), 2, "one of them"),
    (("submit", "--after", "a", "x"), 2, "PROMPT goes before --after"),
    (("submit", "x", "--file"), 2, "expected one argument"),
    (("submit", "x", "--retries", "many"), 2, "invalid int value"),
    (("submit", "x", "--retries", "-1"), 2, "must be 0 to 100, not -1"),
    (("submit", "x", "--retries", "9" * 30), 2, "must be 0 to 100"),  # no SQLite overflow
    (("submit", "x", "--name", "a b"), 1, "letters, digits"),
    (("submit", "x", "--after", "ghost"), 1, "--after ghost: no such task"),
    (("submit", "x", "--backend", "nope"), 1, "--backend nope: no such backend"),
    (("submit", "--file", "/nonexistent/task.md"), 1, "--file /nonexistent/task.md"),
    (("submit", "--file", "/dev/zero"), 1, "/dev/zero is not a regular file"),  # no hang
    (("submit", "   "), 1, "a task needs a prompt"),
    (("task", "show", "ghost"), 1, "no task named 'ghost'"),
    (("task", "frob", "x"), 2, "invalid choice"),
    (("tasks", "--state", "weird"), 2, "invalid choice"),
])
def test_mistakes_are_messages(config: Path, args: tuple[str, ...], code: int,
                               message: str) -> None:
    result = agents(config, *args)
    assert result.returncode == code
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_prompt_file_over_the_cap_is_refused(config: Path, tmp_path: Path) -> None:
    from agent_orchestrator.config.filetrust import MAX_BYTES

    (tmp_path / "dump.md").write_bytes(b"x" * (MAX_BYTES + 1))
    result = agents(config, "submit", "--file", str(tmp_path / "dump.md"))
    assert result.returncode == 1 and "over the 1,048,576-byte cap" in result.stderr
    assert json.loads(agents(config, "tasks", "--json").stdout)["tasks"] == []


def test_after_given_twice_waits_for_both(config: Path) -> None:
    for name in ("a", "b", "c"):
        agents(config, "submit", name, "--name", name)
    both = agents(config, "submit", "d", "--name", "d", "--after", "a", "--after", "b", "c",
                  "--json")
    assert both.returncode == 0, both.stderr
    assert json.loads(both.stdout)["after"] == ["a", "b", "c"]  # the first --after kept


def test_a_duplicate_name_is_refused(config: Path) -> None:
    agents(config, "submit", "x", "--name", "same")
    dup = agents(config, "submit", "y", "--name", "same")
    assert (dup.returncode, dup.stderr.strip()) == (1, "agents: a task named 'same' exists already")


def test_no_backend_for_tasks_is_a_clear_error(make_config: Callable[..., Path]) -> None:
    bare = make_config('[backend.demo]\nbin = "x"\n')
    result = agents(bare, "submit", "x")
    assert result.returncode == 1
    assert "no backend for tasks: set [tasks] backend or pass --backend" in result.stderr


def test_eight_concurrent_submitters_make_eight_tasks(config: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "submit",
                               "the same prompt", "--json", "--config", str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(8)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _, err in outs]
    names = [json.loads(out)["name"] for out, _ in outs]
    assert len(set(names)) == 8
    listed = json.loads(agents(config, "tasks", "--json").stdout)["tasks"]
    assert sorted(t["name"] for t in listed) == sorted(names)
    assert len({t["seq"] for t in listed}) == 8


def test_the_tasks_table_is_checked(make_config: Callable[..., Path]) -> None:
    bad = make_config('[tasks]\nmax_parallel = 0\nbackend = "nope"\nworktre = true\n'
                      '[backend.demo]\nbin = "x"\n')
    result = agents(bad, "check")
    assert result.returncode == 1
    assert "agents.toml:5: tasks.max_parallel:" in result.stderr
    assert "agents.toml:6: tasks.backend: unknown backend 'nope'" in result.stderr
    assert "tasks.worktre: unknown key (did you mean 'worktree'?)" in result.stderr


def test_tasks_defaults(make_config: Callable[..., Path]) -> None:
    from agent_orchestrator import config as config_mod

    plain = config_mod.load(make_config('[[agent]]\nname = "a"\nbackend = "codex"\n'))
    assert plain.tasks == config_mod.Tasks(backend="codex")  # the first agent's backend
    assert (plain.tasks.max_parallel, plain.tasks.worktree, plain.tasks.base,
            plain.tasks.keep_worktrees) == (2, True, "HEAD", False)
