"""A fake coding-agent CLI whose screens copy Claude Code's, for demos and tests.

Run as ``python -m agent_orchestrator.fakeagent [options] [PROMPT]``. It uses the standard
library only. It draws a screen shaped like Claude Code 2.1 (banner, history, spinner, input
box framed by ``─`` rules, footer) so that the supervisor's screen regexes can classify it,
and lets a test drive it into every state the supervisor has to recognise.

Options (unknown options are ignored, as real CLIs take many):

``--model M``               shown in the banner (default ``demo-model``).
``--name NAME``             shown in the banner.
``--resume ID``, ``--remote-control NAME``  accepted and only recorded.
``--busy SECONDS``          how long each piece of work lasts (default 4).
``--record FILE``           append one JSON object per line (mode 0600): ``start`` (argv, cwd,
                            pid), ``input`` (each submitted text, byte-exact), ``control``
                            (each control-file command).
``--control FILE``          polled every 0.1 s; when it exists it is read, deleted and each
                            non-empty line run as a command. Write it atomically (write a
                            temporary file in the same folder, then rename it).
``--swallow-first-enter``   ignore the first Enter key, as Codex sometimes does at start-up.
``PROMPT``                  the last positional argument: shown as ``❯ <first line>``, then
                            the agent works on it.

Typed text is submitted with Enter (``\\r`` or ``\\n``); a bracketed paste
(``ESC[200~ ... ESC[201~``) is inserted verbatim, newlines included, without submitting;
Backspace deletes; Ctrl-C or Esc interrupts work (Ctrl-C clears the input when idle).
A submitted text starting with ``/fake `` is a command; any other text makes the agent busy
for ``--busy`` seconds, then it answers ``● Done: <first 60 characters>`` and
``✻ Worked for Ns``. Text submitted while busy is queued, as real agents do.

Commands (typed as ``/fake CMD ARGS`` or written to the control file as ``CMD ARGS``):

``busy [SECONDS]``  work (spinner) for SECONDS (default ``--busy``; ``inf`` works).
``idle``            stop working now.
``limit [RESET]``   ``  ⎿ \\xa0You've hit your session limit · resets RESET`` (default
                    ``3pm (UTC)``), then idle. The next submitted text clears the limit.
``fatal``           ``  ⎿ \\xa0API Error: 401 {...authentication_error...} · Please run
                    /login``, then idle.
``crash [N]``       restore the terminal and exit with status N (default 1) at once.
``hang``            stop drawing and reading input for ever (SIGTERM/SIGHUP still kill it).
``say TEXT``        add ``● TEXT`` to the history.
``waiting ISO``     add ``WAITING-UNTIL: ISO`` to the history (the marker an agent prints
                    when it sleeps on purpose) and stop working.
``run CMD``         start the shell command CMD in the background (output discarded).
``on TEXT => CMD``  from now on, whenever a submitted text contains TEXT, run command CMD
                    (e.g. ``on New claim => run git pull -q; ...``).

Lines of the initial PROMPT that start with ``/fake `` run as commands at start: a role
prompt made of them scripts a demo agent (``agents init --loop-demo``).

Screen strings, as Claude Code draws them (``\\xa0`` is a no-break space, as in the real
captures): busy spinner ``✢ Warping… (3s · esc to interrupt)`` and footer
``  esc to interrupt``; idle footer ``  ? for shortcuts``; input line ``❯\\xa0<input>``;
echoed prompts ``❯ <text>``; finished turns ``✻ Worked for 3s``.

While idle and unchanged the program writes nothing at all, so the pane's activity time
stops moving; while busy it redraws five times a second. SIGWINCH redraws, SIGTERM exits 0,
SIGHUP exits 129, SIGINT exits 130 (Ctrl-C typed into the pane is a key, not a signal).
"""

from __future__ import annotations

import argparse
import atexit
import codecs
import contextlib
import enum
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import termios
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# --- Screen vocabulary (copied from Claude Code 2.1 captures) -------------------------------

