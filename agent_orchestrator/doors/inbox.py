"""Texts queued for an agent's next idle moment: `state/inbox/<agent>/<seq>[-<kind>].txt`,
private.

`agents send NAME TEXT --when-idle` writes one file per text (atomically: the watchdog never
reads half of one); the watchdog reads the oldest of each agent (`oldest`), has it typed
when the agent is judged idle, and removes it only once the typing was seen to land
(`remove`), so a text survives a watchdog restart, a failed delivery or a crash. `seq` is
the enqueue time in nanoseconds and the writer's pid: names sort in the order sent. `kind`
is the watchdog's reason for a text of its own (`handoff`, `verifyfailed`; an operator's
has none), so a phase change can drop what it made stale (`drop`).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

from agent_orchestrator.config.schema import NAME_RE
from agent_orchestrator.core.observed import Queued
from agent_orchestrator.doors.files import write_atomic

MAX_BYTES = 64 * 1024  # the longest text queued; `agents send` refuses a longer one
# Not a writer's temp file (files.write_atomic).
_ENTRY_RE = re.compile(r"^\d{20}-\d+(?:-(?P<kind>[a-z]+))?\.txt$")


def inbox_dir(state_dir: Path, agent: str) -> Path:
    if not NAME_RE.fullmatch(agent):
        raise ValueError(f"not an agent name: {agent!r}")
    return state_dir / "inbox" / agent


def kind_of(reason: str) -> str:
    """The file-name kind of a reason (its letters): "verify failed" → "verifyfailed"."""
    return re.sub(r"[^a-z]", "", reason.lower())


def enqueue(state_dir: Path, agent: str, text: str, reason: str = "") -> Queued:
    """Queue `text` for `agent` (`reason`: the watchdog's, for a text of its own); returns
    it with its id (the file's name)."""
    data = text.encode("utf-8", "surrogateescape")
    if len(data) > MAX_BYTES:
        raise ValueError(f"the text is {len(data)} bytes; at most {MAX_BYTES} can be queued")
    kind = kind_of(reason)
    name = f"{time.time_ns():020d}-{os.getpid()}{'-' + kind if kind else ''}.txt"
    write_atomic(inbox_dir(state_dir, agent) / name, data)
    return Queued(name, text)


def queued(state_dir: Path, agent: str) -> list[str]:
    """The ids of the agent's queued texts, oldest first."""
    try:
        names = os.listdir(inbox_dir(state_dir, agent))
    except OSError:
        return []
    return sorted(n for n in names if _ENTRY_RE.fullmatch(n))


def oldest(state_dir: Path, agent: str) -> Queued | None:
    """The agent's oldest queued text; None when there is none (an unreadable or oversized
    file is skipped: it is not one `agents send` wrote)."""
    for name in queued(state_dir, agent):
        with contextlib.suppress(OSError):
            with open(inbox_dir(state_dir, agent) / name, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
            if len(data) <= MAX_BYTES:
                return Queued(name, data.decode("utf-8", "replace"))
    return None


def remove(state_dir: Path, agent: str, queued_id: str) -> None:
    """Forget a text once it was delivered."""
    if _ENTRY_RE.fullmatch(queued_id):
        (inbox_dir(state_dir, agent) / queued_id).unlink(missing_ok=True)


def drop(state_dir: Path, agent: str, reasons: tuple[str, ...]) -> int:
    """Forget the agent's queued texts of those (watchdog) reasons; how many went. An
    operator's text has no reason and is never dropped."""
    kinds, dropped = {kind_of(r) for r in reasons} - {""}, 0
    for name in queued(state_dir, agent):
        match = _ENTRY_RE.fullmatch(name)
        if match is not None and match["kind"] in kinds:
            with contextlib.suppress(FileNotFoundError):
                (inbox_dir(state_dir, agent) / name).unlink()
                dropped += 1
    return dropped
