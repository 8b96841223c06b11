"""Event: one decision of the watchdog, and its JSON line (doors/eventlog.py appends them)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from agent_orchestrator.config.schema import NAME_RE
from agent_orchestrator.core.redact import redact


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
