"""One-shot tasks as agents (pure): the agent a running task is, and when its run is over.

A task the queue says is `running` and whose worktree is ready is supervised as an agent
named `task-<name>` (kind "task", watch "heal"): the same rules as every agent heal it, hold
it through a usage limit, report its dialogs and back off its restarts. Its run is over when
its process exits (status 0: finished; any other: failed) or, for a CLI that tells its turns
(hooks, notify), when its first turn finished. Over, it leaves the agents decide() sees, so
an exit is never healed; the runtime then runs its verify gate and records the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from agent_orchestrator.config import Agent, Config, model
from agent_orchestrator.core.memory import AgentMemory, FleetMemory
from agent_orchestrator.core.observed import Observed

AGENT_PREFIX = model.TASK_AGENT_PREFIX


@dataclass(frozen=True)
class TaskRun:
    """A running task as the watchdog supervises it: its prompt, CLI and folder, and what
    its judge needs (the gate, the commit its branch started from)."""

    name: str
    prompt: str
    backend: str
    model: str | None
    dir: Path
    verify: str | None = None
    base_sha: str | None = None


@dataclass(frozen=True)
class Ended:
    """A task run that is over: `ok` when it finished, else `reason` says how it failed."""

    task: str
    ok: bool
    reason: str


def agent_name(task: str) -> str:
    return AGENT_PREFIX + task


def session_name(config: Config, task: str) -> str:
    return config.session_prefix + agent_name(task)


def task_agent(config: Config, run: TaskRun) -> Agent:
    """The agent that works on `run`."""
    name = agent_name(run.name)
    # kind "task" positionally: a `kind=` keyword reads as an event kind to test_events.
    return Agent(name, config.session_prefix + name, run.backend, "task", model=run.model,
                 prompt=run.prompt, dir=run.dir, watch="heal")


def with_tasks(config: Config, runs: Iterable[TaskRun]) -> Config:
    """`config` with an agent for each run (a declared agent keeps its name: a task whose
    agent name it takes is left out rather than shadowing it)."""
    taken = {a.name for a in config.agents} | {a.session for a in config.agents}
    extra = tuple(task_agent(config, run) for run in runs
                  if agent_name(run.name) not in taken
                  and session_name(config, run.name) not in taken)
    return replace(config, agents=config.agents + extra) if extra else config


def ended(config: Config, runs: Iterable[TaskRun], observed: Observed,
          memory: FleetMemory) -> list[Ended]:
    """The runs that are over this pass. A run the watchdog has not started or adopted yet
    (no memory of a start) is judged only by its exit: a signal file is the run's own."""
    out = []
    for run in runs:
        name = agent_name(run.name)
        pane = observed.panes.get(session_name(config, run.name)) \
            if observed.server_running else None
        if pane is not None and pane.dead:
            if pane.exit_signal is not None:
                out.append(Ended(run.name, False, f"killed by signal {pane.exit_signal}"))
            elif pane.exit_status == 0:
                out.append(Ended(run.name, True, "its agent exited 0"))
            else:
                status = "unknown" if pane.exit_status is None else str(pane.exit_status)
                out.append(Ended(run.name, False, f"its agent exited with status {status}"))
            continue
        record = observed.signals.get(name)
        mem = memory.agents.get(name, AgentMemory())
        # A turn that ended on an API error or at a usage limit is not the work finished.
        if pane is not None and record is not None and record.turns > 0 and mem.starts > 0 \
                and mem.state != "limited" and record.signal.error is None:
            out.append(Ended(run.name, True, f"its turn finished ({record.signal.source} "
                             f"{record.signal.event})"))
    return out


def forget(memory: FleetMemory, keep: Iterable[str]) -> FleetMemory:
    """`memory` without the task agents not in `keep` (task names): a task run again starts
    with fresh counters, not as the death of its last run."""
    kept = {agent_name(t) for t in keep}
    agents: Mapping[str, AgentMemory] = {
        k: v for k, v in memory.agents.items()
        if not k.startswith(AGENT_PREFIX) or k in kept}
    return memory if len(agents) == len(memory.agents) else replace(memory, agents=dict(agents))


def stray_sessions(config: Config, observed: Observed, live: Iterable[str]) -> list[str]:
    """Task sessions on the server whose task is not live (cancelled, done, or failed
    while the watchdog was away): stopped."""
    prefix = config.session_prefix + AGENT_PREFIX
    keep = {session_name(config, t) for t in live}
    declared = {a.session for a in config.agents}
    return sorted(s for s in observed.panes
                  if s.startswith(prefix) and s not in keep and s not in declared)


def dialogs(before: FleetMemory, after: FleetMemory, runs: Iterable[TaskRun]) -> list[str]:
    """The tasks whose agent came to sit at a dialog this pass (reported, not failed)."""
    out = []
    for run in runs:
        name = agent_name(run.name)
        was = before.agents.get(name, AgentMemory()).state
        now = after.agents.get(name, AgentMemory()).state
        if now == "dialog" and was != "dialog":
            out.append(run.name)
    return out
