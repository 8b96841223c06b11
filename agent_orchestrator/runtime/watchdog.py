"""The supervisor loop: wait for a reason → snapshot → decide → apply → save → record.

Each pass: follow an edit of the config (configwatch.py), observe the fleet (observe.py),
call the pure `rules.decide`, carry out its actions (apply.py), save the memory, record the
events and hand those worth telling to the notifier (notifier.py, delivered by workers); then
sleep until a wake-up source fires or a deadline passes (wakeups.py). Screens
are read only on light passes (`signal_interval`), the loop's slow checks run on heavy ones
(`heavy_interval`). Queued one-shot tasks join each pass as agents (runtime/tasks.py).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import FrameType

from agent_orchestrator.config import Config
from agent_orchestrator.core import rules
from agent_orchestrator.core.decisions import Decisions
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.memory import FleetMemory, only_look_stamps_differ
from agent_orchestrator.core.observed import Pane
from agent_orchestrator.doors import (
    eventlog,
    fdlimit,
    gitrelay,
    lock,
    markers,
    memorystore,
    notify,
    orphans,
    rundir,
    signals,
)
from agent_orchestrator.doors.files import private_dir, remove_stray_temps
from agent_orchestrator.doors.tmux import Tmux
from agent_orchestrator.runtime import apply, hostfleet, observe
from agent_orchestrator.runtime.configwatch import ConfigWatch, file_stamp, write_health
from agent_orchestrator.runtime.hosts import FleetTmux
from agent_orchestrator.runtime.notifier import Notifier
from agent_orchestrator.runtime.observe import Observer
from agent_orchestrator.runtime.tasks import TaskRunner
from agent_orchestrator.runtime.wakeups import FALLBACK_POLL, WakeUps
from agent_orchestrator.runtime.workers import Workers

log = logging.getLogger(__name__)
STAMP_SAVE_EVERY = 30.0  # seconds between state writes that would only carry look stamps


@dataclass
class Watchdog:
    """A running watchdog for one config file. `run()` blocks until `stop()`."""

    config: Config
    tmux: Tmux | FleetTmux  # a FleetTmux when agents run on other hosts (hostfleet.py)
    memory: FleetMemory = field(default_factory=FleetMemory)
    stopping: bool = False
    wakeups: WakeUps = field(default_factory=WakeUps)
    workers: Workers | None = None  # made with the waker, in __post_init__
    observer: Observer | None = None
    tasks: TaskRunner | None = None  # the one-shot task queue's runs (runtime/tasks.py)
    config_watch: ConfigWatch = field(default_factory=ConfigWatch)
    notifier: Notifier | None = None  # made with the workers, in __post_init__
    _last_light: float = float("-inf")
    _last_heavy: float = float("-inf")
    _reported: dict[str, str] = field(default_factory=dict)  # trouble key → its last reason
    _saved: FleetMemory = field(default_factory=FleetMemory)  # as last written to disk
    _saved_at: float = float("-inf")
    _fd_limit_said: bool = False
    _in_session: bool = False  # seen running in its own session (`_own_session_gone`)

    def __post_init__(self) -> None:
        if self.workers is None:
            self.workers = Workers(self.wakeups.waker.wake)
        if self.observer is None:
            self.observer = Observer(self.workers)
        if self.notifier is None:
            self.notifier = Notifier(self.workers)
        if self.tasks is None:
            self.tasks = TaskRunner(self.workers, lambda config, session: self.door.stop(
                config, session))

    @classmethod
    def open(cls, config: Config) -> Watchdog:
        dog = cls(config=config, tmux=Tmux(config.tmux_socket).checked())  # refuse unsafe dir
        dog.tmux = hostfleet.open_fleet(config, dog.tmux, dog.wakeups.waker.wake)
        dog.config_watch.stamp = file_stamp(config.path)
        dog.memory, warning = memorystore.load_memory(config)
        dog._saved = dog.memory
        if warning:
            dog.record([Event(time.time(), None, "state-rebuilt", warning)])
        dog.config_watch.warn(config, dog)
        dog.record(_debris(config, hostfleet.local_of(dog.tmux)))
        write_health(config, None)
        return dog

    @property
    def door(self) -> apply.Door:
        """Sessions on this watchdog's tmux server (`tmux` may be replaced: tests do)."""
        assert self.workers is not None
        return apply.TmuxDoor(self.tmux, self.workers)

    # ------------------------------------------------------------------ the loop

    def run(self) -> None:
        soft, _ = fdlimit.raise_soft()  # pidfds, and a tmux server we start, inherit it
        self.record([Event(time.time(), None, "watchdog-start",
                           f"pid {os.getpid()}, watching {len(self.config.agents)} agents "
                           f"and {len(self.config.services)} services, open-file limit {soft}")])
        try:
            folder = private_dir(signals.signals_dir(self.config.state_dir))
            with self.wakeups.watching(self.config.path, folder):
                while not self.stopping:
                    self.tick()
                    self._wait()
        finally:
            self.close()
            self.record([Event(time.time(), None, "watchdog-stop", "stopped")])

    def close(self) -> None:
        """Cancel the work in flight and let go of the control client and the agents'
        pidfds (the lock stays held)."""
        assert self.workers is not None
        self.workers.close()
        self.wakeups.close()
        hostfleet.close(self.tmux)  # the hosts' pollers, control clients and ssh masters

    def _wait(self) -> None:
        now = time.monotonic()
        # Each interval has its own timer: a heavy pass is due on time even when
        # `heavy_interval` is shorter than `signal_interval`.
        timeouts = [self._last_light + self.config.watchdog.signal_interval - now,
                    self._last_heavy + self.config.watchdog.heavy_interval - now]
        if (due := rules.next_deadline(self.memory)) is not None:
            timeouts.append(due - now)
        if (held := self.config_watch.due()) is not None:  # a held removal may apply then
            timeouts.append(held - now)
        self.wakeups.wait(timeouts)

    def tick(self) -> Decisions | None:
        """One pass. Never raises for tmux trouble: it is reported and the next tick retries.
        The pass's events then become notifications, handed to workers (never waited on)."""
        assert self.notifier is not None and self.workers is not None
        self.record(self.notifier.outcomes(self.workers.results(("notify",)), time.time()))
        try:
            return self._pass()
        finally:
            self.notifier.flush(self.config.notify, time.time())

    def _pass(self) -> Decisions | None:
        assert self.observer is not None and self.workers is not None and self.tasks
        before = self.config
        self.config_watch.reload(self)
        if self.config != before:  # the loop's work in flight was for the old config
            self.observer.cancel()
            self.tmux = hostfleet.reopened(self.tmux, before, self.config, self.workers,
                                           self.wakeups.waker.wake)
        now = observe.clock()
        self.record(apply.delivered_events(self.config, self.workers.results(("deliver",)),
                                            time.time()))
        self.record(apply.remote_events(self.workers.results(("host",))))
        light = now.mono - self._last_light >= self.config.watchdog.signal_interval
        heavy = now.mono - self._last_heavy >= self.config.watchdog.heavy_interval
        # Task runs are agents too: observed, healed and held like the declared ones.
        config = self.tasks.prepare(self.config, self)
        observed = self.observer.observe(config, self.tmux, self.memory, light, heavy, self)
        if observed is None:
            return None
        if self._own_session_gone(observed.server_running, observed.panes):
            return None
        if heavy:
            self._last_heavy = now.mono
        if light:
            self._last_light = now.mono
        config = self.tasks.settle(self.config, observed, self.memory, self)
        decisions = rules.decide(config, observed, self.tasks.forget(self.memory, True), now)
        decisions = replace(decisions, memory=self.tasks.forget(decisions.memory))
        self.tasks.dialogs(self.memory, decisions.memory, self)
        # The control client is attached (a few ms, once) before the pass acts or records
        # anything: no start or kill may overlap an attach (doors/tmuxcontrol.py says why).
        self.wakeups.follow(config, hostfleet.local_of(self.tmux), observed)
        self.commit(decisions, config)
        if self.wakeups.unwatched and not self._fd_limit_said:  # once per run
            self._fd_limit_said = True
            self.record([Event(time.time(), None, "fd-limit", f"open-file limit "
                               f"{fdlimit.soft_limit()}: {self.wakeups.unwatched} agents get "
                               f"no pidfd and are polled every {FALLBACK_POLL:g}s (raise "
                               "`ulimit -n` and restart the watchdog)")])
        return decisions

    def _own_session_gone(self, server_running: bool, panes: Mapping[str, Pane]) -> bool:
        """Whether the session this watchdog runs in (its pane's pid is ours: `agents up`
        started it there) was killed while the tmux server lives on. That is a stop, as
        `agents down watchdog` would be: recorded, and the loop ends (a process nobody can
        see in tmux would keep supervising while `up` and `status` show no session for
        it). A killed SERVER is not: the watchdog lives on to bring the fleet back."""
        pane = panes.get(self.config.watchdog_session) if server_running else None
        if self.stopping:
            return False
        if pane is not None and not pane.dead and pane.pid == os.getpid():
            self._in_session = True
        elif not server_running:
            self._in_session = False  # a new server has no session of ours
        elif self._in_session:
            self.record([Event(time.time(), None, "watchdog-session-gone",
                               f"its session {self.config.watchdog_session} was killed: "
                               "stopping (`agents up` starts it again)")])
            self.stop()
            return True
        return False

    def commit(self, decisions: Decisions, config: Config | None = None) -> None:
        """Carry out the decisions (about `config`'s agents: the declared ones and the task
        runs) and save their memory (a failed save is retried on the next pass)."""
        self.wakeups.look_again |= apply.apply_all(self.door, config or self.config,
                                                   decisions, self.record)
        changed = decisions.memory != self.memory
        self.memory = decisions.memory
        now = time.monotonic()
        if changed and only_look_stamps_differ(self._saved, decisions.memory) and \
                now - self._saved_at < STAMP_SAVE_EVERY and "state" not in self._reported:
            return  # each look's stamps alone: written with the next real change, or soon
        if changed or "state" in self._reported:  # retry a failed write
            self._saved, self._saved_at = self.memory, now
            try:
                memorystore.save_memory(self.config, self.memory)
                self.record(memorystore.recovered(self.resolved("state")))
            except OSError as exc:  # e.g. disk full: keep supervising, say so once
                self.report_once("state", "state-write-failed", str(exc))

    # ------------------------------------------------------------------ reporting

    def record(self, events: Sequence[Event]) -> None:
        if self.notifier is not None:
            self.notifier.offer(events)
        for event in events:
            log.info("%s %s: %s", event.agent or "-", event.event, event.reason)
        try:
            eventlog.append(self.config.log_dir, events)
        except OSError as exc:
            eventlog.write_failed(self.config.log_dir, exc)  # once, not per event

    def report_once(self, key: str, kind: str, reason: str) -> bool:
        """Record an error event unless the same one was the last of its key."""
        if self._reported.get(key) == reason:
            return False
        self._reported[key] = reason
        self.record([Event(time.time(), None, kind, reason)])
        return True

    def resolved(self, key: str) -> str | None:
        """Forget the trouble reported under `key`; returns its reason, if there was one."""
        return self._reported.pop(key, None)

    def stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        self.stopping = True
        self.wakeups.waker.wake()


