"""`<log_dir>/events.jsonl`: one JSON object per watchdog decision, appended.

Each line: `{"time": ISO-8601 UTC, "agent": name or null, "event": kind, "reason": text}`.
Lines are written with a single O_APPEND write, so readers never see half a line from us.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent_orchestrator.files import append_private


@dataclass(frozen=True)
class Event:
    """One decision. `time` is epoch seconds; `agent` is None for fleet-wide events."""

    time: float
    agent: str | None
    event: str
    reason: str

    def to_json(self) -> str:
        stamp = datetime.fromtimestamp(self.time, UTC).isoformat(timespec="milliseconds")
        return json.dumps({"time": stamp.replace("+00:00", "Z"), "agent": self.agent,
                           "event": self.event, "reason": self.reason}, ensure_ascii=False)


def events_file(log_dir: Path) -> Path:
    return log_dir / "events.jsonl"


def append(log_dir: Path, events: Iterable[Event]) -> None:
    lines = "".join(e.to_json() + "\n" for e in events)
    if lines:
        append_private(events_file(log_dir), lines.encode("utf-8"))


def read(log_dir: Path) -> Iterator[dict[str, object]]:
    """The recorded events, oldest first; lines that are not JSON objects are skipped."""
    try:
        handle = open(events_file(log_dir), encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record