NBSP = "\xa0"
PROMPT_MARK = "❯" + NBSP  # the input line; real Claude puts a no-break space after ❯
ECHO_MARK = "❯ "  # an echoed prompt in the history
REPLY_MARK = "● "
RESULT_MARK = "  ⎿ " + NBSP  # a result line under a prompt ("  ⎿  ..." in the captures)
RULE_CHAR = "─"
SPINNER_GLYPHS = "·✢✳✶✻✽"
SPINNER_VERB = "Warping"
SUMMARY_GLYPH = "✻"
FOOTER_IDLE = "  ? for shortcuts"
FOOTER_BUSY = "  esc to interrupt"
BANNER_ART = (" ▐▛███▜▌ ", "▝▜█████▛▘", "  ▘▘ ▝▝  ")
DEFAULT_RESET = "3pm (UTC)"
LIMIT_TEXT = "You've hit your session limit · resets {reset}"
FATAL_TEXT = (
    'API Error: 401 {"type":"error","error":{"type":"authentication_error",'
    '"message":"Invalid authentication credentials"}} · Please run /login'
)
INTERRUPTED_TEXT = "Interrupted by user"
WAITING_TEXT = "WAITING-UNTIL: {iso}"
COMMAND_PREFIX = "/fake "

# --- Timing and limits ----------------------------------------------------------------------

SPIN_INTERVAL = 0.2  # seconds per spinner frame while busy
CONTROL_INTERVAL = 0.1  # seconds between control-file polls
ESC_TIMEOUT = 0.05  # a lone ESC not followed by more bytes within this is the Esc key
HISTORY_LIMIT = 400  # history blocks kept
MAX_BOX_LINES = 4  # input-box lines shown for a multi-line input
REPLY_CHARS = 60
FALLBACK_SIZE = (120, 40)
PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


class AgentExit(Exception):
    """Leave the program with an exit status (crash command, signals, lost terminal)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# --- Text measuring and fitting -------------------------------------------------------------


def char_width(ch: str) -> int:
    """Terminal cells taken by one code point: 0 (combining), 2 (wide) or 1."""
    if unicodedata.combining(ch) or ch in "\u200b\u200c\u200d\ufeff":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Terminal cells taken by ``text`` (which must hold no control characters)."""
    return sum(char_width(ch) for ch in text)


def fit(text: str, width: int) -> str:
    """The longest prefix of ``text`` that fits in ``width`` cells."""
    used = 0
    for i, ch in enumerate(text):
        used += char_width(ch)
        if used > width:
            return text[:i]
    return text


def fit_tail(text: str, width: int) -> str:
    """The longest suffix of ``text`` that fits in ``width`` cells (where a cursor would be)."""
    used = 0
    for i in range(len(text) - 1, -1, -1):
        used += char_width(text[i])
        if used > width:
            return text[i + 1 :]
    return text


def sanitize(text: str) -> str:
    """``text`` made safe to print: tabs and line breaks become spaces, other controls ``?``.

    Keeps a prompt holding escape sequences from driving the terminal.
    """
    out = []
    for ch in text:
        if ch in "\t\r\n":
            out.append(" ")
        elif unicodedata.category(ch) == "Cc":
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


def first_line(text: str) -> str:
    """The first line of ``text``, sanitized for display."""
    return sanitize(text.replace("\r\n", "\n").replace("\r", "\n").split("\n", 1)[0])


def wrap(text: str, width: int, indent: int = 0) -> list[str]:
    """Word-wrap ``text`` to ``width`` cells, continuation lines indented by ``indent``.

    Breaks only at ASCII spaces (so a no-break space holds), and hard-breaks words longer
    than a line, like Ink's ``wrap-ansi`` in Claude Code. Every returned line fits.
    """
    width = max(width, 1)
    if indent >= width:
        indent = 0
    pad = " " * indent
    lines: list[str] = []
    line = ""
    for token in re.findall(r"[^ ]+| +", text):
        if text_width(line) + text_width(token) <= width:
            line += token
            continue
        if token.startswith(" "):  # break at the spaces, dropping them
            lines.append(line)
            line = pad
            continue
        if line.strip(" "):
            lines.append(line.rstrip(" "))
            line = pad
        while text_width(line) + text_width(token) > width:
            head = fit(token, width - text_width(line)) or token[0]
            lines.append(line + head)
            token = token[len(head) :]
            line = pad
        line += token
    if line.strip(" ") or not lines:
        lines.append(line.rstrip(" "))
    return [fit(one, width) for one in lines]


