"""Session logs as people read them: the bytes a pane wrote, replayed on a terminal emulator.

A full-screen TUI writes redraws (cursor moves, erased lines, a spinner repainted five times
a second), rarely a newline: stripping the escape sequences leaves one endless line. Here the
bytes go through pyte, a VT100 emulator, on a screen the size our sessions are started at
(doors/tmux.py PANE_WIDTH × PANE_HEIGHT: 120 × 40); rows that scroll off its top are kept
(the last KEEP), so the history is the scrolled rows then the screen, trailing blank rows
trimmed.

Following (`LogView.update`) prints what a reader of the terminal would want once, not every
repaint:
- a row that scrolls off the top is printed then, unless it was printed at that row already;
- a row on the screen is printed once it has kept the same text for SETTLE seconds and that
  text is not on the screen as printed (anywhere: a TUI that shifts its rows up redraws
  them, and that is no news). A spinner or a running clock never settles, so it is printed
  when it stops; a blank row only when a row below it is printed in the same update;
- runs of blank lines are printed as one.
A replay that starts inside a log (its last 256 KiB) may lack rows a TUI painted before and
has not repainted since; `agents logs` prepends the rotated copy's tail to a short log.
"""

from __future__ import annotations

from collections import deque

import pyte
from pyte.screens import Margins

from agent_orchestrator.doors.tmux import PANE_HEIGHT, PANE_WIDTH

SETTLE = 2.0  # seconds a screen row keeps its text before `update` prints it
KEEP = 10_000  # rows scrolled off the top kept for the history


def _text(row: dict[int, pyte.screens.Char], columns: int) -> str:
    """A screen row's characters (a wide character's second cell is empty), right-trimmed."""
    return "".join(row[x].data for x in range(columns)).rstrip()


class _Screen(pyte.Screen):
    """A pyte screen that keeps what scrolls off its top, and moves the follower's per-row
    bookkeeping (`tracked`: lists indexed by row) along when its content scrolls."""

    def __init__(self, columns: int, lines: int, keep: int) -> None:
        super().__init__(columns, lines)
        self.history: deque[str] = deque(maxlen=keep)
        self.tracked: list[list[object]] = []  # per-row lists of the follower
        self.scrolled: list[str] = []  # rows that left the top, for the follower
        self.following = False

    def index(self) -> None:
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y == bottom:
            leaving = _text(self.buffer[top], self.columns)
            self.history.append(leaving)
            if self.following:
                self._leave(top, bottom, leaving)
        super().index()

    def _leave(self, top: int, bottom: int, leaving: str) -> None:
        shown = self.tracked[0]
        if leaving != shown[top] and (leaving == "" or leaving not in shown):
            self.scrolled.append(leaving)
        for column in self.tracked:
            column[top:bottom] = column[top + 1:bottom + 1]
            column[bottom] = None

    def reverse_index(self) -> None:
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y == top and self.following:
            for column in self.tracked:
                column[top + 1:bottom + 1] = column[top:bottom]
                column[top] = None
        super().reverse_index()


class LogView:
    """One session log on an emulated terminal: `feed` it bytes, read `history()`; to follow,
    `start_following(now)` once, then `update(now)` after each read (and when a read found
    nothing: a row settles with time alone). `now` is monotonic seconds."""

    def __init__(self, columns: int = PANE_WIDTH, lines: int = PANE_HEIGHT,
                 keep: int = KEEP, settle: float = SETTLE) -> None:
        self.screen = _Screen(columns, lines, keep)
        # A newline also returns the carriage, as a pty's output processing (onlcr) does:
        # a log written by anything but a terminal still reads as lines.
        self.screen.set_mode(pyte.modes.LNM)
        self._stream = pyte.ByteStream(self.screen)
        self.settle = settle
        self._shown: list[str | None] = []  # what was printed of each row
        self._rows: list[str | None] = []  # each row's text at the last update
        self._since: list[float | None] = []  # since when it had that text
        self._blank = False  # the last line printed was blank

    def feed(self, data: bytes) -> None:
        self._stream.feed(data)

    def screen_rows(self) -> list[str]:
        """The screen's rows, trailing blank ones trimmed."""
        rows = [_text(self.screen.buffer[y], self.screen.columns)
                for y in range(self.screen.lines)]
        while rows and not rows[-1]:
            rows.pop()
        return rows

    def history(self, count: int) -> list[str]:
        """The last `count` rendered lines: rows scrolled off the top, then the screen."""
        if count <= 0:
            return []
        rows = self.screen_rows()
        older = list(self.screen.history)[-max(count - len(rows), 0):] \
            if count > len(rows) else []
        return (older + rows)[-count:]

    def start_following(self, now: float) -> None:
        """Take what is on the screen as printed (the history was)."""
        rows = self.screen_rows()
        lines = self.screen.lines
        full: list[str | None] = [*rows, *[None] * (lines - len(rows))]
        self._shown, self._rows = list(full), list(full)
        self._since = [now - self.settle] * lines
        self.screen.tracked = [self._shown, self._rows, self._since]  # type: ignore[list-item]
        self.screen.scrolled = []
        self.screen.following = True

    def update(self, now: float) -> list[str]:
        """The lines to print now, in order (see the module's docstring)."""
        out, self.screen.scrolled = self.screen.scrolled, []
        blanks: list[int] = []
        for y in range(self.screen.lines):
            text = _text(self.screen.buffer[y], self.screen.columns)
            if text != self._rows[y]:
                self._rows[y], self._since[y] = text, now
            since = self._since[y]
            if since is None or now - since < self.settle or text == self._shown[y]:
                if text:
                    blanks = []  # a row between: the blanks above it are not spacing
                continue
            if not text:
                blanks.append(y)  # printed only when a printed row follows
            elif text in self._shown:
                self._shown[y], blanks = text, []
            else:
                out += [""] * len(blanks)
                for row in blanks:
                    self._shown[row] = ""
                blanks = []
                self._shown[y] = text
                out.append(text)
        return self._fold_blanks(out)

    def _fold_blanks(self, lines: list[str]) -> list[str]:
        """`lines` with each run of blank lines printed as one (also across updates)."""
        out = []
        for line in lines:
            if line or not self._blank:
                out.append(line)
            self._blank = not line
        return out
