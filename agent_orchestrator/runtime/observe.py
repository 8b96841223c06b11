"""What one pass sees: the tmux snapshot, the screens a rule needs, and the loop's progress.

Every pass: one `list-panes -a`, the operator's stop and start markers, the session-log
times of `footer_ui` agents, the loop's phase. Light passes (`signal_interval`) also read
the screens the rules ask for and the pings relayed through the handoff repo; heavy passes
(`heavy_interval`) also check whether the phase is DONE and run its verify gates, once per
commit (they may take minutes).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from agent_orchestrator.config import Config
from agent_orchestrator.core import phases, rules, screenrules
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.handoff import VerifyResult
from agent_orchestrator.core.memory import FleetMemory
from agent_orchestrator.core.observed import LoopSeen, Now, Observed, Pane
from agent_orchestrator.doors import gitrelay, markers
from agent_orchestrator.doors.tmux import Tmux, TmuxError
from agent_orchestrator.runtime import launch

VERIFY_TIMEOUT = 600.0  # seconds each verify command may run


class Reporter(Protocol):
    """Where an observation's news and troubles go (the watchdog)."""

    def record(self, events: Sequence[Event]) -> None: ...

    def report_once(self, key: str, kind: str, reason: str) -> bool:
        """Record a trouble unless it is the one last reported under `key`."""

    def resolved(self, key: str) -> str | None:
        """The trouble under `key` is over: forget it; returns it, if there was one."""


def clock() -> Now:
    """The time of a look: both clocks, and the host's zone for reset times without one."""
    local = datetime.now().astimezone().tzinfo
    assert local is not None  # astimezone() always sets one
    return Now(time.monotonic(), time.time(), local)


def with_screens(config: Config, observed: Observed, memory: FleetMemory,
                 capture: Callable[[list[str]], Mapping[str, str]]) -> Observed:
    """`observed` with the screens the rules want this pass, and only those (a quiet pane
    whose screen was judged already is not read again: it is `unchanged`, a look too)."""
    agents = rules.watched(config, observed.stopped)
    wanted = screenrules.screens_wanted(config, observed, memory, agents)
    screens = capture(wanted)
    unchanged = frozenset(screenrules.screens_read(config, observed, agents)) - set(wanted)
    return replace(observed, screens=screens, unchanged=unchanged)


@dataclass
class Observer:
    """Builds each pass's `Observed`; remembers the verify gates' result per commit."""

    _verified: dict[tuple[str, tuple[str, ...]], VerifyResult] = field(default_factory=dict)

    def observe(self, config: Config, tmux: Tmux, memory: FleetMemory, light: bool,
                heavy: bool, report: Reporter) -> Observed | None:
        """None when tmux did not answer (reported once; the next pass retries)."""
        try:
            snap = tmux.snapshot()
        except TmuxError as exc:
            report.report_once("tmux", "tmux-error", str(exc))
            return None
        report.resolved("tmux")
        observed = Observed(snap.server_running, snap.panes,
                            stopped=markers.stopped_agents(config),
                            operator_starts=markers.operator_starts(config),
                            log_written=log_times(config, snap.panes),
                            loop=self._loop(config, memory, light, heavy, report))
        return with_screens(config, observed, memory, tmux.capture_many) if light \
            else observed

    def _loop(self, config: Config, memory: FleetMemory, light: bool, heavy: bool,
              report: Reporter) -> LoopSeen | None:
        """The loop's phase every pass; on light passes the pings relayed from origin/main;
        on heavy passes whether the phase is DONE and, if it has gates, their result at
        that commit."""
        loop = config.loop
        if loop is None or not loop.phases:
            return None
        read = markers.read_phase(config, memory.loop.phase)
        seen = LoopSeen(read.index, phase_problem=read.problem)
        handoff = loop.handoff
        if handoff is None:
            if heavy:
                seen = replace(seen, done_checked=True)
                status = config.project_dir / loop.phases[seen.phase_index].status
                with contextlib.suppress(OSError):
                    if phases.is_done(status.read_text(encoding="utf-8"), loop.done_marker):
                        seen = replace(seen, done_sha="working-tree")
            return seen
        git = gitrelay.Git(handoff.repo)
        try:
            if light or heavy:
                relayed = gitrelay.poll(git, handoff, memory.loop.seen_sha)
                seen = replace(seen, head=relayed.last_seen, pings=tuple(relayed.pings))
            if heavy and seen.head:
                seen = replace(seen, done_checked=True)
                if gitrelay.phase_done(git, handoff, loop.phases[seen.phase_index].status,
                                       loop.done_marker):
                    seen = replace(seen, done_sha=seen.head,
                                   verify=self._verify(config, git, seen, report))
            report.resolved("git")
        except gitrelay.GitError as exc:
            report.report_once("git", "git-error", str(exc))
        return seen

    def _verify(self, config: Config, git: gitrelay.Git, seen: LoopSeen,
                report: Reporter) -> VerifyResult | None:
        loop = config.loop
        assert loop is not None and seen.head is not None
        commands = loop.phases[seen.phase_index].verify
        if not commands:
            return None
        key = (seen.head, commands)
        if key not in self._verified:
            report.record([Event(time.time(), None, "verify", f"running {len(commands)} "
                                 f"gate(s) at {seen.head[:12]}")])
            self._verified = {key: git.run_at(seen.head, commands, VERIFY_TIMEOUT)}
        return self._verified[key]


def log_times(config: Config, panes: Mapping[str, Pane]) -> dict[str, float]:
    """Session log mtimes of `footer_ui` agents (a written log counts as activity)."""
    times = {}
    for agent in config.agents:
        if config.backend(agent.backend).footer_ui and agent.session in panes:
            with contextlib.suppress(OSError):
                times[agent.session] = launch.log_file(config, agent.session).stat().st_mtime
    return times
