"""What one pass sees: the tmux snapshot, the screens a rule needs, and the loop's progress.

Every pass: one `list-panes -a`, the operator's stop and start markers, the session-log
times of `footer_ui` agents, the agents' own signals, the texts queued for them (`agents
send --when-idle`), the loop's phase and what the loop's workers found. Light passes
(`signal_interval`) also read the screens the rules ask for and start a fetch of the
handoff repo; heavy passes (`heavy_interval`) start the DONE check and its verify gates.
Nothing here waits on git: that runs in workers.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from agent_orchestrator.config import Config, filetrust
from agent_orchestrator.core import looprules, phases, rules, screenrules
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.handoff import Relay, VerifyResult
from agent_orchestrator.core.memory import FleetMemory
from agent_orchestrator.core.observed import LoopSeen, Now, Observed, Pane, Queued
from agent_orchestrator.core.signals import SignalRecord
from agent_orchestrator.doors import gitrelay, inbox, markers, signals, transcripttail
from agent_orchestrator.doors.tmux import Tmux, TmuxError
from agent_orchestrator.runtime import launch
from agent_orchestrator.runtime.hosts import FleetTmux
from agent_orchestrator.runtime.workers import Workers

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


@dataclass(frozen=True)
class DoneCheck:
    """What a heavy pass's worker found: whether the phase's status file at `head` says
    DONE, and if so the verify gates' result there."""

    phase_index: int
    head: str | None
    done: bool
    verify: VerifyResult | None


@dataclass
class Observer:
    """Builds each pass's `Observed`. The handoff repo's fetch and the DONE check with its
    verify gates run in `workers` (they may take seconds to minutes); a pass only submits
    them and takes in what finished since the last pass. Gates run once per commit."""

    workers: Workers
    tail: transcripttail.Tail = field(default_factory=transcripttail.Tail)
    _verified: dict[tuple[str, tuple[str, ...]], VerifyResult] = field(default_factory=dict)

    def observe(self, config: Config, tmux: Tmux, memory: FleetMemory, light: bool,
                heavy: bool, report: Reporter) -> Observed | None:
        """None when tmux did not answer (reported once; the next pass retries)."""
        # The operator's marks before the sessions: `up` starts a session and only then
        # clears its stopped mark, so an agent read as no longer stopped is in the snapshot
        # taken after (read the other way round, a pass saw it unstopped and not yet started,
        # and healed it alongside the operator's start).
        stopped, starts = markers.stopped_agents(config), markers.operator_starts(config)
        if isinstance(tmux, FleetTmux):  # and another host's look must be newer than them
            tmux.operator_acted({a.session: starts[a.name] for a in config.agents
                                 if a.name in starts})
        try:
            snap = tmux.snapshot()
        except TmuxError as exc:
            report.report_once("tmux", "tmux-error", str(exc))
            return None
        report.resolved("tmux")
        observed = Observed(snap.server_running, snap.panes,
                            stopped=stopped, operator_starts=starts,
                            log_written=log_times(config, snap.panes),
                            loop=self._loop(config, memory, light, heavy, report, snap.panes),
                            unseen=snap.unseen, unreachable=snap.unreachable)
        # The agents' own word, every pass (a stat and a small read each; a transcript's
        # tail only when it changed): a hook's news is judged within the pass it wakes.
        records = read_signals(config)
        observed = replace(observed, signals=records, api_errors=self.tail.read_all(
            {name: Path(r.signal.transcript) for name, r in records.items()
             if r.signal.transcript}), inbox=self.inbox(config))
        return with_screens(config, observed, memory, tmux.capture_many) if light \
            else observed

    def inbox(self, config: Config) -> dict[str, Queued]:
        """Each agent's oldest queued text, unless something is being typed into it now or
        its outcome is not taken in yet (the text typed last pass may still be on its way,
        or done with its file not yet removed: it is never offered twice)."""
        out = {}
        for agent in config.agents:
            if self.workers.settled("deliver", agent.session):
                if (queued := inbox.oldest(config.state_dir, agent.name)) is not None:
                    out[agent.name] = queued
        return out

    def cancel(self) -> None:
        """Drop the loop's work in flight (its config changed, or the watchdog exits)."""
        self.workers.cancel("git")
        self.workers.cancel("verify")

    def _loop(self, config: Config, memory: FleetMemory, light: bool, heavy: bool,
              report: Reporter, panes: Mapping[str, Pane]) -> LoopSeen | None:
        """The loop's phase every pass, plus what its workers found since the last pass:
        the pings relayed from origin/main, and whether the phase is DONE (with its gates'
        result). Light passes start a fetch, heavy ones a DONE check, unless one runs."""
        loop = config.loop
        if loop is None or not loop.phases:
            return None
        read = markers.read_phase(config, memory.loop.phase)
        seen = LoopSeen(read.index, phase_problem=read.problem,
                        rerun=markers.rerun_file(config).exists())
        handoff = loop.handoff
        if handoff is None:
            if heavy:
                seen = replace(seen, done_checked=True)
                done, problem = status_done(config.project_dir
                                            / loop.phases[seen.phase_index].status,
                                            loop.done_marker)
                if problem is None:
                    report.resolved("status-file")
                else:
                    report.report_once("status-file", "status-file-unreadable", problem)
                if done:
                    seen = replace(seen, done_sha="working-tree")
            return seen
        polled = False
        for done in self.workers.results(("git", "verify")):
            if isinstance(done.error, gitrelay.GitCancelled) or done.cancelled:
                continue
            if isinstance(done.error, gitrelay.GitError):
                report.report_once("git", "git-error", str(done.error))
                continue
            if done.error is not None:
                report.report_once("git", "git-error", f"{done.kind}: {done.error!r}")
                continue
            report.resolved("git")
            if isinstance(done.result, Relay):
                polled = True
                seen = replace(seen, head=done.result.last_seen,
                               pings=tuple(done.result.pings))
            elif isinstance(done.result, DoneCheck) and \
                    done.result.phase_index == seen.phase_index and done.result.head:
                seen = replace(seen, done_checked=True,
                               done_sha=done.result.head if done.result.done else None,
                               verify=done.result.verify)
        # A new fetch only once the memory holds the last one's head (else it would ping
        # the same commits twice): not in the pass that took a result in.
        if (light or heavy) and not polled:
            since = memory.loop.seen_sha  # None: the first poll relays since the loops started
            started = looprules.loop_started(config, panes) if since is None else None
            self.workers.submit("git", "poll", lambda cancel: gitrelay.poll(
                gitrelay.Git(handoff.repo, cancel=cancel), handoff, since, started=started),
                coalesce=True)
        if heavy and not self.workers.busy("verify", "done"):
            self.workers.submit("verify", "done", self._check_job(
                config, seen.phase_index, report), coalesce=True)
        return seen

    def _check_job(self, config: Config, phase_index: int,
                   report: Reporter) -> Callable[[threading.Event], DoneCheck]:
        """The DONE check of `phase_index` at origin/main's head, and its gates there."""
        loop = config.loop
        assert loop is not None and loop.handoff is not None
        handoff, phase = loop.handoff, loop.phases[phase_index]

        def job(cancel: threading.Event) -> DoneCheck:
            git = gitrelay.Git(handoff.repo, cancel=cancel)
            head = git.head()
            if head is None or not gitrelay.phase_done(git, handoff, phase.status,
                                                       loop.done_marker, ref=head):
                return DoneCheck(phase_index, head, False, None)
            if not phase.verify:
                return DoneCheck(phase_index, head, True, None)
            key = (head, phase.verify)
            if key not in self._verified:
                report.record([Event(time.time(), None, "verify", f"running "
                                     f"{len(phase.verify)} gate(s) at {head[:12]}")])
                began = time.monotonic()
                result = git.run_at(head, phase.verify, VERIFY_TIMEOUT)
                self._verified = {key: result}
                took = f"{time.monotonic() - began:.1f}s"
                report.record([Event(time.time(), None, "verify-done", (
                    f"passed: {len(phase.verify)} gate(s) at {head[:12]} in {took}"
                    if result.ok else f"failed at {head[:12]}: `{result.command}` " + (
                        "timed out" if result.timed_out else f"exited {result.exit_code}")
                    + f" (after {took})"))])
            return DoneCheck(phase_index, head, True, self._verified[key])
        return job