def format_duration(seconds: float) -> str:
    """``3s``, ``1m 5s`` or ``1h 2m 3s``, as Claude Code prints elapsed time."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


# --- Screen model and rendering -------------------------------------------------------------


@dataclass
class Line:
    """One logical history line: wrapped (continuations indented) or truncated to the width."""

    text: str
    indent: int = 2
    wrap: bool = True

    def layout(self, width: int) -> list[str]:
        """The screen rows this line takes at ``width`` columns."""
        if not self.wrap:
            return [fit(self.text, width)]
        return wrap(self.text, width, self.indent)


@dataclass
class View:
    """Everything needed to draw one frame; built by ``FakeAgent.view``."""

    banner: list[str]
    blocks: list[list[Line]]
    spinner: str | None
    input_text: str


@dataclass
class Frame:
    """A rendered screen: its rows (top to bottom) and the cursor's (row, column), 0-based."""

    rows: list[str]
    cursor: tuple[int, int]


def box_rows(buffer: str, width: int) -> list[str]:
    """The input box's inner rows: ``❯\\xa0`` then the input's last lines, cursor line last."""
    parts = buffer.replace("\r\n", "\n").replace("\r", "\n").split("\n")[-MAX_BOX_LINES:]
    room = max(width - 2, 0)
    rows = []
    for i, part in enumerate(parts):
        prefix = PROMPT_MARK if i == 0 else "  "
        clean = sanitize(part)
        body = fit_tail(clean, room) if i == len(parts) - 1 else fit(clean, room)
        rows.append(fit(prefix, width) + body)
    return rows


def render(view: View, width: int, height: int) -> Frame:
    """Lay the view out like Claude Code: banner, history, spinner, boxed input, footer.

    Content runs from the top; when it is taller than the screen the oldest rows go first
    (the banner scrolls away, as in the real captures), so nothing is written past the
    last row.
    """
    width = max(width, 1)
    height = max(height, 1)
    rows = [fit(b, width) for b in view.banner]
    rows.append("")
    for block in view.blocks:
        rows.append("")
        for line in block:
            rows.extend(line.layout(width))
    if view.spinner is not None:
        rows += ["", fit(view.spinner, width)]
    rows += ["", RULE_CHAR * width]
    box = box_rows(view.input_text, width)
    rows += box
    cursor_row = len(rows) - 1
    cursor_col = min(text_width(box[-1]), width - 1)
    rows += [RULE_CHAR * width, FOOTER_BUSY if view.spinner is not None else FOOTER_IDLE]
    rows = [fit(row, width) for row in rows]
    drop = max(len(rows) - height, 0)
    return Frame(rows[drop:], (max(cursor_row - drop, 0), cursor_col))


def paint(frame: Frame, width: int, height: int, previous: Frame | None = None) -> str:
    """Escape sequences that draw ``frame`` in place, row by row, without scrolling.

    With ``previous`` (the frame on screen, same size) only changed rows are written, and
    an unchanged frame gives ``""``: an idle agent writes nothing.
    """
    if previous is not None and previous == frame:
        return ""
    old = previous.rows if previous is not None else []
    out = ["\x1b[?25l"]
    for i, line in enumerate(frame.rows):
        if previous is not None and i < len(old) and old[i] == line:
            continue
        out.append(f"\x1b[{i + 1};1H{line}")
        if text_width(line) < width:  # never erase after a full row (pending-wrap column)
            out.append("\x1b[K")
    if len(frame.rows) < height and (previous is None or len(old) > len(frame.rows)):
        out.append(f"\x1b[{len(frame.rows) + 1};1H\x1b[J")
    row, col = frame.cursor
    out.append(f"\x1b[{row + 1};{col + 1}H\x1b[?25h")
    return "".join(out)


# --- Keyboard input -------------------------------------------------------------------------


class KeyKind(enum.Enum):
    """What a decoded key event does."""

    TEXT = "text"  # printable text typed
    PASTE = "paste"  # bracketed-paste content, newlines as "\n"
    NEWLINE = "newline"  # Alt/Meta-Enter: a newline in the input
    ENTER = "enter"
    BACKSPACE = "backspace"
    INTERRUPT = "interrupt"  # Ctrl-C
    ESCAPE = "escape"  # a lone Esc key


@dataclass(frozen=True)
class Key:
    """One key event; ``text`` is set for TEXT and PASTE."""

    kind: KeyKind
    text: str = ""


class _State(enum.Enum):
    NORMAL = 0
    ESC = 1
    CSI = 2
    SS3 = 3
    PASTE = 4


