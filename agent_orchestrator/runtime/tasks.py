"""The watchdog's side of the task queue: claim, prepare, supervise, judge, record.

Each pass, `prepare` takes in what the workers finished (worktrees made, runs judged),
adopts the queue's running tasks it does not know yet (a watchdog restarted after a crash
finds them running: their sessions are adopted or healed, exactly once), claims queued
tasks up to `[tasks] max_parallel` and returns the config with one agent per ready run.
After the pass observed, `settle` takes the runs that are over out of that config (so
decide() never heals an exit) and hands each to a worker: its verify gate, commit range and
diff stat. The queue records the outcome before the run's session is stopped, so a watchdog
killed in between judges the same run again rather than starting it twice.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from agent_orchestrator.config import Agent, Config
from agent_orchestrator.core import tasks
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.memory import FleetMemory
from agent_orchestrator.core.observed import Observed
from agent_orchestrator.doors import signals, worktrees
from agent_orchestrator.doors.files import write_atomic
from agent_orchestrator.doors.gitrelay import GitCancelled
from agent_orchestrator.doors.taskqueue import Task, TaskError, TaskQueue
from agent_orchestrator.doors.worktrees import Outcome, Prepared, TaskGit
from agent_orchestrator.runtime.workers import Workers

VERIFY_TIMEOUT = 600.0  # seconds a task's verify gate may run
JOBS = ("task-prepare", "task-judge", "task-clean", "agent-worktree")


class Recorder(Protocol):
    def record(self, events: Sequence[Event]) -> None: ...


def queue_file(config: Config) -> Path:
    return config.state_dir / "tasks.db"


def open_queue(config: Config) -> TaskQueue:
    return TaskQueue(queue_file(config))


def nudge(config: Config) -> None:
    """Wake a running watchdog now rather than at its next timed pass (after a submit,
    cancel or retry): it wakes for any `.json` written into the signals folder, and this
    name is no agent's (names start with a letter or digit), so no signal is read from it."""
    write_atomic(signals.signals_dir(config.state_dir) / ".queue.json", b"{}")