def read_status(path: Path) -> tuple[str | None, str | None]:
    """A phase's status file in the project: its text (None when it does not exist yet)
    and why it could not be read (None when it could). Read as every file we read is
    (config/filetrust.py): a FIFO, a device or a folder is refused without blocking, and a
    file over the cap is never read whole. Also `agents phase`'s reader."""
    try:
        data, _ = filetrust.read_bytes(path, str(path), "when the loop's phase is done")
    except FileNotFoundError:
        return None, None
    except filetrust.Untrusted as exc:
        return None, f"status file: {exc}"
    except OSError as exc:
        return None, f"status file {path} cannot be read ({exc.strerror or exc})"
    return data.decode("utf-8", "replace"), None


def status_done(path: Path, marker: str) -> tuple[bool, str | None]:
    """Whether the phase's status file in the project says DONE, and why it could not be
    read (`read_status`); the watchdog reports the problem once (`status-file-unreadable`)
    and the phase holds."""
    text, problem = read_status(path)
    return text is not None and phases.is_done(text, marker), problem


def read_signals(config: Config) -> dict[str, SignalRecord]:
    """The latest own signal of each agent whose backend sends them."""
    folder = signals.signals_dir(config.state_dir)
    out = {}
    for agent in config.agents:
        if config.backend(agent.backend).signals:
            record = signals.read(folder, agent.name)
            if record is not None:
                out[agent.name] = record
    return out


def log_times(config: Config, panes: Mapping[str, Pane]) -> dict[str, float]:
    """Session log mtimes of `footer_ui` agents (a written log counts as activity)."""
    times = {}
    for agent in config.agents:
        if config.backend(agent.backend).footer_ui and agent.session in panes:
            with contextlib.suppress(OSError):
                times[agent.session] = launch.log_file(config, agent.session).stat().st_mtime
    return times
