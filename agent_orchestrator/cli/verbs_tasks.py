"""The task queue's verbs: `agents submit`, `agents tasks`, `agents task show|cancel|retry`.

They only read and write the queue (state/tasks.db); the watchdog claims queued tasks at
its next pass, so they work with or without a running watchdog. Each change the operator
makes is an event too (`task-submitted`, `task-cancelled`, `task-retried`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_orchestrator.cli.verb import UsageError, UserError, Verb, load

if TYPE_CHECKING:
    from agent_orchestrator.config import Config
    from agent_orchestrator.doors.taskqueue import Task, TaskQueue


def _queue(config: Config) -> TaskQueue:
    from agent_orchestrator.runtime.tasks import open_queue

    return open_queue(config)


def _changed(config: Config, task: str, kind: str, what: str) -> None:
    """The operator changed the queue: an event, and the watchdog woken to act on it."""
    from agent_orchestrator.runtime.fleet import operator_event
    from agent_orchestrator.runtime.tasks import nudge

    operator_event(config, f"task-{task}", kind, what)
    try:
        nudge(config)
    except OSError:
        pass  # the watchdog then sees it at its next timed pass


def _retries(text: str) -> int:
    """--retries N: a usage error (exit 2) outside 0..MAX_RETRIES, never a database overflow."""
    from agent_orchestrator.doors.taskqueue import MAX_RETRIES

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 <= value <= MAX_RETRIES:
        raise argparse.ArgumentTypeError(f"must be 0 to {MAX_RETRIES}, not {value}")
    return value


def _build_submit(parser: argparse.ArgumentParser) -> None:
    from agent_orchestrator.doors.taskqueue import MAX_RETRIES

    parser.add_argument("prompt", nargs="?", metavar="PROMPT",
                        help="what the task's agent is asked to do ('-': read it from stdin)")
    parser.add_argument("--file", metavar="F", help="read the prompt from file F")
    parser.add_argument("--name", help="the task's name (default: made from the prompt)")
    parser.add_argument("--backend", help="the CLI to run it with (default: [tasks] backend)")
    parser.add_argument("--model", help="the model (default: [tasks] model)")
    # extend: `--after a --after b` waits for both (the default store kept only the last)
    parser.add_argument("--after", nargs="+", action="extend", default=[], metavar="NAME",
                        help="start only once these tasks are done (repeatable)")
    parser.add_argument("--verify", metavar="CMD",
                        help="a gate run in the task's worktree when its agent finishes")
    parser.add_argument("--retries", type=_retries, default=0, metavar="N",
                        help=f"run it again up to N times when it fails (0-{MAX_RETRIES}, "
                             "default 0)")
    parser.add_argument("--json", action="store_true", help="print the task as JSON")


def _prompt(args: argparse.Namespace) -> str:
    if (args.prompt is None) == (args.file is None):
        hint = " (PROMPT goes before --after, which takes every name that follows)" \
            if args.prompt is None and args.after else ""
        raise UsageError("give the prompt as PROMPT, '-' (stdin) or --file F (one of them)"
                         + hint)
    if args.file is not None:
        from agent_orchestrator.config import filetrust

        try:  # capped and non-blocking, as every prompt file: a FIFO, /dev/zero, a dump
            return filetrust.read_capped(Path(args.file), args.file).decode("utf-8")
        except (OSError, UnicodeDecodeError, filetrust.Untrusted) as exc:
            raise UserError(f"--file {args.file}: {exc}") from None
    return sys.stdin.read() if args.prompt == "-" else args.prompt


def run_submit(args: argparse.Namespace) -> int:
    from agent_orchestrator.doors.taskqueue import TaskError

    config = load(args)
    prompt = _prompt(args)
    backend = args.backend
    if backend is not None and backend not in {b.name for b in config.backends}:
        raise UserError(f"--backend {backend}: no such backend (known: "
                        f"{', '.join(sorted(b.name for b in config.backends))})")
    if backend is None and config.tasks.backend is None:
        raise UserError("no backend for tasks: set [tasks] backend or pass --backend")
    try:
        task = _queue(config).submit(prompt, name=args.name, backend=backend,
                                     model=args.model, after=args.after, verify=args.verify,
                                     retries=args.retries)
    except TaskError as exc:
        raise UserError(str(exc)) from None
    _changed(config, task.name, kind="task-submitted", what="queued")
    print(json.dumps(as_json(task)) if args.json else task.name)
    return 0


def _build_tasks(parser: argparse.ArgumentParser) -> None:
    from agent_orchestrator.doors.taskqueue import STATES

    parser.add_argument("--state", choices=STATES, help="only the tasks in this state")
    parser.add_argument("--json", action="store_true", help="print the tasks as JSON")


def run_tasks(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render
    from agent_orchestrator.doors import lock

    config = load(args, env=False)
    tasks = _queue(config).tasks(args.state)
    if any(t.state in ("queued", "running") for t in tasks) and \
            lock.watchdog_pid(config) is None:
        render.notice("note: the watchdog is not running: nothing starts or ends until "
                      "`agents up` (or `agents up watchdog`)")
    if args.json:
        print(json.dumps({"tasks": [as_json(t) for t in tasks]}, indent=2))
        return 0
    if not tasks:
        print("no tasks" + (f" {args.state}" if args.state else ""))
        return 0
    rows = [("NAME", "STATE", "TRIES", "TIME", "BRANCH", "CHANGES / REASON")]
    for task in tasks:
        tries = f"{task.attempts}/{task.retries + 1}"
        note = task.diffstat if task.state == "done" else task.reason or ""
        rows.append((task.name, task.state, tries, _duration(task), task.branch or "-",
                     note or ""))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  "
              + row[5])
    return 0


def _build_task(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("show", "cancel", "retry"))
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--json", action="store_true", help="print the task as JSON")


def run_task(args: argparse.Namespace) -> int:
    from agent_orchestrator.doors.taskqueue import TaskError

    config = load(args, env=False)
    queue = _queue(config)
    try:
        if args.action == "cancel":
            task = queue.cancel(args.name)
            _changed(config, task.name, kind="task-cancelled", what="cancelled")
        elif args.action == "retry":
            task = queue.retry(args.name)
            _changed(config, task.name, kind="task-retried", what="queued again")
        else:
            task = queue.get(args.name)
    except TaskError as exc:
        raise UserError(str(exc)) from None
    if args.action != "show":
        print(json.dumps(as_json(task), indent=2) if args.json else
              f"{task.name}: {task.state}")
        return 0
    events = _events(config, task.name)
    if args.json:
        print(json.dumps(as_json(task) | {"events": events}, indent=2))
        return 0
    _show(task, events)
    return 0


def _events(config: Config, task: str, last: int = 20) -> list[dict[str, object]]:
    """The task's last events (its agent is `task-<name>` in the event log)."""
    from collections import deque

    from agent_orchestrator.doors import eventlog

    return list(deque((r for r in eventlog.read(config.log_dir)
                       if eventlog.matches(r, agent=f"task-{task}")), maxlen=last))


