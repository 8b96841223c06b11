"""The supervisor loop: snapshot → decide → apply → save memory → append events.

One `list-panes -a` per poll (every `POLL_INTERVAL` s) sees deaths quickly; screens are
captured only on light ticks (`signal_interval`) and only for the panes the rules need.
The config file is re-read when it changes; a broken edit keeps the last good config
running and is reported once.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from agent_orchestrator import config as config_mod
from agent_orchestrator import events, launch, rules, state
from agent_orchestrator.config import Config, ConfigError
from agent_orchestrator.events import Event
from agent_orchestrator.tmux import Tmux, TmuxError

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0


@dataclass
class Watchdog:
    """A running watchdog for one config file. `run()` blocks until stopped."""

    config: Config
    tmux: Tmux
    clock: Callable[[], float] = time.time
    memory: state.FleetMemory = field(default_factory=state.FleetMemory)
    stopping: bool = False
    _config_stamp: tuple[float, int] | None = None
    _last_light: float = 0.0
    _reported_error: str | None = None

    @classmethod
    def open(cls, config: Config) -> Watchdog:
        dog = cls(config=config, tmux=Tmux(config.tmux_socket))
        dog._config_stamp = _stamp(config.path)
        memory, warning = state.load_memory(config)
        dog.memory = memory
        if warning:
            dog.record([Event(dog.clock(), None, "state-rebuilt", warning)])
        return dog

    def record(self, new_events: list[Event] | tuple[Event, ...]) -> None:
        for event in new_events:
            log.info("%s %s: %s", event.agent or "-", event.event, event.reason)
        events.append(self.config.log_dir, new_events)

    def run(self) -> None:
        self.record([Event(self.clock(), None, "watchdog-start",
                           f"watching {len(self.config.agents)} agents")])
        while not self.stopping:
            began = time.monotonic()
            self.tick()
            time.sleep(max(0.05, POLL_INTERVAL - (time.monotonic() - began)))
        self.record([Event(self.clock(), None, "watchdog-stop", "stopped by signal")])

    def tick(self) -> rules.Decisions | None:
        """One pass. Never raises for tmux trouble: it is reported and the next tick retries."""
        self._maybe_reload()
        now = self.clock()
        try:
            snap = self.tmux.snapshot()
        except TmuxError as exc:
            self._report_once("tmux-error", str(exc))
            return None
        observed = rules.Observed(snap.server_running, snap.panes,
                                  stopped=state.stopped_agents(self.config))
        if now - self._last_light >= self.config.watchdog.signal_interval:
            self._last_light = now
            wanted = rules.screens_wanted(self.config, observed)
            observed = rules.Observed(observed.server_running, observed.panes,
                                      self.tmux.capture_many(wanted), observed.stopped)
        decisions = rules.decide(self.config, observed, self.memory, now)
        for action in decisions.actions:
            self._apply(action)
        if decisions.memory != self.memory or decisions.events:
            self.memory = decisions.memory
            state.save_memory(self.config, self.memory)
        self.record(decisions.events)
        return decisions

    def _apply(self, action: rules.Action) -> None:
        agent = self.config.agent(action.agent)
        if agent is None:
            return
        try:
            if isinstance(action, rules.Restart):
                launch.stop(self.tmux, self.config, agent.session)
            plan = launch.plan_agent(self.config, agent, state.phase_index(self.config),
                                     state.resume_id(self.config, agent.name))
            launch.start(self.tmux, self.config, plan)
        except (TmuxError, OSError) as exc:
            self.record([Event(self.clock(), agent.name, "start-failed", str(exc))])

    def _maybe_reload(self) -> None:
        stamp = _stamp(self.config.path)
        if stamp == self._config_stamp:
            return
        self._config_stamp = stamp
        try:
            fresh = config_mod.load(self.config.path)
        except ConfigError as exc:
            self._report_once("config-rejected", f"keeping the last good config: {exc}")
            return
        if fresh != self.config:
            self.config = fresh
            self._reported_error = None
            self.record([Event(self.clock(), None, "config-reloaded", f"digest {fresh.digest}")])

    def _report_once(self, kind: str, reason: str) -> None:
        if reason != self._reported_error:
            self._reported_error = reason
            self.record([Event(self.clock(), None, kind, reason)])

    def stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True


def _stamp(path: Path) -> tuple[float, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime, info.st_size


def run(config: Config) -> None:
    """Entry point of `agents watchdog`: lock, then loop until SIGTERM/SIGINT/SIGHUP.

    Raises state.AlreadyRunning when another watchdog holds this config's lock.
    """
    state.ensure_dirs(config)
    lock = state.acquire_lock(config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    dog = Watchdog.open(config)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, dog.stop)
    try:
        dog.run()
    finally:
        lock.close()
