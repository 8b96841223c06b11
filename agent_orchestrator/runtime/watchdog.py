"""The supervisor loop: wait for a reason → snapshot → decide → apply → save → record.

Reasons to wake (all funnel into one `poll()`):
- a watched agent's process exited: a pidfd per live pane (the pane's pid is the agent,
  boot.py execs it) — well under a millisecond;
- a session or window closed, or the tmux server went away: a tmux control-mode client
  (`tmux.ControlClient`) — a few milliseconds;
- the config file changed: watchfiles, watching the config's FOLDER (editors save by rename);
- the light-tick timer (`signal_interval`): screens are read only then.
Without a control client (no session to attach to yet) the loop also polls every second.

The config is re-read on change (its content, mode or owner): a valid edit is applied as a
diff (reload.py; an edit removing agents only once the file has settled, so a half-written
file stops nobody), an invalid one keeps the last good config running, is reported once
(`config-rejected`: FILE:LINE, column for syntax errors, and the content's digest), shows as
`config: stale` in `agents status` until it is fixed, and its fix is reported
(`config-recovered`). Warnings of a valid config (a group-writable prompt file) are recorded
once each (`config-warning`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import FrameType

import watchfiles

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Agent, Config, ConfigError, filetrust
from agent_orchestrator.core import phases, reload, rules, screenrules
from agent_orchestrator.core.decisions import (
    Action,
    CompleteSequence,
    Restart,
    SetPhase,
    Start,
    Stop,
    Type,
)
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.handoff import VerifyResult
from agent_orchestrator.core.memory import FleetMemory
from agent_orchestrator.core.observed import LoopSeen, Now, Observed, Snapshot
from agent_orchestrator.doors import eventlog, gitrelay, state
from agent_orchestrator.doors.crashpoints import crash_point
from agent_orchestrator.doors.files import write_atomic
from agent_orchestrator.doors.tmux import ControlClient, Tmux, TmuxError
from agent_orchestrator.runtime import delivery, launch

log = logging.getLogger(__name__)

VERIFY_TIMEOUT = 600.0  # seconds each verify command may run
FALLBACK_POLL = 1.0  # seconds between snapshots when no control client is attached
CONFIG_GONE_EXIT = 30.0  # a config file missing this long means the project is gone


class Waker:
    """Wake the loop from other threads; wait on that and on pidfds in one `poll()`."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._write, b"x")

    def wait(self, timeout: float, fds: list[int]) -> None:
        poller = select.poll()
        for fd in [self._read, *fds]:
            poller.register(fd, select.POLLIN)
        poller.poll(max(timeout, 0) * 1000)
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 4096):
                pass


