"""`<log_dir>/events.jsonl`: one JSON object per watchdog decision, appended.

Each line: `{"time": ISO-8601 UTC, "agent": name or null, "event": kind, "reason": text}`.
Reasons go through `redact` (they quote screens and errors); `agent` is always null or a
valid name. Lines are written with O_APPEND writes of whole lines, so readers never see half a
line from us.

The file is rotated by size: when an append would take it past `max_bytes`, `events.jsonl.N`
becomes `.N+1` (the oldest, `.keep`, is overwritten), `events.jsonl` becomes `.1` and a fresh
file is started. Several processes may append at once: the one that rotates holds an `flock`
on the file it renames and checks, once it has the lock, that nobody rotated it first, so one
full file is rotated once. A writer that had the file open just before it was renamed
finishes its line in `.1` (hence "one event" of slack over `max_bytes`).

When appending fails (full disk, read-only or vanished folder) the events are dropped, never
queued in memory (only counted): the caller reports it through `write_failed`, which warns
ONCE until an append to that folder works again (a full disk must not become a warning per
event), and the first append that works again starts with ONE `log-write-failed` event
saying how many were dropped, since when and why.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent_orchestrator.core.events import Event
from agent_orchestrator.doors.files import open_private, private_dir
from agent_orchestrator.doors.follow import Lines, tail_bytes
from agent_orchestrator.doors.follow import follow as follow_file

MAX_BYTES = 5_000_000
KEEP = 5

log = logging.getLogger(__name__)


@dataclass
class _Failing:
    """A run of failed appends to one log dir: the first error, since when, how many."""

    error: str
    since: float
    dropped: int = 0
    warned: bool = False


_failing: dict[Path, _Failing] = {}  # log dirs whose last append failed


def events_file(log_dir: Path) -> Path:
    return log_dir / "events.jsonl"


def rotated_files(log_dir: Path) -> list[Path]:
    """`events.jsonl.N` files present, oldest (highest N) first."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(log_dir):
            suffix = entry.name.removeprefix("events.jsonl.")
            if suffix != entry.name and suffix.isdigit() and suffix[0] != "0":
                found.append((int(suffix), Path(entry.path)))
    return [path for _, path in sorted(found, reverse=True)]


def append(log_dir: Path, events: Iterable[Event], max_bytes: int = MAX_BYTES,
           keep: int = KEEP) -> None:
    """Append `events`, rotating first when the file would grow past `max_bytes`."""
    events = list(events)
    if not events:
        return
    failing = _failing.get(log_dir)
    if failing is not None:  # the news of the dropped ones goes first
        events.insert(0, Event(time.time(), None, "log-write-failed", (
            f"{failing.dropped} event(s) could not be written to {events_file(log_dir)} "
            f"since {datetime.fromtimestamp(failing.since, UTC):%Y-%m-%dT%H:%M:%SZ}: "
            f"{failing.error}; they were dropped")))
    lines = [(e.to_json() + "\n").encode("utf-8") for e in events]
    path = events_file(log_dir)
    try:
        _append_lines(log_dir, path, lines, max_bytes, keep)
    except OSError as exc:
        now = _failing.setdefault(log_dir, _Failing(str(exc), time.time()))
        now.dropped += len(events) - (failing is not None)
        raise
    if failing is not None:
        del _failing[log_dir]
        log.info("events: writing %s works again", path)


def _append_lines(log_dir: Path, path: Path, lines: list[bytes], max_bytes: int,
                  keep: int) -> None:
    private_dir(log_dir)
    fd = _open(path)
    try:
        for batch in _batches(lines, max_bytes):
            size = os.fstat(fd).st_size
            if size > 0 and size + len(batch) > max_bytes:
                fd = _rotate(path, fd, len(batch), max_bytes, keep)
            _write_all(fd, batch)
    finally:
        os.close(fd)


def write_failed(log_dir: Path, error: OSError) -> None:
    """Warn that events cannot be written to `log_dir`, once until an append works again."""
    failing = _failing.setdefault(log_dir, _Failing(str(error), time.time()))
    if failing.warned:
        return
    failing.warned = True
    log.warning("cannot write events to %s: %s (dropping events, not keeping them in "
                "memory; said once until writing works again)", events_file(log_dir), error)


def _open(path: Path) -> int:
    return open_private(path, os.O_WRONLY | os.O_APPEND)  # never through a planted symlink


