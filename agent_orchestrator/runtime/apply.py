"""Carrying out decisions: start, restart, stop, type, set the phase, complete the sequence.
Start, restart and stop apply to agents and services alike.

Sessions and typing go through a `Door`: tmux in the daemon (`TmuxDoor`), an in-memory
fleet in tests (tests/simulate.py), so the simulator replays this very code. A failure is
recorded (`action-failed`, `delivery-failed`) and never raised: the next pass retries.

Typing takes seconds (settle waits, re-presses), so the daemon's door hands it to a worker
(one delivery in flight per agent, in order) and its outcome comes back later as a
`Delivered` result (`delivered_events` turns a failed one into its event, and a delivered
queued text into `send-delivered`, its file removed only then); stopping an agent cancels
what was still to be typed into it. A text refused because a dialog or a limit banner was
on screen is not lost: one not queued yet (a wake text) goes to the agent's inbox
(`delivery-deferred`), a queued one stays there; both are typed at its next idle look.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from agent_orchestrator.config import Agent, Backend, Config, filetrust
from agent_orchestrator.core import screenrules
from agent_orchestrator.core.decisions import (
    Action,
    CompleteSequence,
    Decisions,
    Queue,
    Restart,
    SetPhase,
    Start,
    Stop,
    Type,
    Unqueue,
)
from agent_orchestrator.core.events import Event
from agent_orchestrator.doors import inbox, lock, markers
from agent_orchestrator.doors.crashpoints import crash_point, slow_point
from agent_orchestrator.doors.files import write_atomic
from agent_orchestrator.doors.tmux import Tmux, TmuxError
from agent_orchestrator.runtime import delivery, hostfleet, launch
from agent_orchestrator.runtime.delivery import Delivery
from agent_orchestrator.runtime.hosts import FleetTmux
from agent_orchestrator.runtime.launch import LaunchPlan
from agent_orchestrator.runtime.workers import Done, Workers

log = logging.getLogger(__name__)
Record = Callable[[Sequence[Event]], None]  # where the events of a failure go


class Door(Protocol):
    """The outside operations an action needs."""

    def start(self, config: Config, plan: LaunchPlan, swept: bool) -> None:
        """Start the plan's session (`launch.start`); raise TmuxError or OSError."""

    def start_remote(self, config: Config, agent: Agent, swept: bool) -> None:
        """Start an agent placed on another host: planned and started there (in a worker;
        a failure comes back as its event, `remote_events`)."""

    def stop(self, config: Config, session: str) -> None:
        """Kill a session and every process it started (`launch.stop`)."""

    def deliver(self, session: str, text: str, backend: Backend, agent: str,
                reason: str, queued: str | None = None,
                into_limit: bool = False) -> Delivery | None:
        """Type `text` into the session's agent and submit it (`delivery.deliver`); None
        when the typing was handed to a worker (its `Delivered` comes back later).
        `queued`: the id of the queued text it is; `into_limit`: typed even under a limit
        banner (never under a dialog)."""


@dataclass(frozen=True)
class Delivered:
    """A delivery's outcome, as a worker hands it back."""

    agent: str
    reason: str
    result: Delivery
    queued: str | None = None  # the queued text's id (doors/inbox.py)
    text: str = ""  # what was to be typed (queued if the screen refused it)


@dataclass(frozen=True)
class TmuxDoor:
    """The real door: sessions on the config's tmux server; typing in `workers`."""

    tmux: Tmux | FleetTmux
    workers: Workers

    def start(self, config: Config, plan: LaunchPlan, swept: bool) -> None:
        with _unless_stopping(config, plan.session) as go:
            if go:
                launch.start(hostfleet.local_of(self.tmux), config, plan, swept=swept)

    def start_remote(self, config: Config, agent: Agent, swept: bool) -> None:
        def job(cancel: threading.Event) -> list[Event]:
            with _unless_stopping(config, agent.session) as go:
                if go:
                    return _remote(lambda: hostfleet.start_agent(self.tmux, config, agent,
                                                                 swept), agent.name, "start")
            return []
        if isinstance(self.tmux, FleetTmux):
            self.tmux.pending(agent.session)
        self.workers.submit("host", agent.host or "", job)

    def stop(self, config: Config, session: str) -> None:
        self.workers.cancel("deliver", session)  # nothing more is typed into it
        if hostfleet.remote_launcher(self.tmux, session) is None:
            launch.stop(hostfleet.local_of(self.tmux), config, session)
            return
        name = next((a.name for a in config.agents if a.session == session), None)
        assert isinstance(self.tmux, FleetTmux)
        self.tmux.pending(session)
        self.workers.submit("host", self.tmux.remote_of(session) or "", lambda cancel: _remote(
            lambda: hostfleet.stop_session(self.tmux, config, session), name, "stop"))

    def deliver(self, session: str, text: str, backend: Backend, agent: str,
                reason: str, queued: str | None = None,
                into_limit: bool = False) -> Delivery | None:
        def job(cancel: threading.Event) -> Delivered:
            try:
                result = delivery.deliver(self.tmux, session, text, backend.submit_key,
                                          dialog_re=backend.prompt_re,
                                          active_re=backend.active_re, cancel=cancel,
                                          limits=None if into_limit else backend)
            except TmuxError as exc:
                result = Delivery(False, str(exc))
            return Delivered(agent, reason, result, queued, text)
        self.workers.submit("deliver", session, job)
        return None


