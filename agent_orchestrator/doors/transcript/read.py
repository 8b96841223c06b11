"""Read a conversation record of either format (Claude Code, Codex), whole or as it grows.

The format is told from the file's first lines; the file is followed with doors/follow (so
through rotation, replacement and truncation). Standard library only; no output.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from agent_orchestrator.doors.follow import Lines, Piece
from agent_orchestrator.doors.follow import follow as follow_file
from agent_orchestrator.doors.transcript import claude, codex
from agent_orchestrator.doors.transcript.turns import (
    Reader,
    Transcript,
    Turn,
    feed_line,
    loads,
    parse_lines,
)

SNIFF_LINES = 20  # lines detect_format() looks at


def detect_format(first_lines: Iterable[str]) -> str | None:
    """The format of a file from its first lines: "claude", "codex", or None."""
    for count, line in enumerate(first_lines):
        if count >= SNIFF_LINES:
            break
        rec = loads(line) if line.strip() else None
        if rec is None:
            continue
        if codex.recognises(rec):
            return codex.FORMAT
        if claude.recognises(rec):
            return claude.FORMAT
    return None


def _reader_for(fmt: str | None) -> Reader:
    return codex.CodexReader() if fmt == codex.FORMAT else claude.ClaudeReader()


def parse(path: Path) -> Transcript:
    """Read a transcript of either format. An unrecognisable file gives no turns."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return _parse(handle.readlines())


def parse_bytes(data: bytes) -> Transcript:
    """`parse` of a file's bytes read elsewhere (on an agent's host), decoded and split into
    lines exactly as `parse` reads a file."""
    with io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace") as handle:
        return _parse(handle.readlines())


def _parse(lines: list[str]) -> Transcript:
    fmt = detect_format(lines)
    if fmt is None:
        return Transcript(skipped=sum(1 for line in lines if line.strip()))
    return parse_lines(_reader_for(fmt), lines, fmt)


class _Sniffer:
    """Turns of lines whose format is learnt from the first of them: lines are held until
    it is known (or SNIFF_LINES were seen), then read in order."""

    def __init__(self) -> None:
        self.reader: Reader | None = None
        self.head: list[str] = []  # lines seen before the format was known

    def feed(self, line: str) -> list[Turn]:
        if self.reader is not None:
            return feed_line(self.reader, line)
        self.head.append(line)
        fmt = detect_format(self.head)
        if fmt is None and len(self.head) < SNIFF_LINES:
            return []
        self.reader = _reader_for(fmt)
        held, self.head = self.head, []
        return [turn for line_ in held for turn in feed_line(self.reader, line_)]


def follow(path: Path, poll: float = 0.5, stop: Callable[[], bool] | None = None,
           from_start: bool = False) -> Iterator[Turn]:
    """Yield the turns of records appended to `path` from now on (and, with `from_start`,
    those already there first), checking every `poll` seconds until `stop()` is true.

    What the file already holds is read either way: later records refer back to it (a tool
    result names its call). Only whole lines are read: a record being written is picked up
    once its newline lands. A file begun anew (rotated, replaced, truncated) is read from
    its top with a fresh reader.
    """
    return turns_of(follow_file(path, poll, stop), from_start)


def turns_of(pieces: Iterable[Piece], from_start: bool = False) -> Iterator[Turn]:
    """`follow`'s turns from the pieces of a followed file (doors/follow.follow's, here or
    on an agent's host): the first piece is its history."""
    lines = Lines()
    sniffer = _Sniffer()
    for index, piece in enumerate(pieces):
        if piece.fresh:
            sniffer = _Sniffer()
        turns = [turn for raw in lines.feed(piece)
                 for turn in sniffer.feed(raw.decode("utf-8", errors="replace"))]
        if index > 0 or from_start:  # the first piece is the history
            yield from turns
