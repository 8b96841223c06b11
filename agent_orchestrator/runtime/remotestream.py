"""Following a file on another host: the streamed operations of runtime/remote.py, and the
JSON Lines they speak.

A streamed operation (`follow`: an agent's session log; `transcript`: its conversation
record) reads its request as ONE JSON line on stdin, then writes JSON lines on stdout, each
flushed at once: first a header (or `{"error": ...}`), then the followed file's pieces,
`{"data": base64, "fresh": bool, "final": bool}` (doors/follow.Piece). The first piece is
the history (what the file held when following began), as from `follow` here. Without
`follow` in the request it ends after that; with it, it goes on until its stdin ends (the
other side closed it, or its ssh died) or its stdout is gone.

Both sides use the same follower (doors/follow.py) and, on the watchdog's machine, the same
readers and renderers as for a local agent; only the bytes travel.
"""

from __future__ import annotations

import base64
import json
import os
import select
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_orchestrator.doors.follow import Piece, follow, tail_bytes
from agent_orchestrator.doors.transcript import locate

STREAMED = ("follow", "transcript")
POLL = 0.25  # seconds between looks at a quiet file on the host

Emit = Callable[[dict[str, Any]], None]
Header = Callable[[Piece], tuple[dict[str, Any], bytes]]  # first piece → header, history


def piece_record(piece: Piece) -> dict[str, Any]:
    """A Piece as its JSON line's object."""
    return {"data": base64.b64encode(piece.data).decode("ascii"),
            "fresh": piece.fresh, "final": piece.final}


def piece_of(record: Any) -> Piece:
    """The Piece a JSON line's object stands for; ValueError when it is not one."""
    if not isinstance(record, dict) or not isinstance(record.get("data"), str):
        raise ValueError(f"not a piece: {str(record)[:200]}")
    try:
        data = base64.b64decode(record["data"], validate=True)
    except ValueError as exc:  # binascii.Error is one
        raise ValueError(f"a piece's data is not base64: {exc}") from None
    return Piece(data, bool(record.get("fresh")), bool(record.get("final")))


def encode(record: dict[str, Any]) -> bytes:
    """One JSON line (ASCII: a path's odd bytes are escaped, never split)."""
    return json.dumps(record).encode("ascii") + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """A JSON line's object; ValueError when it is not a JSON object."""
    value = json.loads(line.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"not a JSON object: {line[:200]!r}")
    return value


def stdin_closed(fd: int) -> Callable[[], bool]:
    """A `stop` for follow(): true once `fd` (our stdin, held open by the other side) has
    ended. Anything sent on it after the request is ignored."""

    def closed() -> bool:
        try:
            ready, _, _ = select.select([fd], [], [], 0)
            return bool(ready) and os.read(fd, 4096) == b""
        except OSError:
            return True
    return closed


def _pieces(path: Path, request: dict[str, Any], stop: Callable[[], bool],
            emit: Emit, header: Header) -> None:
    """Follow `path`: the header and the history `header` makes of the first piece, then
    (`follow`) every later piece until `stop()`."""
    pieces = follow(path, POLL, stop=stop)
    try:
        first = next(pieces)
        made, history = header(first)
        emit(made)
        emit(piece_record(first._replace(data=history)))
        if request.get("follow"):
            for piece in pieces:
                emit(piece_record(piece))
    finally:
        pieces.close()


def follow_log(path: Path, request: dict[str, Any], stop: Callable[[], bool],
               emit: Emit) -> None:
    """`follow`: the session log at `path` (the host's), its history cut to the request's
    `bytes`; the header says whether it existed and carries the rotated copy's tail
    (`older`: what a rendered view replays first, as `agents logs` does here)."""
    want = max(0, int(request.get("bytes", 65536)))
    existed = path.exists()

    def header(first: Piece) -> tuple[dict[str, Any], bytes]:
        history = first.data[-want:] if want else b""
        older = tail_bytes(path.with_name(path.name + ".1"), want - len(history))
        return {"path": str(path), "existed": existed,
                "older": base64.b64encode(older).decode("ascii")}, history

    _pieces(path, request, stop, emit, header)


def transcript(request: dict[str, Any], stop: Callable[[], bool], emit: Emit) -> None:
    """`transcript`: the agent's conversation record found here (doors/transcript/locate,
    from `dir`, the stored `session_id` and the `backend` words), followed whole. The
    header names it (`path`: null when none was found, and then nothing follows) and
    carries locate's `notes`."""
    notes: list[str] = []
    session_id = request.get("session_id")
    path = locate.locate(Path.home(), Path(str(request["dir"])).expanduser(),
                         str(session_id) if session_id else None,
                         str(request.get("backend") or ""), notes)
    if path is None:
        emit({"path": None, "notes": notes})
        return
    _pieces(path, request, stop, emit,
            lambda first: ({"path": str(path), "notes": notes}, first.data))