class KeyParser:
    """Turn decoded terminal input into key events, following bracketed pastes.

    Escape sequences other than paste brackets (arrows, function keys, focus reports) are
    swallowed. A lone ESC is held until more input arrives or ``flush`` is called.
    """

    def __init__(self) -> None:
        self._state = _State.NORMAL
        self._seq = ""
        self._paste = ""
        self._keys: list[Key] = []
        self._text: list[str] = []

    @property
    def pending_escape(self) -> bool:
        """True while a lone ESC waits to learn whether a sequence follows."""
        return self._state is _State.ESC

    def flush(self) -> list[Key]:
        """Call when no input followed a lone ESC: it was the Esc key."""
        if self._state is _State.ESC:
            self._state = _State.NORMAL
            return [Key(KeyKind.ESCAPE)]
        return []

    def feed(self, data: str) -> list[Key]:
        """Parse decoded input; returns the key events it completes."""
        i = 0
        while i < len(data):
            if self._state is _State.PASTE:
                i = self._feed_paste(data, i)
            else:
                self._feed_char(data[i])
                i += 1
        self._end_text()
        keys, self._keys = self._keys, []
        return keys

    def _emit(self, kind: KeyKind, text: str = "") -> None:
        self._end_text()
        self._keys.append(Key(kind, text))

    def _end_text(self) -> None:
        if self._text:
            self._keys.append(Key(KeyKind.TEXT, "".join(self._text)))
            self._text = []

    def _feed_paste(self, data: str, start: int) -> int:
        """Collect paste content from ``data[start:]``; returns where parsing resumes."""
        scan_from = max(len(self._paste) - len(PASTE_END) + 1, 0)
        self._paste += data[start:]
        end = self._paste.find(PASTE_END, scan_from)
        if end < 0:
            return len(data)
        content = self._paste[:end].replace("\r\n", "\n").replace("\r", "\n")
        rest = self._paste[end + len(PASTE_END) :]
        self._paste = ""
        self._state = _State.NORMAL
        self._emit(KeyKind.PASTE, content)
        return len(data) - len(rest)

    def _feed_char(self, ch: str) -> None:
        state = self._state
        if state is _State.NORMAL:
            self._feed_normal(ch)
        elif state is _State.ESC:
            self._feed_after_esc(ch)
        elif state is _State.CSI:
            if not " " <= ch <= "\x7e":  # not a CSI byte: the sequence was broken off
                self._state, self._seq = _State.NORMAL, ""
                self._feed_normal(ch)
                return
            self._seq += ch
            if "\x40" <= ch <= "\x7e":
                self._state = _State.PASTE if "\x1b[" + self._seq == PASTE_START else _State.NORMAL
                self._seq = ""
            elif len(self._seq) > 32:
                self._state = _State.NORMAL
                self._seq = ""
        else:  # SS3: one more character ends it
            self._state = _State.NORMAL

    def _feed_normal(self, ch: str) -> None:
        if ch == "\x1b":
            self._end_text()
            self._state = _State.ESC
        elif ch in "\r\n":
            self._emit(KeyKind.ENTER)
        elif ch in "\x7f\x08":
            self._emit(KeyKind.BACKSPACE)
        elif ch == "\x03":
            self._emit(KeyKind.INTERRUPT)
        elif ch >= " ":
            self._text.append(ch)

    def _feed_after_esc(self, ch: str) -> None:
        if ch == "[":
            self._state, self._seq = _State.CSI, ""
        elif ch == "O":
            self._state = _State.SS3
        elif ch in "\r\n":
            self._state = _State.NORMAL
            self._emit(KeyKind.NEWLINE)
        elif ch == "\x1b":
            self._emit(KeyKind.ESCAPE)  # the first ESC was a key; the second may start more
        else:
            self._state = _State.NORMAL  # Alt+key: ignored


# --- Recording ------------------------------------------------------------------------------


