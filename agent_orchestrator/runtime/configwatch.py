"""Following edits of the config file while the fleet runs, and saying whether it is in force.

The config is re-read on change (its content, mode or owner): a valid edit is applied as a
diff (core/reload.py; an edit removing agents only once the file has settled, so a
half-written file stops nobody), an invalid one keeps the last good config running, is
reported once (`config-rejected`: FILE:LINE, column for syntax errors, and the content's
digest), shows as `config: stale` in `agents status` until it is fixed (the health file),
and its fix is reported (`config-recovered`). Warnings of a valid config (a group-writable
prompt file) are recorded once each (`config-warning`). A config file gone for good (the
project was deleted) stops the watchdog.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Config, ConfigError
from agent_orchestrator.core import reload
from agent_orchestrator.core.decisions import Decisions, Stop
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.memory import FleetMemory
from agent_orchestrator.core.observed import Now, Observed
from agent_orchestrator.doors import markers
from agent_orchestrator.doors.crashpoints import crash_point
from agent_orchestrator.doors.files import write_atomic
from agent_orchestrator.doors.tmux import Tmux, TmuxError
from agent_orchestrator.runtime import apply, observe
from agent_orchestrator.runtime.observe import Reporter

CONFIG_GONE_EXIT = 30.0  # a config file missing this long means the project is gone


class Host(Reporter, Protocol):
    """The watchdog, as a reload sees it."""

    config: Config
    memory: FleetMemory
    tmux: Tmux

    @property
    def door(self) -> apply.Door: ...

    def commit(self, decisions: Decisions) -> None:
        """Carry out the decisions under `config` and keep their memory."""

    def stop(self) -> None: ...


def apply_edit(door: apply.Door, old: Config, fresh: Config, observed: Observed,
               memory: FleetMemory, now: Now, record: apply.Record) -> Decisions:
    """Carry out the stops of an edit (`reload.diff`) under the OLD config: the sessions of
    removed agents are known only to it. Returns the whole diff; what is left to do is
    `rest(...)`, for the caller to commit under the fresh config."""
    decisions = reload.diff(old, fresh, observed, memory, now)
    for action in decisions.actions:
        if isinstance(action, Stop):
            apply.apply_one(door, old, action, record)
    crash_point("config-applied")  # test-only (crashpoints.py)
    return decisions


def rest(decisions: Decisions) -> Decisions:
    """The decisions of an edit without its stops (`apply_edit` carried them out)."""
    return Decisions(decisions.memory,
                     tuple(a for a in decisions.actions if not isinstance(a, Stop)),
                     decisions.events)


@dataclass
class ConfigWatch:
    """What the watchdog knows of its config file between passes."""

    stamp: tuple[int, ...] | None = None  # of the file last read
    held: reload.Held | None = None  # an edit removing agents, waiting for the file to settle
    warned: frozenset[str] = frozenset()  # config warnings already recorded
    missing_since: float | None = None

    def due(self) -> float | None:
        """When a held removal may apply (the file must be read again then)."""
        return self.held.due if self.held is not None else None

    def reload(self, host: Host) -> None:
        """Apply an edit of the config file, if there is one to apply."""
        stamp = file_stamp(host.config.path)
        if stamp is None:  # an editor's rename takes milliseconds; a deleted project stays
            now = time.monotonic()
            self.missing_since = self.missing_since or now
            if now - self.missing_since > CONFIG_GONE_EXIT:
                host.record([Event(time.time(), None, "config-gone",
                                   f"{host.config.path} is gone: stopping the watchdog")])
                host.stop()
            return
        self.missing_since = None
        mono = time.monotonic()
        if stamp == self.stamp and (self.held is None or mono < self.held.due):
            return
        self.stamp = stamp
        try:
            fresh = config_mod.load(host.config.path)
        except ConfigError as exc:
            self.held = None
            # The same broken content is one event however often it is read; another
            # broken content is another event (its digest differs).
            content = f" (rejected content {exc.digest})" if exc.digest else ""
            if host.report_once("config", "config-rejected", f"keeping the last good config "
                                f"({host.config.digest}): {exc}{content}"):
                write_health(host.config, str(exc))
            return
        if host.resolved("config") is not None:
            host.record([Event(time.time(), None, "config-recovered",
                               f"the config file is valid again (digest {fresh.digest})")])
        self.warn(fresh, host)
        if fresh == host.config:  # same meaning (a comment, a save without change)
            self.held = None
            host.config = fresh
            write_health(host.config, None)
            return
        held = reload.hold(host.config, fresh, self.held, mono)
        if held is not None:
            if self.held is None or self.held.digest != held.digest:
                host.record([Event(time.time(), None, "config-pending",
                                   f"the edit removes {', '.join(held.removed)}: applied once "
                                   f"the file has stayed the same for "
                                   f"{reload.REMOVAL_SETTLE:g}s (a half-written file must "
                                   f"not stop agents)")])
            self.held = held
            return
        try:
            snap = host.tmux.snapshot()
        except TmuxError as exc:
            host.report_once("tmux", "tmux-error", str(exc))
            self.stamp = None  # try the reload again next tick (a settled hold stays)
            return
        self.held = None
        observed = Observed(snap.server_running, snap.panes,
                            stopped=markers.stopped_agents(fresh))
        decisions = apply_edit(host.door, host.config, fresh, observed, host.memory,
                               observe.clock(), host.record)
        host.config = fresh
        host.commit(rest(decisions))
        host.record([Event(time.time(), None, "config-reloaded", f"digest {fresh.digest}")])
        write_health(host.config, None)

    def warn(self, config: Config, report: Reporter) -> None:
        """Record each warning of the config once (again only after it went away)."""
        for warning in config.warnings:
            if warning not in self.warned:
                report.record([Event(time.time(), None, "config-warning", warning)])
        self.warned = frozenset(config.warnings)


def write_health(config: Config, error: str | None) -> None:
    """Say whether the file on disk is in force; keep a copy of the last good one so
    `agents status` can still show the fleet while the file is broken."""
    body = {"ok": error is None, "since": time.time(), "error": error,
            "digest": config.digest}
    with contextlib.suppress(OSError):
        write_atomic(markers.health_file(config), json.dumps(body).encode())
        if error is None:  # the bytes in force, not whatever the file holds by now
            write_atomic(markers.last_good_file(config.state_dir),
                         config.source or config.path.read_bytes())


def file_stamp(path: Path) -> tuple[int, ...] | None:
    """What tells a changed config file: content (mtime, size, inode: editors save by
    rename) and trust (mode, owner: a chmod o+w must be noticed). ctime covers all of them
    at a coarser clock."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino, info.st_ctime_ns, info.st_mode,
            info.st_uid)