@dataclass
class TaskRunner:
    """What one watchdog knows of the tasks it runs (the queue holds the rest)."""

    workers: Workers
    stop: Callable[[Config, str], object]  # kills a session and its processes
    claimer: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    runs: dict[str, tasks.TaskRun] = field(default_factory=dict)
    preparing: set[str] = field(default_factory=set)
    judging: set[str] = field(default_factory=set)
    waiting: frozenset[str] = frozenset()  # declared agents whose worktree is being made
    fresh: set[str] = field(default_factory=set)  # runs started by this pass's claims
    _queue: TaskQueue | None = None

    def queue(self, config: Config) -> TaskQueue:
        if self._queue is None or self._queue.path != queue_file(config):
            self._queue = open_queue(config)
        return self._queue

    def prepare(self, config: Config, report: Recorder) -> Config:
        """The config with the ready runs as agents, and without the declared agents whose
        worktree is not made yet; claims and adoptions on the way."""
        config = self._agent_trees(config, report)
        self.fresh = set()
        queue = self.queue(config)
        if not queue.path.exists():
            return config  # nobody ever submitted: no database made for nothing
        events: list[Event] = []
        try:
            self._take_results(config, queue, events)
            running = {t.name: t for t in queue.tasks("running")}
            for name in set(self.runs) - set(running):  # cancelled by the operator
                del self.runs[name]  # its session goes as a stray one (settle)
                self._clean(config, queue.get(name))
            for task in running.values():
                if task.name not in (set(self.runs) | self.preparing | self.judging):
                    self._start(config, task, adopted=True, events=events)
            claimed, failed = queue.claim(config.tasks.max_parallel, self.claimer)
            for task in failed:
                events.append(_event(task.name, kind="task-failed",
                                     reason=task.reason or "dependency"))
            for task in claimed:
                self._start(config, task, adopted=False, events=events)
        except (TaskError, OSError, sqlite3.Error) as exc:  # reported; the next pass retries
            events.append(Event(time.time(), None, "task-error", f"task queue: {exc}"))
        report.record(events)
        return tasks.with_tasks(config, self.runs.values())

    def _start(self, config: Config, task: Task, adopted: bool, events: list[Event]) -> None:
        """Make the task's folder ready (a worker), or, found ready, supervise it now."""
        backend = task.backend or config.tasks.backend
        if backend is None or backend not in {b.name for b in config.backends}:
            self._finish(config, self.queue(config), Outcome(
                task.name, False, f"unknown backend {backend!r}: set [tasks] backend or "
                "submit --backend"), events)
            return
        if not adopted:
            events.append(_event(task.name, kind="task-started", reason=f"claimed (attempt "
                                 f"{task.attempts} of {task.retries + 1})"))
        if task.worktree or not config.tasks.worktree:
            self.runs[task.name] = self._run(config, task, Path(task.worktree or
                                                                config.project_dir))
            if adopted:
                events.append(_event(task.name, kind="task-adopted",
                                     reason="found running in the queue"))
            else:
                self.fresh.add(task.name)
            return
        self.preparing.add(task.name)
        tree, base = worktrees.task_tree(config, task.name), config.tasks.base
        self.workers.submit("task-prepare", task.name, lambda cancel: TaskGit(
            config.project_dir, cancel=cancel).prepare(task.name, tree, base,
                                                       root=config.log_dir))

    @staticmethod
    def _run(config: Config, task: Task, folder: Path) -> tasks.TaskRun:
        backend = task.backend or config.tasks.backend or ""
        base = (task.commits or "").split("..")[0] or None  # "<base sha>.." once prepared
        return tasks.TaskRun(task.name, task.prompt, backend, task.model or config.tasks.model,
                             folder, task.verify, base)

    def _take_results(self, config: Config, queue: TaskQueue, events: list[Event]) -> None:
        for done in self.workers.results(JOBS[:3]):
            name = done.key
            if done.kind == "task-clean" and done.error is not None and not done.cancelled:
                events.append(_event(name, kind="task-error", reason=f"removing its worktree: "
                                     f"{done.error}"))
            if done.kind == "task-clean" or done.cancelled or \
                    isinstance(done.error, GitCancelled):
                self.preparing.discard(name)
                self.judging.discard(name)  # the next pass finds it running: redone
                continue
            if done.kind == "task-prepare":
                self.preparing.discard(name)
                if isinstance(done.result, Prepared):
                    task = queue.update(name, worktree=str(done.result.worktree),
                                        branch=done.result.branch,
                                        commits=f"{done.result.base_sha}..")
                    if task.state == "running":
                        self.runs[name] = self._run(config, task, Path(task.worktree or ""))
                        self.fresh.add(name)
                        events.append(_event(name, kind="task-worktree", reason=(
                            f"{task.worktree} on branch {task.branch}")))
                    else:  # cancelled while its worktree was being made
                        self._clean(config, task)
                else:
                    self._finish(config, queue, Outcome(name, False, f"worktree: {done.error}"),
                                 events)
            elif done.kind == "task-judge":
                self.judging.discard(name)
                outcome = done.result if isinstance(done.result, Outcome) else \
                    Outcome(name, False, f"judging its run failed: {done.error}")
                self._finish(config, queue, outcome, events)

    def _finish(self, config: Config, queue: TaskQueue, outcome: Outcome,
                events: list[Event]) -> None:
        """Record a run's outcome, then stop its session (in that order: see the module)."""
        try:
            if outcome.commits is not None:
                queue.update(outcome.task, diffstat=outcome.diffstat,
                             commits=outcome.commits)
            task = queue.finish(outcome.task, outcome.ok, None if outcome.ok else
                                outcome.reason, outcome.output_tail)
        except TaskError:  # cancelled (by the operator) while it was being judged
            self.runs.pop(outcome.task, None)
            self.stop(config, tasks.session_name(config, outcome.task))
            self._clean(config, queue.get(outcome.task))
            return
        self.runs.pop(outcome.task, None)
        self.stop(config, tasks.session_name(config, outcome.task))
        facts = [f"branch {task.branch}" if task.branch else None, task.commits, task.diffstat]
        detail = outcome.reason if not outcome.ok else \
            ", ".join(f for f in facts if f) or outcome.reason
        if task.state == "queued":  # retries left: its worktree and branch carry on
            events.append(_event(task.name, kind="task-retry", reason=f"{detail} (attempt "
                                 f"{task.attempts} of {task.retries + 1}; queued again)"))
            return
        if task.state == "done":
            events.append(_event(task.name, kind="task-done", reason=detail))
        else:
            events.append(_event(task.name, kind="task-failed", reason=detail))
        self._clean(config, task)

    def _clean(self, config: Config, task: Task) -> None:
        """Remove an ended task's worktree (a worker), unless `keep_worktrees`."""
        if task.worktree and task.state != "running" and not config.tasks.keep_worktrees:
            tree = Path(task.worktree)
            self.workers.submit("task-clean", task.name, lambda cancel: TaskGit(
                config.project_dir, cancel=cancel).remove(tree, root=config.log_dir))

    def settle(self, config: Config, observed: Observed, memory: FleetMemory,
               report: Recorder) -> Config:
        """Hand the runs that are over to a judge (worker); return `config` (the declared
        one) with the runs still going, and stop task sessions whose task is not live."""
        events = []
        for end in tasks.ended(config, self.runs.values(), observed, memory):
            run = self.runs.pop(end.task)
            self.judging.add(end.task)
            events.append(_event(end.task, kind="task-finished", reason=end.reason) if end.ok
                          else _event(end.task, kind="task-exited", reason=end.reason))
            if end.ok:
                self.workers.submit("task-judge", end.task, lambda cancel, run=run: TaskGit(
                    config.project_dir, cancel=cancel).judge(
                        run.name, run.dir, run.base_sha, run.verify, VERIFY_TIMEOUT))
            else:
                self.workers.submit("task-judge", end.task, _constant(
                    Outcome(end.task, False, end.reason)))
        live = set(self.runs) | self.preparing | self.judging
        for session in tasks.stray_sessions(config, observed, live):
            self.stop(config, session)
        report.record(events)
        return tasks.with_tasks(self.without_waiting(config), self.runs.values())

    def _agent_trees(self, config: Config, report: Recorder) -> Config:
        """Declared agents with `worktree = true` whose worktree is missing wait (left out
        of the config) while a worker makes it: started in a folder not there yet, they
        would only crash-loop."""
        for done in self.workers.results(("agent-worktree",)):
            if done.error is not None and not isinstance(done.error, GitCancelled):
                report.record([Event(time.time(), done.key, "worktree-failed",
                                     str(done.error))])
        waiting = set()
        for agent in config.agents:
            if not (agent.worktree and agent.enabled):
                continue
            if worktrees.ready(worktrees.agent_tree(config, agent.name)):
                continue
            waiting.add(agent.name)
            if not self.workers.busy("agent-worktree", agent.name):
                self.workers.submit("agent-worktree", agent.name, _make_tree(config, agent),
                                    coalesce=True)
        self.waiting = frozenset(waiting)
        return self.without_waiting(config)

    def without_waiting(self, config: Config) -> Config:
        if not self.waiting:
            return config
        return replace(config, agents=tuple(a for a in config.agents
                                            if a.name not in self.waiting))

    def forget(self, memory: FleetMemory, starting: bool = False) -> FleetMemory:
        """`memory` without the task agents no longer running; `starting`: nor those whose
        run starts this pass (a retry starts with fresh counters, not as the death of the
        run before it)."""
        return tasks.forget(memory, set(self.runs) - (self.fresh if starting else set()))

    def dialogs(self, before: FleetMemory, after: FleetMemory, report: Recorder) -> None:
        report.record([_event(name, kind="task-dialog", reason="its agent waits at a dialog "
                              "(reported, not failed)")
                       for name in tasks.dialogs(before, after, self.runs.values())])


def _make_tree(config: Config, agent: Agent) -> Callable[[threading.Event], None]:
    return lambda cancel: worktrees.ensure_agent_tree(config, agent)


def _constant(outcome: Outcome) -> Callable[[threading.Event], Outcome]:
    return lambda cancel: outcome


def _event(task: str, kind: str, reason: str) -> Event:
    return Event(time.time(), tasks.agent_name(task), kind, reason)
