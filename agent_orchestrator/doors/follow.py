"""Follow a file as it grows, like `tail -F`: through rotation, replacement and truncation.

The one follower behind `agents logs NAME`, `agents events -f` and `agents transcript
--follow`. A file that does not exist yet is waited for. When the name comes to point at
another file (rotated: renamed away and started again, or deleted, or replaced), the old
file is read to its end, then the new one from its start. When the file shrinks below what
was read (truncated), it is read again from its start. Detection is by polling: `os.stat`
of the name against the open file's (device, inode) and size.

A file truncated and then grown past the old read position between two polls looks like
plain growth (`tail -F` has the same blind spot); writers here rotate by rename.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple


class Piece(NamedTuple):
    """Bytes read in one go. `fresh`: they begin a file (the first one opened, a new file
    after rotation, or a truncated one from its top), so whatever a reader built from the
    previous bytes no longer continues. `final`: they end a file that will not grow again
    (rotated away), so an unfinished last line there is complete."""

    data: bytes
    fresh: bool = False
    final: bool = False


class Tail:
    """One followed file; `read()` never blocks. `at_end`: skip what the file holds when it
    is first opened (a file that appears later is read from its start)."""

    def __init__(self, path: Path, at_end: bool = False) -> None:
        self.path = path
        self._skip = at_end
        self._handle: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None

    def read(self) -> Piece | None:
        """What is new since the last call; None when nothing is (or no file exists yet)."""
        if self._handle is None:
            return self._open()
        data = self._handle.read()
        if data:
            return Piece(data)
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != self._identity:
            # Rotated, deleted or replaced: finish the old file, then switch to the new one.
            rest = self._handle.read()
            self.close()
            return Piece(rest, final=True)
        if now.st_size < self._handle.tell():  # truncated: start over
            self._handle.seek(0)
            return Piece(self._handle.read(), fresh=True)
        return None

    def _open(self) -> Piece | None:
        skip, self._skip = self._skip, False  # only the file there at the start is skipped
        try:
            handle = open(self.path, "rb")  # kept open between reads: it may be renamed away
        except FileNotFoundError:
            return None
        info = os.fstat(handle.fileno())
        self._handle, self._identity = handle, (info.st_dev, info.st_ino)
        if skip:
            handle.seek(0, os.SEEK_END)
            return Piece(b"", fresh=True)
        return Piece(handle.read(), fresh=True)

    def close(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
        self._handle = None


def follow(path: Path, poll: float, stop: Callable[[], bool] | None = None,
           at_end: bool = False, ticks: bool = False) -> Iterator[Piece]:
    """Pieces of `path` as they arrive, until `stop()` is true (asked after every read, so
    at least every `poll` seconds). The FIRST piece is always what the file held when
    following began (empty when it did not exist yet, or with `at_end`), so a caller can
    treat the history apart from what comes later. `ticks`: also an empty Piece after each
    poll that found nothing (for a reader whose output changes with time alone)."""
    tail = Tail(path, at_end)
    try:
        yield tail.read() or Piece(b"", fresh=True)
        while stop is None or not stop():
            piece = tail.read()
            if piece is None:
                time.sleep(poll)
                if ticks:
                    yield Piece(b"")
            elif piece.data or piece.fresh or piece.final:
                yield piece
    finally:
        tail.close()


def tail_bytes(path: Path, size: int) -> bytes:
    """The last `size` bytes of `path`; b"" when it is missing or unreadable."""
    if size <= 0:
        return b""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(handle.seek(0, os.SEEK_END) - size, 0))
            return handle.read(size)
    except OSError:
        return b""


class Lines:
    """Whole lines out of pieces: an unfinished line waits for its newline, or for the end
    of its file (`final`); one left over when a file begins anew (`fresh`) is dropped."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, piece: Piece) -> list[bytes]:
        """The lines `piece` completes, without their newlines."""
        if piece.fresh:
            self._pending = b""
        *lines, self._pending = (self._pending + piece.data).split(b"\n")
        if piece.final and self._pending:
            lines.append(self._pending)
            self._pending = b""
        return lines