def _debris(config: Config, tmux: Tmux) -> list[Event]:
    """Clean what a killed watchdog left (doors/orphans.py): its verify scratch worktrees
    and its tmux control client; one `debris-removed` event per kind found."""
    remove_stray_temps(rundir.of(config))  # kickoff or launch spec writes cut short
    events = []
    if (ended := orphans.control_orphans(tmux)):
        events.append(Event(time.time(), None, "debris-removed", "ended orphaned tmux "
                            f"control client(s) {', '.join(map(str, ended))}"))
    # A task's gate leaves a scratch folder too, with or without a handoff repo.
    handoff = config.loop.handoff if config.loop is not None else None
    try:
        removed = orphans.verify_debris(gitrelay.Git(handoff.repo) if handoff else None)
    except (gitrelay.GitError, OSError) as exc:
        return [*events, Event(time.time(), None, "git-error",
                               f"cleaning old verify worktrees: {exc}")]
    if removed:
        events.append(Event(time.time(), None, "debris-removed", "removed the verify "
                            f"scratch folder(s) {', '.join(map(str, removed))}"))
    return events


def run(config: Config) -> None:
    """Entry point of `agents watchdog`: lock, then loop until SIGTERM/SIGINT.

    SIGHUP is ignored: when the tmux server is killed the pane holding the watchdog goes
    with it, and the watchdog must live on to bring the fleet back. Raises
    lock.AlreadyRunning when another watchdog holds this config's lock.
    """
    markers.ensure_dirs(config)
    held = lock.acquire_lock(config)
    markers.tidy(config)  # the lock holder alone: stray temp files, loose modes
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    notify.quiet_client_logs()  # httpx at INFO would log each webhook's URL, secret and all
    dog = Watchdog.open(config)
    signal.signal(signal.SIGTERM, dog.stop)
    signal.signal(signal.SIGINT, dog.stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        dog.run()
    finally:
        held.close()
