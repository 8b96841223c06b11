"""The end of an agent's own conversation transcript: is its last record an API error?

Claude Code appends every message to `~/.claude/projects/<dir>/<session>.jsonl`; when an
API call fails for good (a usage limit, retries exhausted) it appends an assistant record
with `isApiErrorMessage: true`, `error` (`rate_limit`, `server_error`, ...),
`apiErrorStatus` and the text it shows. The hooks tell us the file's path. Only the tail is
read (`TAIL_BYTES`), and only when the file changed since the last look (`Tail`).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from agent_orchestrator.core.signals import ApiError

TAIL_BYTES = 256 * 1024


def last_api_error(path: Path) -> ApiError | None:
    """The transcript's last conversation record, if it is an API error; None otherwise
    (or when the file cannot be read: the screen then decides)."""
    try:
        # The path comes from a hook's payload: never block on a FIFO or read a device.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                return None
            handle.seek(max(info.st_size - TAIL_BYTES, 0))
            lines = handle.read(TAIL_BYTES).splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the first, cut line of the tail, or a line being written
        if not isinstance(record, dict) or record.get("type") not in ("assistant", "user"):
            continue
        return _api_error(record)
    return None


def _api_error(record: dict[str, object]) -> ApiError | None:
    if record.get("isApiErrorMessage") is not True:
        return None
    content = record.get("message", {})
    parts = content.get("content", []) if isinstance(content, dict) else []
    text = " ".join(p.get("text", "") for p in parts if isinstance(p, dict)
                    and isinstance(p.get("text"), str)).strip()
    try:
        wall = datetime.fromisoformat(str(record.get("timestamp")).replace("Z", "+00:00"))
    except ValueError:
        return None
    status = record.get("apiErrorStatus")
    return ApiError(wall.timestamp(), status if isinstance(status, int) else None,
                    str(record.get("error") or ""), text)


class Tail:
    """`last_api_error` of many transcripts, each read again only once it changed."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[tuple[int, int], ApiError | None]] = {}

    def read_all(self, paths: Mapping[str, Path]) -> dict[str, ApiError]:
        """name → its transcript's current API error, for the names that have one; what
        was remembered of transcripts not asked for any more is forgotten."""
        seen, out = {}, {}
        for name, path in paths.items():
            try:
                info = path.stat()
            except OSError:
                continue
            stamp = (info.st_size, info.st_mtime_ns)
            cached = self._seen.get(path)
            if cached is None or cached[0] != stamp:
                cached = (stamp, last_api_error(path))
            seen[path] = cached
            if cached[1] is not None:
                out[name] = cached[1]
        self._seen = seen
        return out
