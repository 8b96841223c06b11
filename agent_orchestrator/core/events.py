"""Event: one decision of the watchdog or action of the operator, and its JSON line
(doors/eventlog.py appends them); KINDS names every kind the code records."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from agent_orchestrator.config.schema import NAME_RE
from agent_orchestrator.core.redact import redact

# Every `event` value the code records, each explained in README's "Events" table
# (tests/test_events.py checks both ways: the README against this, the code's emitting
# calls against this).
KINDS = frozenset({
    # the watchdog: agents' runs
    "start", "restart", "adopt", "stall-reboot", "backoff", "backoff-cleared", "crash-loop",
    "crash-loop-cleared", "throttled", "fleet-degraded", "fleet-recovered", "clock-clamped",
    # what the agents show or say
    "limit", "limit-nudge", "limit-over", "limit-waiting", "limit-suspicious", "dialog",
    "wake", "turn-finished", "signal-disagrees",
    # texts typed in
    "send", "send-typing", "send-delivered", "delivery-failed", "delivery-deferred",
    "action-failed",
    # the loop
    "handoff-ping", "handoff-unrouted", "verify", "verify-done", "verify-failed",
    "phase-advance", "phase-changed", "phase-resumed", "phase-set", "sequence-complete",
    "phase-file-corrupt", "phase-file-recovered", "status-file-unreadable",
    # the config
    "config-reloaded", "config-rejected", "config-pending", "config-recovered",
    "config-warning", "config-gone", "added", "changed", "removed",
    # the watchdog itself and its world
    "watchdog-start", "watchdog-stop", "watchdog-session-gone", "tmux-server-gone",
    "tmux-error", "git-error",
    "state-rebuilt", "state-write-failed", "state-write-recovered", "notify-failed",
    "log-write-failed", "debris-removed", "fd-limit",
    "host-unreachable", "host-reachable",
    # the operator's verbs (also `restart` and `send`)
    "up", "down",
    # one-shot tasks (runtime/tasks.py; the operator's submit, cancel, retry) and worktrees
    "task-submitted", "task-cancelled", "task-retried", "task-started", "task-worktree",
    "task-adopted", "task-finished", "task-exited", "task-done", "task-retry",
    "task-failed", "task-dialog", "task-error", "worktree-failed",
})


@dataclass(frozen=True)
class Event:
    """One decision. `time` is epoch seconds; `agent` is None for fleet-wide events."""

    time: float
    agent: str | None
    event: str
    reason: str

    def to_json(self) -> str:
        stamp = datetime.fromtimestamp(self.time, UTC).isoformat(timespec="milliseconds")
        return json.dumps({"time": stamp.replace("+00:00", "Z"), "agent": _agent(self.agent),
                           "event": self.event, "reason": redact(self.reason)},
                          ensure_ascii=False)


def _agent(name: str | None) -> str | None:
    """`name` if it is a valid agent name (as the config checks them), else a valid name made
    of it (never raises: the watchdog must be able to record whatever happens)."""
    if name is None or NAME_RE.fullmatch(name):  # not match: `$` lets "a\n" through
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", redact(name))[:63]
    return "x" + cleaned if not cleaned[:1].isalnum() else cleaned[:64]