def _batches(lines: list[bytes], max_bytes: int) -> Iterator[bytes]:
    """Runs of whole lines, each at most `max_bytes` unless one line alone is longer."""
    batch = b""
    for line in lines:
        if batch and len(batch) + len(line) > max_bytes:
            yield batch
            batch = b""
        batch += line
    if batch:
        yield batch


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _rotate(path: Path, fd: int, need: int, max_bytes: int, keep: int) -> int:
    """Rotate `path` (open as `fd`) unless another process already did; returns an fd of the
    current file. Renames tolerate files that vanished under us."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        mine = os.fstat(fd)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        # Still the live file and still too full once we hold the lock: rotate it.
        if (current is not None and (current.st_dev, current.st_ino) == (mine.st_dev,
                                                                         mine.st_ino)
                and 0 < mine.st_size and mine.st_size + need > max_bytes):
            if keep <= 0:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            else:
                for index in range(keep - 1, 0, -1):
                    with contextlib.suppress(FileNotFoundError):
                        os.rename(f"{path}.{index}", f"{path}.{index + 1}")
                with contextlib.suppress(FileNotFoundError):
                    os.rename(path, f"{path}.1")
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    return _open(path)


def read(log_dir: Path, include_rotated: bool = True,
         include_current: bool = True) -> Iterator[dict[str, object]]:
    """The recorded events, oldest first (rotated files first, oldest of them first); lines
    that are not JSON objects are skipped. All files are opened before the first is read, so
    a rotation while reading neither loses nor repeats a file."""
    paths = [*(rotated_files(log_dir) if include_rotated else []),
             *([events_file(log_dir)] if include_current else [])]
    handles = []
    try:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                handles.append(open(path, encoding="utf-8", errors="replace"))
        for handle in handles:
            for line in handle:
                record = _parse(line)
                if record is not None:
                    yield record
    finally:
        for handle in handles:
            handle.close()


def _parse(line: str | bytes) -> dict[str, object] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def follow(log_dir: Path, poll: float = 0.2, stop: Callable[[], bool] | None = None,
           from_start: bool = False) -> Iterator[dict[str, object]]:
    """Yield events as they are appended to `events.jsonl`, like `tail -F` (doors/follow):
    those already in the file are skipped unless `from_start`. Survives rotation (the old
    file is read to its end, then the new one from its start) and truncation. Ends when
    `stop()` returns true, checked at least every `poll` seconds."""
    lines = Lines()
    for piece in follow_file(events_file(log_dir), poll, stop, at_end=not from_start):
        for line in lines.feed(piece):
            record = _parse(line)
            if record is not None:
                yield record


def follow_last(log_dir: Path, last: int, keep: Callable[[dict[str, object]], bool],
                poll: float = 0.2, stop: Callable[[], bool] | None = None
                ) -> Iterator[dict[str, object]]:
    """Like `tail -n LAST -F`: the last `last` records that `keep` accepts (rotated files
    included), then each new one it accepts as it comes. The history ends with what the
    followed file held when it was opened, so nothing is lost or repeated between the two."""
    lines = Lines()
    pieces = follow_file(events_file(log_dir), poll, stop)
    try:
        held = [r for line in lines.feed(next(pieces)) if (r := _parse(line)) is not None]
        backlog: deque[dict[str, object]] = deque(maxlen=last)
        backlog.extend(r for r in read(log_dir, include_current=False) if keep(r))
        backlog.extend(r for r in held if keep(r))
        yield from backlog
        for piece in pieces:
            for line in lines.feed(piece):
                record = _parse(line)
                if record is not None and keep(record):
                    yield record
    finally:
        pieces.close()


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> float:
    """Epoch seconds for `--since`: a duration back from `now` (`45s`, `30m`, `1h`, `2d`,
    `1w`, decimals allowed) or an ISO-8601 time (`2024-05-01`, `2024-05-01T12:00`,
    `2024-05-01T12:00:00Z`, `…+02:00`; without a zone it is local time)."""
    now = time.time() if now is None else now
    found = _DURATION.fullmatch(text)
    if found:
        value = float(found.group(1)) * _UNITS[found.group(2).lower()]
        if value < 1e12:  # beyond that, a typo rather than 30000 years
            return now - value
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            pass
        else:
            return moment.timestamp()  # naive means local time
    raise ValueError(f"cannot read {text!r} as a time: expected a duration back from now "
                     "such as 45s, 30m, 1h, 2d or 1w, or an ISO time such as 2024-05-01, "
                     "2024-05-01T12:00 (local) or 2024-05-01T12:00:00Z")


LATEST_TAIL = 256 * 1024  # bytes of the event log `latest` reads (its newest records)


def latest(log_dir: Path) -> dict[str, tuple[str, float]]:
    """Each agent's newest event in the end of the current event log: agent → (kind, wall).
    Every writer's: the watchdog's decisions and its workers' outcomes, and the operator's
    verbs (other processes), which the watchdog's memory never sees."""
    found: dict[str, tuple[str, float]] = {}
    for line in tail_bytes(events_file(log_dir), LATEST_TAIL).splitlines():
        record = _parse(line)
        if record is None or not isinstance(agent := record.get("agent"), str):
            continue
        wall = record_time(record)
        if wall is not None:
            found[agent] = (str(record.get("event")), wall)
    return found


def record_time(record: dict[str, object]) -> float | None:
    """Epoch seconds of a record's `time` (naive times are UTC, as we write them); None when
    missing or unreadable."""
    stamp = record.get("time")
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def matches(record: dict[str, object], agent: str | None = None,
            since: float | None = None) -> bool:
    """Whether `record` is about `agent` (when given) and no older than `since` (epoch
    seconds, when given; a record without a readable time then does not match)."""
    if agent is not None and record.get("agent") != agent:
        return False
    if since is not None:
        stamp = record_time(record)
        if stamp is None or stamp < since:
            return False
    return True
