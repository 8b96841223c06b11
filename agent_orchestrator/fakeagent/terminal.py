"""Running the demo agent on its terminal: raw mode and bracketed paste, reading keys,
polling the control file, ticking, redrawing only what changed, signals."""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import shutil
import signal
import termios
import time
from collections.abc import Callable, Iterable
from typing import Any

from agent_orchestrator.fakeagent.agent import AgentExit, FakeAgent
from agent_orchestrator.fakeagent.files import ControlFile
from agent_orchestrator.fakeagent.keys import ESC_TIMEOUT, Key, KeyParser
from agent_orchestrator.fakeagent.screens import SPIN_INTERVAL, Frame, paint, render

FALLBACK_SIZE = (120, 40)


class Terminal:
    """The controlling terminal: raw-ish mode, bracketed paste, output, size.

    ``restore`` is idempotent and swallows errors, so it is safe from ``finally`` and
    ``atexit`` even after the pane has gone.
    """

    def __init__(self, in_fd: int, out_fd: int) -> None:
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.is_tty = os.isatty(in_fd)
        self._saved: list[Any] | None = None
        self._active = False

    def enter(self) -> None:
        """No echo, no line editing, no signal keys; enable bracketed paste."""
        if self.is_tty:
            self._saved = termios.tcgetattr(self.in_fd)
            mode = termios.tcgetattr(self.in_fd)
            mode[0] &= ~(termios.ICRNL | termios.INLCR | termios.IGNCR | termios.IXON)
            mode[3] &= ~(termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN)
            mode[6][termios.VMIN] = 1
            mode[6][termios.VTIME] = 0
            termios.tcsetattr(self.in_fd, termios.TCSANOW, mode)
        self._active = True
        self.write("\x1b[?2004h")

    def restore(self) -> None:
        """Undo ``enter``: disable bracketed paste, give back the saved terminal mode."""
        if not self._active:
            return
        self._active = False
        with contextlib.suppress(OSError, AgentExit):
            self.write("\x1b[?2004l\x1b[?25h")
        if self._saved is not None:
            with contextlib.suppress(OSError, termios.error):
                termios.tcsetattr(self.in_fd, termios.TCSADRAIN, self._saved)

    def write(self, text: str) -> None:
        """Write all of ``text``; a terminal that has gone away ends the program (129)."""
        data = text.encode("utf-8", "replace")
        while data:
            try:
                data = data[os.write(self.out_fd, data) :]
            except BlockingIOError:
                select.select([], [self.out_fd], [], 1.0)
            except OSError as exc:
                raise AgentExit(129) from exc

    def size(self) -> tuple[int, int]:
        """(columns, rows) of the terminal, 120x40 when unknown."""
        try:
            cols, rows = os.get_terminal_size(self.out_fd)
        except OSError:
            cols, rows = shutil.get_terminal_size(FALLBACK_SIZE)
        return (cols or FALLBACK_SIZE[0], rows or FALLBACK_SIZE[1])



def _min_timeout(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(min(present), 0.0) if present else None


class Runner:
    """Connects a ``FakeAgent`` to a terminal: reads keys, polls, ticks, draws."""

    def __init__(self, agent: FakeAgent, term: Terminal, control: ControlFile) -> None:
        self.agent = agent
        self.term = term
        self.control = control
        self.parser = KeyParser()
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.reading = True
        self._shown: Frame | None = None  # the frame on screen and the size it was drawn at
        self._shown_size = (0, 0)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def install_signals(self) -> None:
        """SIGWINCH redraws; SIGTERM, SIGHUP and SIGINT exit with 0, 129 and 130."""
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGWINCH, lambda _sig, _frame: None)  # the wake-up fd redraws
        for sig, code in ((signal.SIGTERM, 0), (signal.SIGHUP, 129), (signal.SIGINT, 130)):
            signal.signal(sig, _exit_handler(code))

    def run(self) -> None:
        """The main loop; returns never, leaves by ``AgentExit`` or by hanging."""
        clock = time.monotonic
        self.draw(clock())
        while True:
            now = clock()
            ready = self._wait(now)
            now = clock()
            keys = self._read() if self.term.in_fd in ready else []
            if not keys and self.parser.pending_escape and self.term.in_fd not in ready:
                keys = self.parser.flush()
            for key in keys:
                self.agent.on_key(key, now)
            for line in self.control.poll(now):
                if self.agent.hung:
                    break
                self.agent.control(line, now)
            self.agent.tick(now)
            if self.agent.hung:
                hang_forever()
            self.draw(now)

    def _wait(self, now: float) -> list[int]:
        agent = self.agent
        spin = None
        if agent.work is not None:
            spin = min(SPIN_INTERVAL, agent.work.deadline - now)
        escape = ESC_TIMEOUT if self.parser.pending_escape else None
        timeout = _min_timeout((spin, escape, self.control.timeout(now)))
        fds = [self._wake_r] + ([self.term.in_fd] if self.reading else [])
        ready, _, _ = select.select(fds, [], [], timeout)
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 512)
        return ready

    def _read(self) -> list[Key]:
        try:
            data = os.read(self.term.in_fd, 65536)
        except OSError as exc:  # EIO: the terminal is gone
            raise AgentExit(129) from exc
        if not data:
            if self.term.is_tty:
                raise AgentExit(129)
            self.reading = False  # piped input ended: keep running on the control file
            return self.parser.feed(self.decoder.decode(b"", final=True)) + self.parser.flush()
        return self.parser.feed(self.decoder.decode(data))

    def draw(self, now: float) -> None:
        """Repaint if the screen changed; writes nothing otherwise."""
        size = self.term.size()
        frame = render(self.agent.view(now), *size)
        previous = self._shown if size == self._shown_size else None
        painted = paint(frame, *size, previous)
        if painted:
            self.term.write(painted)
        self._shown, self._shown_size = frame, size


def _exit_handler(code: int) -> Callable[[int, Any], None]:
    def handler(_sig: int, _frame: Any) -> None:
        raise AgentExit(code)

    return handler


def hang_forever() -> None:
    """Freeze: no drawing, no reading; default signal actions, so SIGTERM/SIGHUP kill."""
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGWINCH):
        signal.signal(sig, signal.SIG_DFL)
    while True:
        time.sleep(3600)