@contextlib.contextmanager
def _unless_stopping(config: Config, session: str) -> Iterator[bool]:
    """Whether a start may go on: `agents down` marks the agent stopped, then takes this
    lock to kill: a start is either done before that kill, or sees the mark here (T53).
    Never waited for."""
    with lock.session_lock(config, session, wait=False) as held:
        stopped = markers.stopped_agents(config)
        if not held or any(x.session == session and x.name in stopped
                           for x in (*config.agents, *config.services)):
            log.info("%s: not started, the operator is stopping it", session)
            yield False
        else:
            yield True


def _remote(act: Callable[[], object], agent: str | None, what: str) -> list[Event]:
    """Run a start or stop on another host (in a worker): its failure as an event."""
    try:
        act()
    except (TmuxError, OSError, filetrust.Untrusted) as exc:
        return [Event(time.time(), agent, "action-failed", f"{what}: {exc}")]
    return []


def remote_events(results: Sequence[Done]) -> list[Event]:
    """The events of finished starts and stops on other hosts (kind "host")."""
    events: list[Event] = []
    for done in results:
        if done.kind != "host":
            continue
        if done.error is not None:
            events.append(Event(time.time(), None, "action-failed", f"{done.key}: "
                                f"{done.error}"))
        elif isinstance(done.result, list):
            events += done.result
    return events


def delivered_events(config: Config, results: Sequence[Done], now: float) -> list[Event]:
    """The events of finished deliveries: a failure says why (a success is not news,
    but for a queued text, whose file goes only now)."""
    events = []
    for done in results:
        if done.kind != "deliver":
            continue
        if isinstance(done.result, Delivered) and done.result.queued is not None:
            events += queued_outcome(config, done.result, now)
        elif isinstance(done.result, Delivered) and done.result.result.blocked:
            events += defer(config, done.result, now)
        elif isinstance(done.result, Delivered) and not done.result.result.delivered:
            events.append(Event(now, done.result.agent, "delivery-failed",
                                f"{done.result.reason}: {done.result.result.detail}"))
        elif done.error is not None:
            events.append(Event(now, None, "delivery-failed", f"{done.key}: {done.error}"))
    return events


def queued_outcome(config: Config, done: Delivered, now: float) -> list[Event]:
    """A queued text's delivery: `send-delivered` and its file removed, or
    `delivery-failed` and its file kept (typed again at the next idle look)."""
    assert done.queued is not None
    if not done.result.delivered:
        return [Event(now, done.agent, "delivery-failed", f"queued text {done.queued}: "
                      f"{done.result.detail}; kept for the next idle moment")]
    try:
        inbox.remove(config.state_dir, done.agent, done.queued)
    except OSError as exc:
        return [Event(now, done.agent, "action-failed", f"queued text {done.queued} was "
                      f"delivered but its file stays: {exc}")]
    return [Event(now, done.agent, "send-delivered",
                  f"queued text {done.queued} {done.result.detail}")]


def defer(config: Config, done: Delivered, now: float) -> list[Event]:
    """A text the screen refused (a dialog or a limit banner was up): into the agent's
    inbox, typed at its next idle look (if the rules look at it: else it is reported)."""
    agent = config.agent(done.agent)
    if agent is None or not screenrules.takes_queue(config, agent):
        return [Event(now, done.agent, "delivery-failed",
                      f"{done.reason}: {done.result.detail}")]
    try:
        queued = inbox.enqueue(config.state_dir, done.agent, done.text, done.reason)
    except (OSError, ValueError) as exc:
        return [Event(now, done.agent, "delivery-failed", f"{done.reason}: "
                      f"{done.result.detail}; could not queue it: {exc}")]
    return [Event(now, done.agent, "delivery-deferred", f"{done.reason}: "
                  f"{done.result.detail}; queued as {queued.id} for its next idle moment")]