def _show(task: Task, events: list[dict[str, object]]) -> None:
    from datetime import datetime

    from agent_orchestrator.cli import render

    for key, value in as_json(task).items():
        if key in ("created", "started", "finished") and isinstance(value, float):
            value = datetime.fromtimestamp(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")
        elif key == "worktree" and value and not Path(value).exists():
            value += " (removed)"
        elif key == "seconds" and value is not None:
            key, value = "time", _duration(task)
        if key not in ("prompt", "output_tail") and value not in (None, [], ""):
            print(f"{key + ':':<12} {value}")
    print(f"prompt:\n  {task.prompt.rstrip().replace(chr(10), chr(10) + '  ')}")
    if task.output_tail:
        print(f"verify output (tail):\n{task.output_tail.rstrip()}")
    if events:
        print("events:")
        out = render.console()
        for record in events:
            render.event(out, record)


def as_json(task: Task) -> dict[str, Any]:
    """A task as `--json` prints it (times are epoch seconds; `seconds` its run time)."""
    out = {k: getattr(task, k) for k in task.__dataclass_fields__}
    out["after"] = list(task.after)
    end = task.finished or (time.time() if task.state == "running" else None)
    out["seconds"] = round(end - task.started, 1) if end and task.started else None
    return out


def _duration(task: Task) -> str:
    seconds = as_json(task)["seconds"]
    if seconds is None:
        return "-"
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


SUBMIT = Verb(
    "submit", "queue a one-shot task; the watchdog runs it in its own git worktree",
    'agents submit "Add a --json flag to the export command" --name export-json\n'
    '  agents submit --file task.md --after export-json --verify "pytest -q" --retries 1\n'
    "  echo 'Fix the typo in README' | agents submit -",
    _build_submit, run_submit)
TASKS = Verb(
    "tasks", "list the queued, running, done and failed tasks",
    "agents tasks\n  agents tasks --state failed --json",
    _build_tasks, run_tasks)
TASK = Verb(
    "task", "show, cancel or retry one task",
    "agents task show export-json   # its branch, commits, diff stat, verify output\n"
    "  agents task retry export-json",
    _build_task, run_task)