class Recorder:
    """Appends JSON lines to the ``--record`` file (mode 0600), one ``os.write`` each."""

    def __init__(self, path: str | None) -> None:
        self._fd: int | None = None
        if path:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            self._fd = os.open(path, flags, 0o600)

    def write(self, **event: Any) -> None:
        """Append one event; strings are stored exactly (UTF-8, no ASCII escaping)."""
        if self._fd is None:
            return
        text = json.dumps(event, ensure_ascii=False) + "\n"
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # undecodable argv bytes: write them back as they came
            data = text.encode("utf-8", "surrogateescape")
        os.write(self._fd, data)

    def close(self) -> None:
        """Close the file (later writes are dropped)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# --- The agent's state machine --------------------------------------------------------------


@dataclass
class Options:
    """Parsed command line."""

    model: str = "demo-model"
    name: str | None = None
    resume: str | None = None
    remote_control: str | None = None
    busy: float = 4.0
    control: str | None = None
    record: str | None = None
    swallow_first_enter: bool = False
    prompt: str | None = None
    cwd: str = field(default_factory=os.getcwd)


@dataclass
class Work:
    """A piece of work in progress; ``reply`` is the text to answer, None for ``busy``."""

    started: float
    duration: float
    reply: str | None

    @property
    def deadline(self) -> float:
        """When the work is done (monotonic seconds)."""
        return self.started + self.duration


class FakeAgent:
    """The agent's state: history, input buffer, work, flags. Knows nothing of terminals.

    Every method takes ``now`` (monotonic seconds) so tests can drive it with a fake clock.
    Callers check ``hung`` after each call; ``AgentExit`` is raised by ``crash``.
    """

    def __init__(self, opts: Options, recorder: Recorder, now: float) -> None:
        self.opts = opts
        self.recorder = recorder
        self.blocks: deque[list[Line]] = deque(maxlen=HISTORY_LIMIT)
        self.buffer = ""
        self.work: Work | None = None
        self.queue: deque[str] = deque()
        self.limited = False
        self.hung = False
        self.swallow_enter = opts.swallow_first_enter
        self._echo_open = False  # the last block is an echoed prompt (results attach to it)
        self._commands: dict[str, Callable[[str, float], None]] = {
            "busy": self._cmd_busy,
            "idle": self._cmd_idle,
            "limit": self._cmd_limit,
            "fatal": self._cmd_fatal,
            "crash": self._cmd_crash,
            "hang": self._cmd_hang,
            "say": self._cmd_say,
            "waiting": self._cmd_waiting,
            "run": self._cmd_run,
            "on": self._cmd_on,
        }
        self.reactions: list[tuple[str, str]] = []  # (text to look for, command)
        if opts.prompt:
            self._echo(opts.prompt)
            self._start_work(now, opts.busy, opts.prompt)
            # A scripted demo agent: the kickoff's `/fake CMD` lines run at start.
            for line in opts.prompt.splitlines():
                if line.startswith(COMMAND_PREFIX):
                    self.run_command(line[len(COMMAND_PREFIX):], now)

    # history helpers

    def _add_block(self, *lines: Line) -> None:
        self.blocks.append(list(lines))
        self._echo_open = False

    def _echo(self, text: str) -> None:
        self._add_block(Line(ECHO_MARK + first_line(text), wrap=False))
        self._echo_open = True

    def _result(self, text: str) -> None:
        """A ``  ⎿  text`` line, under the echoed prompt when that is the last block."""
        line = Line(RESULT_MARK + sanitize(text), indent=len(RESULT_MARK))
        if self._echo_open and self.blocks:
            self.blocks[-1].append(line)
        else:
            self._add_block(line)

    def _summary(self, elapsed: float) -> None:
        self._add_block(Line(f"{SUMMARY_GLYPH} Worked for {format_duration(elapsed)}"))

    # work

    @property
    def busy(self) -> bool:
        """True while work is in progress (spinner shown)."""
        return self.work is not None

    def _start_work(self, now: float, seconds: float, reply: str | None) -> None:
        self.work = Work(now, max(seconds, 0.0), reply)

    def _end_turn(self, now: float) -> None:
        """Stop work; print the summary when work was running or a prompt is open."""
        if self.work is not None or self._echo_open:
            self._summary(now - self.work.started if self.work else 0)
        self.work = None

    def _finish_work(self, now: float) -> None:
        assert self.work is not None
        if self.work.reply is not None:
            reply = sanitize(self.work.reply[:REPLY_CHARS])
            self._add_block(Line(f"{REPLY_MARK}Done: {reply}"))
        self._end_turn(now)
        self._next_queued(now)

    def _next_queued(self, now: float) -> None:
        while self.queue and not self.busy and not self.hung:
            self._process(self.queue.popleft(), now)

    def tick(self, now: float) -> None:
        """Advance time: finish work whose time is up."""
        if self.work is not None and now >= self.work.deadline and not self.hung:
            self._finish_work(now)

    def interrupt(self, now: float) -> None:
        """Esc / Ctrl-C while busy: stop, say so, put queued texts back into the input."""
        if self.work is None:
            return
        self.work = None
        self._result(INTERRUPTED_TEXT)
        self._echo_open = False
        if self.queue:
            texts = [*self.queue, self.buffer] if self.buffer else list(self.queue)
            self.buffer = "\n".join(texts)
            self.queue.clear()

    # input

    def on_key(self, key: Key, now: float) -> None:
        """Apply one key event."""
        if self.hung:
            return
        kind = key.kind
        if kind in (KeyKind.TEXT, KeyKind.PASTE):
            self.buffer += key.text
        elif kind is KeyKind.NEWLINE:
            self.buffer += "\n"
        elif kind is KeyKind.BACKSPACE:
            self.buffer = self.buffer[:-1]
        elif kind is KeyKind.ENTER:
            self._on_enter(now)
        elif kind is KeyKind.INTERRUPT:
            if self.busy:
                self.interrupt(now)
            else:
                self.buffer = ""
        elif kind is KeyKind.ESCAPE and self.busy:
            self.interrupt(now)

    def _on_enter(self, now: float) -> None:
        if self.swallow_enter:
            self.swallow_enter = False
            return
        if not self.buffer.strip():
            return
        text, self.buffer = self.buffer, ""
        self.submit(text, now)

    def submit(self, text: str, now: float) -> None:
        """A text submitted from the input box: record it, run the reactions it triggers
        (`on TEXT => CMD`), then queue or process it."""
        self.recorder.write(event="input", text=text)
        for needle, command in self.reactions:
            if needle in text:
                self.run_command(command, now)
        if self.busy and not text.startswith(COMMAND_PREFIX):
            self.queue.append(text)
        else:
            self._process(text, now)

    def _process(self, text: str, now: float) -> None:
        self._echo(text)
        if text.startswith(COMMAND_PREFIX):
            self.run_command(first_line(text[len(COMMAND_PREFIX) :]), now)
        else:
            self.limited = False
            self._start_work(now, self.opts.busy, text)

    # commands

    def control(self, line: str, now: float) -> None:
        """A line from the control file: record it and run it."""
        self.recorder.write(event="control", command=line)
        self.run_command(line, now)

    def run_command(self, line: str, now: float) -> None:
        """Run ``CMD ARGS`` (see the module docstring)."""
        name, _, arg = line.strip().partition(" ")
        handler = self._commands.get(name)
        if handler is None:
            self._result(f"Unknown fake command: {name or '(empty)'}")
            return
        handler(arg.strip(), now)

    def _seconds(self, arg: str) -> float | None:
        if not arg:
            return self.opts.busy
        try:
            value = float(arg)
        except ValueError:
            self._result(f"Not a number of seconds: {arg}")
            return None
        return value if value == value else None  # reject NaN

    def _cmd_busy(self, arg: str, now: float) -> None:
        seconds = self._seconds(arg)
        if seconds is None:
            return
        if self.work is not None:  # keep counting, move the deadline
            self.work.duration = (now - self.work.started) + max(seconds, 0.0)
        else:
            self._start_work(now, seconds, None)

    def _cmd_idle(self, arg: str, now: float) -> None:
        if self.work is not None:
            self._end_turn(now)

    def _cmd_limit(self, arg: str, now: float) -> None:
        self._result(LIMIT_TEXT.format(reset=arg or DEFAULT_RESET))
        self._end_turn(now)
        self.limited = True

    def _cmd_fatal(self, arg: str, now: float) -> None:
        self._result(FATAL_TEXT)
        self._end_turn(now)

    def _cmd_crash(self, arg: str, now: float) -> None:
        try:
            code = int(arg) if arg else 1
        except ValueError:
            code = 1
        raise AgentExit(code)

    def _cmd_hang(self, arg: str, now: float) -> None:
        self.hung = True

    def _cmd_say(self, arg: str, now: float) -> None:
        self._add_block(Line(REPLY_MARK + sanitize(arg)))

    def _cmd_run(self, arg: str, now: float) -> None:
        """Start a shell command in the background (the demo loop's git steps); its output
        is discarded, the screen says it started."""
        if not arg:
            self._result("run: no command")
            return
        subprocess.Popen(["/bin/sh", "-c", arg], stdin=subprocess.DEVNULL,  # noqa: S603
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.recorder.write(event="run", command=arg)
        self._result(f"started: {sanitize(arg[:REPLY_CHARS])}")

    def _cmd_on(self, arg: str, now: float) -> None:
        """`on TEXT => CMD`: whenever a submitted text contains TEXT, run CMD."""
        needle, sep, command = arg.partition("=>")
        if not sep or not needle.strip() or not command.strip():
            self._result("on: expected TEXT => COMMAND")
            return
        self.reactions.append((needle.strip(), command.strip()))

    def _cmd_waiting(self, arg: str, now: float) -> None:
        if self.work is not None:
            self._end_turn(now)
        self._add_block(Line(WAITING_TEXT.format(iso=sanitize(arg)), indent=0))

    # drawing

    def view(self, now: float) -> View:
        """What the screen shows at ``now``."""
        spinner = None
        if self.work is not None:
            elapsed = max(now - self.work.started, 0.0)
            glyph = SPINNER_GLYPHS[int(elapsed / SPIN_INTERVAL) % len(SPINNER_GLYPHS)]
            spinner = f"{glyph} {SPINNER_VERB}… ({format_duration(elapsed)} · esc to interrupt)"
        return View(banner_lines(self.opts), list(self.blocks), spinner, self.buffer)


def banner_lines(opts: Options) -> list[str]:
    """The three-line welcome banner (logo, title, model, folder)."""
    title = "Demo Agent (agent-orchestrator fakeagent)"
    if opts.name:
        title += f" · {opts.name}"
    texts = (title, f"{opts.model} · demo", opts.cwd)
    return [f"{art}  {sanitize(text)}" for art, text in zip(BANNER_ART, texts, strict=True)]


# --- Terminal and main loop -----------------------------------------------------------------


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


class ControlFile:
    """The ``--control`` file: polled, read, deleted, split into command lines."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._next_poll = 0.0

    def poll(self, now: float) -> list[str]:
        """Commands waiting in the file (at most one read per CONTROL_INTERVAL)."""
        if self.path is None or now < self._next_poll:
            return []
        self._next_poll = now + CONTROL_INTERVAL
        try:
            with open(self.path, "rb") as fh:
                data = fh.read()
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return []
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        text = data.decode("utf-8", "replace")
        return [line.strip() for line in text.splitlines() if line.strip()]

    def timeout(self, now: float) -> float | None:
        """Seconds until the next poll is due, None without a control file."""
        if self.path is None:
            return None
        return max(self._next_poll - now, 0.0)


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


# --- Command line ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (unknown options are left to ``parse_known_args``)."""
    parser = argparse.ArgumentParser(
        prog="python -m agent_orchestrator.fakeagent",
        description="Fake coding-agent CLI with Claude Code-like screens, for tests.",
    )
    parser.add_argument("--model", default="demo-model")
    parser.add_argument("--name")
    parser.add_argument("--resume")
    parser.add_argument("--remote-control", dest="remote_control")
    parser.add_argument("--busy", type=float, default=4.0)
    parser.add_argument("--control")
    parser.add_argument("--record")
    parser.add_argument("--swallow-first-enter", action="store_true")
    parser.add_argument("prompt", nargs="*")
    return parser


def parse_args(argv: list[str]) -> Options:
    """Parse ``argv``; the prompt is the last positional argument, unknown options ignored."""
    ns, extras = build_parser().parse_known_args(argv)
    positionals = list(ns.prompt) + [e for e in extras if not e.startswith("-") or " " in e]
    prompt = positionals[-1] if positionals else None
    busy = ns.busy if ns.busy == ns.busy else 4.0  # NaN: use the default
    return Options(
        model=ns.model,
        name=ns.name,
        resume=ns.resume,
        remote_control=ns.remote_control,
        busy=max(busy, 0.0),
        control=ns.control,
        record=ns.record,
        swallow_first_enter=ns.swallow_first_enter,
        prompt=prompt or None,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the fake agent; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    opts = parse_args(args)
    recorder = Recorder(opts.record)
    recorder.write(event="start", argv=args, cwd=opts.cwd, pid=os.getpid())
    term = Terminal(sys.stdin.fileno(), sys.stdout.fileno())
    atexit.register(term.restore)
    try:
        runner = Runner(
            FakeAgent(opts, recorder, time.monotonic()), term, ControlFile(opts.control)
        )
        runner.install_signals()
        term.enter()
        runner.run()
    except AgentExit as exc:
        return exc.code
    finally:
        term.restore()
        recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
