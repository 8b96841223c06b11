"""The demo agent's state machine: history, input, work, queue, and the `/fake` commands that
drive it into every state the supervisor recognises. It knows nothing of terminals."""

from __future__ import annotations

import subprocess
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from agent_orchestrator.fakeagent.files import Recorder, commit_task
from agent_orchestrator.fakeagent.keys import Key, KeyKind
from agent_orchestrator.fakeagent.options import Options
from agent_orchestrator.fakeagent.screens import (
    COMMAND_PREFIX,
    DEFAULT_RESET,
    ECHO_MARK,
    FATAL_TEXT,
    INTERRUPTED_TEXT,
    LIMIT_TEXT,
    REPLY_MARK,
    RESULT_MARK,
    SPIN_INTERVAL,
    SPINNER_GLYPHS,
    SPINNER_VERB,
    SUMMARY_GLYPH,
    WAITING_TEXT,
    Line,
    View,
    banner_lines,
)
from agent_orchestrator.fakeagent.text import first_line, format_duration, sanitize

HISTORY_LIMIT = 400  # history blocks kept
REPLY_CHARS = 60


class AgentExit(Exception):
    """Leave the program with an exit status (crash command, signals, lost terminal)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


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
        if self.opts.task and self.opts.prompt:  # one-shot: commit the work, then exit 0
            commit_task(self.opts.cwd, self.opts.prompt, self.work.started, now)
            raise AgentExit(0)
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
