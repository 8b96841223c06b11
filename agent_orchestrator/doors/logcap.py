"""Bounded, redacted session logs: what tmux's `pipe-pane` runs instead of `cat >> LOG`.

    python -m agent_orchestrator.doors.logcap LOG MAX_BYTES [KEEP]

reads the pane's output on stdin and appends it to LOG, with secrets replaced (`redact`), and
rotates LOG at MAX_BYTES: LOG becomes LOG.1 (LOG.N becomes LOG.N+1, LOG.KEEP is dropped), so
the files never hold more than MAX_BYTES × (KEEP + 1). KEEP 0 just starts LOG over.

Redaction works on whole lines (a secret is never cut in two by a read): complete lines are
written as soon as they arrive; the unfinished last line waits until its newline, until it has
waited FLUSH_AFTER seconds (a prompt, a TUI redraw) or until it reaches LINE_MAX bytes. Then it
is written up to its last escape sequence or carriage return, where a TUI starts a new run of
text, so a token being printed is not cut in two by the flush either.

It never holds tmux up: it reads as fast as the pane writes, and when LOG cannot be written
(deleted folder, full disk) the output is dropped, not buffered, and ONE warning goes to
stderr (again only after writing worked in between). A LOG deleted or renamed by someone else
is noticed on the next write and created again. Files are created 0600, never through a
symlink planted at LOG (or at a rotated name: renames move the link, not its target).
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from agent_orchestrator.core.redact import LineRedactor
from agent_orchestrator.doors.files import open_private

CHUNK = 256 * 1024
LINE_MAX = 64 * 1024
FLUSH_AFTER = 0.5
REOPEN_RETRY = 1.0  # seconds between attempts to create LOG when that fails

USAGE = "usage: python -m agent_orchestrator.doors.logcap LOG MAX_BYTES [KEEP]"


def pipe_command(log_file: str, max_bytes: int, keep: int = 1) -> str:
    """The shell command for `tmux pipe-pane`: this module under the running interpreter.
    `exec` leaves no shell behind; `-P` keeps the pane's folder (which may hold another copy
    of this package) off `sys.path`, and PYTHONPATH points at the package we run from."""
    _check_limits(max_bytes, keep)
    root = str(Path(__file__).resolve().parents[2])
    return (f"umask 077; exec env PYTHONPATH={shlex.quote(root)} "
            f"{shlex.quote(sys.executable)} -P -m agent_orchestrator.doors.logcap "
            f"{shlex.quote(log_file)} {max_bytes} {keep}")


def _check_limits(max_bytes: int, keep: int) -> None:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive integer, not {max_bytes!r}")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise ValueError(f"keep must be an integer ≥ 0, not {keep!r}")


class RotatingLog:
    """LOG opened for appending, rotated at `max_bytes`, reopened when it is replaced."""

    def __init__(self, path: str, max_bytes: int, keep: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.fd: int | None = None
        self.identity: tuple[int, int] | None = None
        self.retry_at = 0.0
        self.failing = False  # the last write or open failed (and we said so)

    def _failed(self, error: OSError) -> None:
        """Say once per run of failures that output is being dropped (not per chunk)."""
        if self.failing:
            return
        self.failing = True
        with contextlib.suppress(OSError, ValueError):  # stderr may be gone too
            print(f"agent-orchestrator logcap: cannot write {self.path}: {error}; dropping "
                  "output until it can be written again", file=sys.stderr, flush=True)

    def write(self, data: bytes) -> None:
        """Append `data`. When it does not fit, the whole lines that do fill the file up
        and the file is rotated (a line longer than `max_bytes` is cut over several files).
        Dropped when LOG cannot be written."""
        at = 0
        while at < len(data):
            size = self._size()
            if size is None:
                return
            room = self.max_bytes - size
            if len(data) - at <= room:
                self._write(data[at:])
                return
            cut = data.rfind(b"\n", at, at + max(room, 0)) + 1
            if cut <= at and size == 0:  # not one whole line fits in an empty file
                cut = at + room
            if cut > at:
                if not self._write(data[at:cut]):
                    return
                at = cut
            self._rotate()

    def _write(self, data: bytes) -> bool:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view):]  # type: ignore[arg-type]
        except OSError as exc:
            self.close()  # full disk or gone: drop this data, try afresh next time
            self._failed(exc)
            return False
        self.failing = False
        return True

    def _size(self) -> int | None:
        """Size of LOG as open, after reopening it if it was deleted or replaced."""
        try:
            info = os.lstat(self.path)  # a symlink planted there is never ours
        except OSError:
            info = None
        if (self.fd is not None and info is not None
                and (info.st_dev, info.st_ino) == self.identity):
            return info.st_size
        self.close()
        if time.monotonic() < self.retry_at:
            return None
        try:
            fd = open_private(Path(self.path), os.O_WRONLY | os.O_APPEND)
        except OSError as exc:  # ELOOP: a symlink planted at LOG, never written through
            self.retry_at = time.monotonic() + REOPEN_RETRY
            self._failed(exc)
            return None
        info = os.fstat(fd)
        self.fd, self.identity = fd, (info.st_dev, info.st_ino)
        return info.st_size

    def _rotate(self) -> None:
        self.close()
        try:
            if self.keep == 0:
                os.unlink(self.path)
                return
            for index in range(self.keep - 1, 0, -1):
                with contextlib.suppress(FileNotFoundError):
                    os.rename(f"{self.path}.{index}", f"{self.path}.{index + 1}")
            os.rename(self.path, f"{self.path}.1")
        except FileNotFoundError:
            pass
        except OSError:
            self.retry_at = time.monotonic() + REOPEN_RETRY

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = self.identity = None


class Capture:
    """The stream from the pane to the log: whole lines redacted, then written."""

    def __init__(self, log: RotatingLog) -> None:
        self.log = log
        self.redactor = LineRedactor()
        self.pending = bytearray()  # the unfinished last line
        self.pending_since: float | None = None  # when it started waiting

    def feed(self, data: bytes, now: float) -> None:
        self.pending += data
        cut = self.pending.rfind(b"\n") + 1
        if cut:
            self._emit(cut)
            self.pending_since = None
        if self.pending and self.pending_since is None:
            self.pending_since = now
        if len(self.pending) >= LINE_MAX:
            self.flush_partial(now)
        elif self.pending_since is not None and now - self.pending_since >= FLUSH_AFTER:
            self.flush_partial(now)

    def timeout(self, now: float) -> float | None:
        """Seconds until the unfinished line is due, None when there is none."""
        if self.pending_since is None:
            return None
        return max(0.0, self.pending_since + FLUSH_AFTER - now)

    def flush_partial(self, now: float) -> None:
        """Write the unfinished line up to its last escape sequence or carriage return (for an
        over-long one: or after its last blank, from its middle on), else all of it."""
        cut = max(self.pending.rfind(b"\x1b"), self.pending.rfind(b"\r"))
        if len(self.pending) >= LINE_MAX and cut < len(self.pending) // 2:
            cut = max(cut, self.pending.rfind(b" ") + 1, self.pending.rfind(b"\t") + 1)
            if cut < len(self.pending) // 2:
                cut = len(self.pending)
        if cut <= 0:
            cut = len(self.pending)
        self._emit(cut)
        self.pending_since = now if self.pending else None

    def close(self) -> None:
        if self.pending:
            self._emit(len(self.pending))
        self.pending_since = None
        self.log.close()

    def _emit(self, size: int) -> None:
        data = bytes(self.pending[:size])
        del self.pending[:size]
        try:
            text = self.redactor.text(data.decode("utf-8", "surrogateescape"))
            out = text.encode("utf-8", "surrogateescape")
        except Exception:  # noqa: BLE001 - never write unredacted text, never stop reading
            out = f"[logcap: {len(data)} bytes dropped: redaction failed]\n".encode()
        self.log.write(out)


def run(path: str, max_bytes: int, keep: int, stdin: int = 0) -> None:
    """Copy `stdin` (an fd) to `path` until end of file."""
    capture = Capture(RotatingLog(path, max_bytes, keep))
    try:
        while True:
            wait = capture.timeout(time.monotonic())
            if wait is not None and not select.select([stdin], [], [], wait)[0]:
                capture.flush_partial(time.monotonic())
                continue
            try:
                data = os.read(stdin, CHUNK)
            except InterruptedError:
                continue
            if not data:
                return
            capture.feed(data, time.monotonic())
    finally:
        capture.close()


_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def _exit(signum: int, frame: FrameType | None) -> None:
    """First signal: write what is pending and exit; a second one ends us outright."""
    for other in _SIGNALS:
        signal.signal(other, signal.SIG_DFL)
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        if len(args) not in (2, 3):
            raise ValueError("expected 2 or 3 arguments")
        path, max_bytes, keep = args[0], int(args[1]), int(args[2]) if len(args) == 3 else 1
        _check_limits(max_bytes, keep)
    except ValueError as exc:
        print(f"{USAGE}\n{exc}", file=sys.stderr)
        return 2
    for signum in _SIGNALS:
        signal.signal(signum, _exit)
    run(path, max_bytes, keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