@dataclass
class Watchdog:
    """A running watchdog for one config file. `run()` blocks until `stop()`."""

    config: Config
    tmux: Tmux
    memory: FleetMemory = field(default_factory=FleetMemory)
    stopping: bool = False
    waker: Waker = field(default_factory=Waker)
    _config_stamp: tuple[int, ...] | None = None
    _held: reload.Held | None = None  # an edit removing agents, waiting for the file to settle
    _warned: frozenset[str] = frozenset()  # config warnings already recorded
    _last_light: float = float("-inf")
    _last_heavy: float = float("-inf")
    _verified: dict[tuple[str, tuple[str, ...]], VerifyResult] = field(
        default_factory=dict)
    _reported: dict[str, str] = field(default_factory=dict)
    _pidfds: dict[int, int] = field(default_factory=dict)  # pane pid → pidfd
    _control: ControlClient | None = None
    # Take another snapshot soon: a session was just started (its pid is not watched yet),
    # or a pane's process was gone before its pidfd could be opened.
    _look_again: bool = False
    _config_missing_since: float | None = None

    @classmethod
    def open(cls, config: Config) -> Watchdog:
        dog = cls(config=config, tmux=Tmux(config.tmux_socket).checked())  # refuse unsafe dir
        dog._config_stamp = _stamp(config.path)
        dog.memory, warning = state.load_memory(config)
        if warning:
            dog.record([Event(time.time(), None, "state-rebuilt", warning)])
        dog._warn(config)
        dog._write_health(None)
        return dog

    # ------------------------------------------------------------------ the loop

    def run(self) -> None:
        self.record([Event(time.time(), None, "watchdog-start",
                           f"pid {os.getpid()}, watching {len(self.config.agents)} agents")])
        stop_watching = threading.Event()
        watcher = threading.Thread(target=self._watch_config, args=(stop_watching,),
                                   name="config-watch", daemon=True)
        watcher.start()
        try:
            while not self.stopping:
                self.tick()
                self._wait()
        finally:
            stop_watching.set()
            self.close()
            self.record([Event(time.time(), None, "watchdog-stop", "stopped")])

    def close(self) -> None:
        """Let go of the control client and the agents' pidfds (the lock stays held)."""
        if self._control is not None:
            self._control.close()
            self._control = None
        for fd in self._pidfds.values():
            os.close(fd)
        self._pidfds.clear()

    def _wait(self) -> None:
        now = time.monotonic()
        timeouts = [self._last_light + self.config.watchdog.signal_interval - now]
        if (due := rules.next_deadline(self.memory)) is not None:
            timeouts.append(due - now)
        if self._held is not None:  # read the file again when a held removal may apply
            timeouts.append(self._held.due - now)
        if not self._control_alive() or self._look_again:
            timeouts.append(FALLBACK_POLL if not self._look_again else 0.05)
        self._look_again = False
        self.waker.wait(min(timeouts), list(self._pidfds.values()))

    def tick(self) -> rules.Decisions | None:
        """One pass. Never raises for tmux trouble: it is reported and the next tick retries."""
        self._maybe_reload()
        now = _now()
        try:
            snap = self.tmux.snapshot()
        except TmuxError as exc:
            self._report_once("tmux", "tmux-error", str(exc))
            return None
        self._reported.pop("tmux", None)
        stopped = state.stopped_agents(self.config)
        light = now.mono - self._last_light >= self.config.watchdog.signal_interval
        heavy = now.mono - self._last_heavy >= self.config.watchdog.heavy_interval
        if heavy:
            self._last_heavy = now.mono
        observed = Observed(snap.server_running, snap.panes, stopped=stopped,
                            operator_starts=state.operator_starts(self.config),
                            log_written=self._log_times(snap),
                            loop=self._observe_loop(light, heavy))
        if light:
            self._last_light = now.mono
            agents = rules.watched(self.config, stopped)
            wanted = screenrules.screens_wanted(self.config, observed, self.memory, agents)
            observed = replace(observed, screens=self.tmux.capture_many(wanted))
        decisions = rules.decide(self.config, observed, self.memory, now)
        self._commit(decisions)
        self._follow(snap)
        return decisions

    def _commit(self, decisions: rules.Decisions) -> None:
        self.record(decisions.events)  # the decision first, then any failure to carry it out
        for action in decisions.actions:
            self._apply(action)
            self._look_again |= isinstance(action, Start | Restart)
        if decisions.memory != self.memory or "state" in self._reported:  # retry failed
            self.memory = decisions.memory
            try:
                state.save_memory(self.config, self.memory)
                self.record(state.recovered(self._reported.pop("state", None)))
            except OSError as exc:  # e.g. disk full: keep supervising, say so once
                self._report_once("state", "state-write-failed", str(exc))

    # ------------------------------------------------------------------ actions

    def _apply(self, action: Action) -> None:
        if isinstance(action, SetPhase | CompleteSequence):
            self._apply_loop(action)
            return
        agent = self.config.agent(action.agent)
        session = action.session if isinstance(action, Stop) and action.session else \
            (agent.session if agent else None)
        if session is None:
            return
        try:
            if isinstance(action, Stop | Restart):
                launch.stop(self.tmux, self.config, session)
                crash_point("restart-killed")  # test-only (crashpoints.py)
            if isinstance(action, Start | Restart) and agent is not None:
                plan = launch.plan_agent(self.config, agent, state.phase_index(self.config),
                                         state.resume_id(self.config, agent.name))
                launch.start(self.tmux, self.config, plan,
                             swept=isinstance(action, Restart))
                crash_point("session-created")  # test-only (crashpoints.py)
            if isinstance(action, Type) and agent is not None:
                self._type(agent, session, action)
        except (TmuxError, OSError, filetrust.Untrusted) as exc:
            self.record([Event(time.time(), action.agent, "action-failed",
                               f"{type(action).__name__.lower()}: {exc}")])

    def _apply_loop(self, action: SetPhase | CompleteSequence) -> None:
        try:
            if isinstance(action, SetPhase):
                state.write_phase_index(self.config, action.index)
                return
            marker = self.config.log_dir / "SEQUENCE-COMPLETE"
            if not marker.exists():
                write_atomic(marker, f"{action.reason}\n".encode())
            loop = self.config.loop
            if loop is not None and loop.on_complete is not None:  # paths: project root
                (self.config.project_dir / loop.on_complete.trigger_file).unlink(
                    missing_ok=True)
        except OSError as exc:
            self.record([Event(time.time(), None, "action-failed", f"{action.reason}: {exc}")])

    def _observe_loop(self, light: bool, heavy: bool) -> LoopSeen | None:
        """The loop's phase every tick; on light ticks the pings relayed from origin/main;
        on heavy ticks whether the phase is DONE and, if it has gates, their result at that
        commit (run once per commit: they may take minutes)."""
        loop = self.config.loop
        if loop is None or not loop.phases:
            return None
        read = state.read_phase(self.config, self.memory.loop.phase)
        seen = LoopSeen(read.index, phase_problem=read.problem)
        handoff = loop.handoff
        if handoff is None:
            if heavy:
                seen = replace(seen, done_checked=True)
                status = self.config.project_dir / loop.phases[seen.phase_index].status
                with contextlib.suppress(OSError):
                    if phases.is_done(status.read_text(encoding="utf-8"), loop.done_marker):
                        seen = replace(seen, done_sha="working-tree")
            return seen
        git = gitrelay.Git(handoff.repo)
        try:
            if light or heavy:
                relayed = gitrelay.poll(git, handoff, self.memory.loop.seen_sha)
                seen = replace(seen, head=relayed.last_seen, pings=tuple(relayed.pings))
            if heavy and seen.head:
                seen = replace(seen, done_checked=True)
                if gitrelay.phase_done(git, handoff, loop.phases[seen.phase_index].status,
                                     loop.done_marker):
                    seen = replace(seen, done_sha=seen.head, verify=self._verify(git, seen))
            self._reported.pop("git", None)
        except gitrelay.GitError as exc:
            self._report_once("git", "git-error", str(exc))
        return seen

    def _verify(self, git: gitrelay.Git, seen: LoopSeen) -> VerifyResult | None:
        loop = self.config.loop
        assert loop is not None and seen.head is not None
        commands = loop.phases[seen.phase_index].verify
        if not commands:
            return None
        key = (seen.head, commands)
        if key not in self._verified:
            self.record([Event(time.time(), None, "verify", f"running {len(commands)} gate(s) "
                               f"at {seen.head[:12]}")])
            self._verified = {key: git.run_at(seen.head, commands, VERIFY_TIMEOUT)}
        return self._verified[key]

    def _type(self, agent: Agent, session: str, action: Type) -> None:
        if action.text is not None:
            text = action.text
        elif action.file is not None:  # a wake file: whitespace collapsed to one line
            # Judged again as it is read: it may have changed hands since the config loaded.
            try:
                text = " ".join(filetrust.read_text(action.file).split())
            except filetrust.Untrusted as exc:
                self.record([Event(time.time(), agent.name, "delivery-failed",
                                   f"{action.reason}: not typed: {exc}")])
                return
        else:
            return
        backend = self.config.backend(agent.backend)
        result = delivery.deliver(self.tmux, session, text, backend.submit_key,
                                  dialog_re=backend.prompt_re, active_re=backend.active_re)
        if not result.delivered:
            self.record([Event(time.time(), agent.name, "delivery-failed",
                               f"{action.reason}: {result.detail}")])

    # ------------------------------------------------------------------ wake-up sources

    def _follow(self, snap: Snapshot) -> None:
        """Keep a pidfd on every live watched pane and a control client attached."""
        live = {p.pid for p in snap.panes.values() if not p.dead and p.pid > 0} \
            if snap.server_running else set()
        watched_sessions = {a.session for a in rules.watched(self.config, frozenset())}
        wanted = {p.pid for s, p in snap.panes.items() if p.pid in live and s in
                  watched_sessions}
        for pid in set(self._pidfds) - wanted:
            os.close(self._pidfds.pop(pid))
        for pid in wanted - set(self._pidfds):
            try:
                self._pidfds[pid] = os.pidfd_open(pid)
            except ProcessLookupError:  # died between the snapshot and now
                self._look_again = True
            except (OSError, AttributeError):  # no pidfd support: the fallback poll remains
                pass
        if not self._control_alive() and snap.server_running and snap.panes:
            target = self.config.watchdog_session if self.config.watchdog_session in \
                snap.panes else next(iter(snap.panes))
            if self._control is not None:
                self._control.close()
            self._control = ControlClient(self.tmux, target, self.waker.wake)

    def _control_alive(self) -> bool:
        return self._control is not None and self._control.alive

    def _watch_config(self, stop: threading.Event) -> None:
        name = self.config.path.name
        try:
            for _ in watchfiles.watch(self.config.path.parent, debounce=100, step=10,
                                      recursive=False, stop_event=stop,
                                      watch_filter=lambda _c, p: Path(p).name == name):
                self.waker.wake()
        except Exception as exc:  # noqa: BLE001 - the loop still re-reads on every tick
            log.warning("config watcher stopped: %s", exc)

    def _log_times(self, snap: Snapshot) -> dict[str, float]:
        """Session log mtimes of `footer_ui` agents (a written log counts as activity)."""
        times = {}
        for agent in self.config.agents:
            if self.config.backend(agent.backend).footer_ui and agent.session in snap.panes:
                with contextlib.suppress(OSError):
                    times[agent.session] = launch.log_file(self.config,
                                                           agent.session).stat().st_mtime
        return times

    # ------------------------------------------------------------------ config reload

    def _maybe_reload(self) -> None:
        stamp = _stamp(self.config.path)
        if stamp is None:  # an editor's rename takes milliseconds; a deleted project stays
            now = time.monotonic()
            self._config_missing_since = self._config_missing_since or now
            if now - self._config_missing_since > CONFIG_GONE_EXIT:
                self.record([Event(time.time(), None, "config-gone",
                                   f"{self.config.path} is gone: stopping the watchdog")])
                self.stop()
            return
        self._config_missing_since = None
        mono = time.monotonic()
        if stamp == self._config_stamp and (self._held is None or mono < self._held.due):
            return
        self._config_stamp = stamp
        try:
            fresh = config_mod.load(self.config.path)
        except ConfigError as exc:
            self._held = None
            # The same broken content is one event however often it is read; another
            # broken content is another event (its digest differs).
            content = f" (rejected content {exc.digest})" if exc.digest else ""
            if self._report_once("config", "config-rejected", f"keeping the last good config "
                                 f"({self.config.digest}): {exc}{content}"):
                self._write_health(str(exc))
            return
        if self._reported.pop("config", None) is not None:
            self.record([Event(time.time(), None, "config-recovered",
                               f"the config file is valid again (digest {fresh.digest})")])
        self._warn(fresh)
        if fresh == self.config:  # same meaning (a comment, a save without change)
            self._held = None
            self.config = fresh
            self._write_health(None)
            return
        held = reload.hold(self.config, fresh, self._held, mono)
        if held is not None:
            if self._held is None or self._held.digest != held.digest:
                self.record([Event(time.time(), None, "config-pending",
                                   f"the edit removes {', '.join(held.removed)}: applied once "
                                   f"the file has stayed the same for "
                                   f"{reload.REMOVAL_SETTLE:g}s (a half-written file must "
                                   f"not stop agents)")])
            self._held = held
            return
        try:
            snap = self.tmux.snapshot()
        except TmuxError as exc:
            self._report_once("tmux", "tmux-error", str(exc))
            self._config_stamp = None  # try the reload again next tick (a settled hold stays)
            return
        self._held = None
        observed = Observed(snap.server_running, snap.panes,
                            stopped=state.stopped_agents(fresh))
        decisions = reload.diff(self.config, fresh, observed, self.memory, _now())
        stops = [a for a in decisions.actions if isinstance(a, Stop)]
        for action in stops:  # sessions of removed agents are only known to the old config
            self._apply(action)
        crash_point("config-applied")  # test-only (crashpoints.py)
        self.config = fresh
        self._commit(rules.Decisions(decisions.memory,
                                     tuple(a for a in decisions.actions if a not in stops),
                                     decisions.events))
        self.record([Event(time.time(), None, "config-reloaded", f"digest {fresh.digest}")])
        self._write_health(None)

    def _warn(self, config: Config) -> None:
        """Record each warning of the config once (again only after it went away)."""
        for warning in config.warnings:
            if warning not in self._warned:
                self.record([Event(time.time(), None, "config-warning", warning)])
        self._warned = frozenset(config.warnings)

    def _write_health(self, error: str | None) -> None:
        """Say whether the file on disk is in force; keep a copy of the last good one so
        `agents status` can still show the fleet while the file is broken."""
        body = {"ok": error is None, "since": time.time(), "error": error,
                "digest": self.config.digest}
        with contextlib.suppress(OSError):
            write_atomic(state.health_file(self.config), json.dumps(body).encode())
            if error is None:  # the bytes in force, not whatever the file holds by now
                write_atomic(state.last_good_file(self.config.state_dir),
                             self.config.source or self.config.path.read_bytes())

    # ------------------------------------------------------------------ reporting

    def record(self, new_events: list[Event] | tuple[Event, ...]) -> None:
        for event in new_events:
            log.info("%s %s: %s", event.agent or "-", event.event, event.reason)
        try:
            eventlog.append(self.config.log_dir, new_events)
        except OSError as exc:
            eventlog.write_failed(self.config.log_dir, exc)  # once, not per event

    def _report_once(self, key: str, kind: str, reason: str) -> bool:
        """Record an error event unless the same one was the last of its key."""
        if self._reported.get(key) == reason:
            return False
        self._reported[key] = reason
        self.record([Event(time.time(), None, kind, reason)])
        return True

    def stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        self.stopping = True
        self.waker.wake()


def _now() -> Now:
    local = datetime.now().astimezone().tzinfo
    assert local is not None  # astimezone() always sets one
    return Now(time.monotonic(), time.time(), local)


def _stamp(path: Path) -> tuple[int, ...] | None:
    """What tells a changed config file: content (mtime, size, inode: editors save by
    rename) and trust (mode, owner: a chmod o+w must be noticed). ctime covers all of them
    at a coarser clock."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino, info.st_ctime_ns, info.st_mode,
            info.st_uid)


def run(config: Config) -> None:
    """Entry point of `agents watchdog`: lock, then loop until SIGTERM/SIGINT.

    SIGHUP is ignored: when the tmux server is killed the pane holding the watchdog goes
    with it, and the watchdog must live on to bring the fleet back. Raises
    state.AlreadyRunning when another watchdog holds this config's lock.
    """
    state.ensure_dirs(config)
    lock = state.acquire_lock(config)
    state.tidy(config)  # the lock holder alone: stray temp files, loose modes
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    dog = Watchdog.open(config)
    signal.signal(signal.SIGTERM, dog.stop)
    signal.signal(signal.SIGINT, dog.stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        dog.run()
    finally:
        lock.close()

