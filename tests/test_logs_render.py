"""`agents logs`: a session log replayed on a terminal emulator (cli/logrender.py).

LogView is driven by hand on a fake clock; the end-to-end test runs the demo agent's TUI on
a private tmux server with its session log, and reads it back through `agents logs`.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest
from conftest import wait_until
from harness import demo_agent

from agent_orchestrator.cli.logrender import SETTLE, LogView
from agent_orchestrator.cli.verbs_read import LOG_TAIL_BYTES, _from_a_boundary, log_lines
from agent_orchestrator.core.screen import strip_ansi
from agent_orchestrator.fakeagent.screens import Frame, paint

WIDTH, HEIGHT = 40, 6


def frame(*rows: str, cursor: tuple[int, int] = (0, 0)) -> bytes:
    """What the demo agent writes to draw `rows` in place (no newline at all)."""
    return paint(Frame(list(rows), cursor), WIDTH, HEIGHT).encode()


def view() -> LogView:
    return LogView(WIDTH, HEIGHT, keep=100)


def test_plain_output_keeps_what_scrolled_off() -> None:
    log = view()
    log.feed(b"".join(b"line %d\r\n" % i for i in range(20)))
    assert log.history(8) == [f"line {i}" for i in range(12, 20)]
    assert log.history(0) == [] and len(log.history(1000)) == 20
    bare = view()
    bare.feed(b"not from a terminal\nstill lines\n")  # a bare newline returns the carriage
    assert bare.history(5) == ["not from a terminal", "still lines"]


def test_a_tui_redraw_is_its_screen_not_one_long_line() -> None:
    log = view()
    data = frame("banner", "", "❯ go", "✶ Warping… (1s)", "", "  esc to interrupt") \
        + frame("banner", "", "❯ go", "● Done: go", "✻ Worked for 1s", "  ? for shortcuts")
    assert b"\n" not in data and len(strip_ansi(data.decode())) > WIDTH  # the old output
    log.feed(data)
    assert log.history(50) == ["banner", "", "❯ go", "● Done: go", "✻ Worked for 1s",
                               "  ? for shortcuts"]
    assert log.history(2) == ["✻ Worked for 1s", "  ? for shortcuts"]


def test_wide_characters_and_a_cut_sequence() -> None:
    log = view()
    log.feed("漢字 ok\r\n".encode() + b"\x1b[3")  # the rest of the sequence comes later
    log.feed(b"1mred\x1b[0m\r\n")
    assert log.history(5) == ["漢字 ok", "red"]


def test_a_cut_tail_starts_at_a_boundary() -> None:
    tail = b"8;1Hhalf a sequence\x1b[2;1Hwhole" + b"x" * LOG_TAIL_BYTES
    assert _from_a_boundary(tail[:100]) == tail[:100]  # the whole log: nothing cut
    assert _from_a_boundary(tail).startswith(b"\x1b[2;1Hwhole")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def later(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def settled(log: LogView, clock: Clock) -> list[str]:
    """What following prints from now until the screen has settled (a look now, as after
    a read, and one SETTLE later, as a quiet poll's)."""
    return log.update(clock.later(0.1)) + log.update(clock.later(SETTLE + 0.01))


def test_following_prints_settled_rows_once_and_not_the_repaints() -> None:
    log, clock = view(), Clock()
    log.feed(frame("banner", "", "❯ go", "", "  ? for shortcuts"))
    log.start_following(clock.now)
    assert log.update(clock.later(5)) == []  # what was there counts as printed
    busy = [frame("banner", "", "❯ go", "", f"{glyph} Warping… ({n}s)", "  esc to interrupt")
            for n, glyph in enumerate("·✢✳✶✻✽" * 3)]
    printed = []
    for data in busy:  # a spinner repainted every 0.5 s never settles; its footer does
        log.feed(data)
        printed += log.update(clock.later(0.5))
    assert printed == ["  esc to interrupt"]
    log.feed(frame("banner", "", "❯ go", "", "● Done: go", "  ? for shortcuts"))
    assert log.update(clock.later(0.1)) == []  # not settled yet
    assert log.update(clock.later(SETTLE)) == ["● Done: go", "  ? for shortcuts"]
    log.feed(frame("banner", "", "❯ go", "", "● Done: go", "  ? for shortcuts"))
    assert log.update(clock.later(SETTLE * 2)) == []  # the same frame again: nothing new
    # The content grows past the screen: the TUI drops its top rows and repaints the rest
    # one row higher. Only the new row is news.
    log.feed(frame("", "❯ go", "", "● Done: go", "● more", "  ? for shortcuts"))
    assert settled(log, clock) == ["● more"]


def test_following_prints_scrolled_lines_at_once_and_keeps_spacing() -> None:
    log, clock = view(), Clock()
    log.start_following(clock.now)
    log.feed(b"".join(b"out %d\r\n" % i for i in range(10)))  # 10 lines, 6 rows: 5 scroll
    assert log.update(clock.later(0.1)) == [f"out {i}" for i in range(5)]
    assert log.update(clock.later(SETTLE)) == [f"out {i}" for i in range(5, 10)]
    log.feed(b"para one\r\n\r\npara two\r\n")
    assert settled(log, clock) == ["para one", "", "para two"]
    log.feed(b"\r\n" * 10)  # what scrolls off was printed; the new blank lines fold
    assert settled(log, clock) == [""]
    log.feed(b"end\r\n")
    assert settled(log, clock) == ["end"]


def run_agents(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent_orchestrator", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_usage_mistakes_exit_2(make_config: Callable[..., Path]) -> None:
    path = make_config('[[agent]]\nname = "a"\nbackend = "demo"\n')
    for argv in (["-n", "-5"], ["-n", "x"], ["-f", "--no-follow"]):
        result = run_agents("logs", "a", *argv, "--config", str(path))
        assert result.returncode == 2 and "usage:" in result.stderr, (argv, result.stderr)
    missing = run_agents("logs", "a", "--no-follow", "--config", str(path))
    assert missing.returncode == 1 and "no log yet for a" in missing.stderr


def test_a_log_just_rotated_is_read_with_its_rotated_copy(
        make_config: Callable[..., Path]) -> None:
    """The writer rotates mid-stream: the new file holds only the rows repainted since."""
    path = make_config('[[agent]]\nname = "a"\nbackend = "demo"\n')
    log = path.parent / "logs" / "t-a.log"
    log.parent.mkdir()
    log.with_name("t-a.log.1").write_bytes(b"\x1b[2J\x1b[1;1Hbanner\x1b[2;1H\xe2\x9d\xaf go"
                                           b"\x1b[3;1Hspinner 1s")
    log.write_bytes(b"\x1b[3;1H\x1b[K\xe2\x97\x8f Done: go")  # the third row, repainted
    shown = run_agents("logs", "a", "--no-follow", "--config", str(path))
    assert shown.stdout.splitlines() == ["banner", "❯ go", "● Done: go"], shown.stderr


class Reader:
    """A pipe's lines, read in a thread (a test never blocks on a pipe)."""

    def __init__(self, stream: IO[str] | None) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert stream is not None
        threading.Thread(target=lambda: [self.lines.put(x.rstrip("\n")) for x in stream],
                         daemon=True).start()

    def has(self, line: str) -> bool:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return line in self.seen


@pytest.mark.tmux
def test_the_demo_agents_log_reads_as_its_screen(make_fleet: Callable[..., Any],
                                                 tmp_path: Path) -> None:
    fleet = make_fleet(demo_agent("a", tmp_path, watch="none"))
    log = tmp_path / "logs" / "e-a.log"
    # Followed before it exists: waited for.
    follower = subprocess.Popen(
        [sys.executable, "-m", "agent_orchestrator", "logs", "a", "-n", "0", "--config",
         str(fleet.path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        reader, said = Reader(follower.stdout), Reader(follower.stderr)
        wait_until(lambda: said.has(f"agents: no log yet for a: waiting for {log}"),
                   timeout=20, what="the follower to wait for the log")
        assert fleet.agents("up", "a").returncode == 0
        def screen() -> list[str] | None:  # once the turn's end is in the log
            shown = fleet.agents("logs", "a", "-n", "50", "--no-follow")
            lines = shown.stdout.splitlines()
            return lines if lines[-1:] == ["  ? for shortcuts"] and "● Done: go" in lines \
                else None

        lines = wait_until(screen, timeout=20, what="the turn's end, rendered")
        raw = log.read_bytes()
        assert max(len(x) for x in strip_ansi(raw.decode("utf-8", "replace")).split("\n")) \
            > 300  # what stripping gave: one line of redraws
        assert "❯ go" in lines and "✻ Worked for 0s" in lines
        assert log_lines(log, 50) == lines  # what the MCP tool logs_tail returns
        assert all(len(x) <= 120 and "\x1b" not in x for x in lines) and len(lines) <= 40
        assert fleet.agents("logs", "a", "-n", "2", "--no-follow").stdout.splitlines() == \
            lines[-2:]
        assert b"\x1b[" in fleet.agents("logs", "a", "--raw", "--no-follow").stdout.encode()
        # The follower: the screen as it settled, then each new line once.
        wait_until(lambda: reader.has("● Done: go"), timeout=20, what="the rendered follow")
        fleet.control("a", "say hello from the test")
        wait_until(lambda: reader.has("● hello from the test"), timeout=20,
                   what="a new line, followed")
        fleet.control("a", "say and another")
        wait_until(lambda: reader.has("● and another"), timeout=20, what="a second line")
        assert reader.seen.count("● hello from the test") == 1
        assert reader.seen.count("● Done: go") == 1
    finally:
        follower.terminate()
        follower.wait(timeout=10)