def apply_all(door: Door, config: Config, decisions: Decisions, record: Record) -> bool:
    """Record the decisions' events, then carry out their actions in order (the decision
    first, then any failure to carry it out). Returns whether a session was started."""
    record(decisions.events)
    started = False
    for action in decisions.actions:
        apply_one(door, config, action, record)
        started |= isinstance(action, Start | Restart)
    return started


def apply_one(door: Door, config: Config, action: Action, record: Record) -> None:
    if isinstance(action, SetPhase | CompleteSequence):
        _apply_loop(config, action, record)
        return
    agent = config.agent(action.agent)
    own = agent or config.service(action.agent)  # a service has no Type action
    session = action.session if isinstance(action, Stop) and action.session else \
        (own.session if own else None)
    if session is None:
        return
    try:
        if isinstance(action, Stop | Restart):
            door.stop(config, session)
            crash_point("restart-killed")  # test-only (crashpoints.py)
            slow_point("restart-killed")
        if isinstance(action, Start | Restart) and isinstance(own, Agent) and own.host:
            door.start_remote(config, own, swept=isinstance(action, Restart))
        elif isinstance(action, Start | Restart) and own is not None:
            door.start(config, launch.plan_for(config, own) if isinstance(own, Agent) else
                       launch.plan_service(config, own), swept=isinstance(action, Restart))
            crash_point("session-created")  # test-only (crashpoints.py)
        if isinstance(action, Type) and agent is not None:
            _type(door, config, agent, session, action, record)
        if isinstance(action, Queue) and agent is not None:
            _queue(config, agent, action)
        if isinstance(action, Unqueue) and agent is not None:
            inbox.drop(config.state_dir, agent.name, action.reasons)
    except (TmuxError, OSError, filetrust.Untrusted) as exc:
        record([Event(time.time(), action.agent, "action-failed",
                      f"{type(action).__name__.lower()}: {exc}")])


def _apply_loop(config: Config, action: SetPhase | CompleteSequence, record: Record) -> None:
    try:
        marker = config.log_dir / "SEQUENCE-COMPLETE"
        if isinstance(action, SetPhase):
            markers.write_phase_index(config, action.index)
            if action.reopen:
                marker.unlink(missing_ok=True)
                markers.rerun_file(config).unlink(missing_ok=True)  # the request is met
            return
        if not marker.exists():
            write_atomic(marker, f"{action.reason}\n".encode())
        loop = config.loop
        if loop is not None and loop.on_complete is not None:  # paths: project root
            (config.project_dir / loop.on_complete.trigger_file).unlink(missing_ok=True)
    except OSError as exc:
        record([Event(time.time(), None, "action-failed", f"{action.reason}: {exc}")])


def _queue(config: Config, agent: Agent, action: Queue) -> None:
    """Into the agent's inbox; raises OSError (a text too long to queue is one too)."""
    try:
        inbox.enqueue(config.state_dir, agent.name, action.text, action.reason)
    except ValueError as exc:
        raise OSError(f"{action.reason}: not queued: {exc}") from exc


def _type(door: Door, config: Config, agent: Agent, session: str, action: Type,
          record: Record) -> None:
    if action.text is not None:
        text = action.text
    elif action.file is not None:  # a wake file: whitespace collapsed to one line
        # Judged again as it is read: it may have changed hands since the config loaded.
        try:
            text = " ".join(filetrust.read_text(action.file).split())
        except filetrust.Untrusted as exc:
            record([Event(time.time(), agent.name, "delivery-failed",
                          f"{action.reason}: not typed: {exc}")])
            return
    else:
        return
    result = door.deliver(session, text, config.backend(agent.backend), agent.name,
                          action.reason, action.queued, action.into_limit)
    if result is not None and action.queued is not None:
        record(queued_outcome(config, Delivered(agent.name, action.reason, result,
                                                action.queued), time.time()))
    elif result is not None and result.blocked:
        record(defer(config, Delivered(agent.name, action.reason, result, text=text),
                     time.time()))
    elif result is not None and not result.delivered:
        record([Event(time.time(), agent.name, "delivery-failed",
                      f"{action.reason}: {result.detail}")])
