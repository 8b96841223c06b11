"""logcap: the pipe-pane command, rotation at max bytes, redaction of whole lines, reopening a
deleted log, and private file modes."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_until

from agent_orchestrator.doors import logcap
from agent_orchestrator.doors.logcap import Capture, RotatingLog

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sk-ant-" + "api03-" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
GITHUB = "ghp_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
PEM = ("-----BEGIN OPENSSH PRIVATE KEY-----\r\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\r\n"
       "QyNTUxOQAAACDzVhG0Yb9T5pGm3nXh4Ec1r6y0z\r\n-----END OPENSSH PRIVATE KEY-----\r\n")


_spawned: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _reap() -> Iterator[None]:
    """A logcap a failed test left running is killed, not left spinning."""
    yield
    while _spawned:
        process = _spawned.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


def logcap_process(log: Path, max_bytes: int, keep: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "agent_orchestrator.doors.logcap", str(log),
                                str(max_bytes), str(keep)], stdin=subprocess.PIPE, cwd=ROOT)
    _spawned.append(process)
    return process


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_pipe_command_quotes_and_runs(tmp_path: Path) -> None:
    log = tmp_path / "it's a log.log"
    command = logcap.pipe_command(str(log), 1000, 2)
    assert shlex.quote(sys.executable) in command and shlex.quote(str(log)) in command
    words = shlex.split(command.split(";", 1)[1])
    assert words[0] == "exec" and words[-3:] == [str(log), "1000", "2"]
    # Run it as tmux would, from a folder holding a broken package of the same name.
    decoy = tmp_path / "project" / "agent_orchestrator"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise SystemExit('the pane folder was imported')\n")
    subprocess.run(["sh", "-c", command], input=f"hi {SECRET}\n".encode(), check=True,
                   cwd=decoy.parent, timeout=30)
    assert log.read_text() == "hi [REDACTED:anthropic]\n"
    assert mode(log) == 0o600


@pytest.mark.parametrize(("max_bytes", "keep"), [(0, 1), (-5, 1), (10, -1), (True, 1),
                                                 ("10", 1), (10, 1.5)])
def test_pipe_command_rejects_bad_limits(max_bytes: object, keep: object) -> None:
    with pytest.raises(ValueError):
        logcap.pipe_command("/tmp/x.log", max_bytes, keep)  # type: ignore[arg-type]


@pytest.mark.parametrize("args", [[], ["f"], ["f", "x"], ["f", "0"], ["f", "10", "-1"],
                                  ["f", "1", "2", "3"]])
def test_main_rejects_bad_arguments(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert logcap.main(args) == 2
    assert "usage:" in capsys.readouterr().err


def test_fifty_megabytes_stay_bounded_and_redacted(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    line = (b"\x1b[32mINFO\x1b[0m building module foo/bar.py, 1234 warnings, "
            b"da39a3ee5e6b4b0d3255bfef95601890afd80709 task-list\r\n")
    block = line * (1024 * 1024 // len(line))
    tail = (f"$ env\r\nGITHUB_TOKEN={GITHUB}\r\nkey {SECRET} here\r\n{PEM}"
            "Authorization: Bearer 0123456789abcdefXYZ\r\n").encode() + b"LAST LINE 42\r\n"
    process = logcap_process(log, 1024 * 1024, 1)
    process.communicate(block * 50 + tail, timeout=120)
    assert process.returncode == 0
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["agent.log", "agent.log.1"]
    assert all(f.stat().st_size <= 1024 * 1024 for f in files)
    assert sum(f.stat().st_size for f in files) <= 2 * 1024 * 1024 + 4096
    data = b"".join(f.read_bytes() for f in reversed(files))
    assert data.endswith(b"\r\n$ env\r\nGITHUB_TOKEN=[REDACTED:github]\r\n"
                         b"key [REDACTED:anthropic] here\r\n[REDACTED:private-key]\r\n"
                         b"Authorization: Bearer [REDACTED:bearer]\r\nLAST LINE 42\r\n")
    assert data.count(line) >= 1024 * 1024 // len(line)  # LOG.1 is full: ≥ 1 MB kept
    for secret in (SECRET, GITHUB, "b3BlbnNzaC1rZXkt", "0123456789abcdefXYZ"):
        assert secret.encode() not in data
    assert all(mode(f) == 0o600 for f in files)


def test_unfinished_line_is_written_after_a_pause(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    process = logcap_process(log, 1_000_000, 1)
    assert process.stdin is not None
    try:
        process.stdin.write(b"done.\n$ ")  # a prompt waiting for input
        process.stdin.flush()
        wait_until(lambda: log.exists() and log.read_bytes() == b"done.\n$ ", timeout=5,
                   what="the prompt")
    finally:
        process.stdin.close()
        assert process.wait(timeout=30) == 0


def test_existing_log_is_made_private_and_appended(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    log.write_bytes(b"old\n")
    os.chmod(log, 0o644)
    subprocess.run([sys.executable, "-m", "agent_orchestrator.doors.logcap", str(log), "100"],
                   input=b"new\n", cwd=ROOT, check=True, timeout=30)
    assert log.read_bytes() == b"old\nnew\n" and mode(log) == 0o600


def capture(log: Path, max_bytes: int = 1_000_000, keep: int = 1) -> Capture:
    return Capture(RotatingLog(str(log), max_bytes, keep))


def test_secret_cut_by_reads_is_redacted(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    cap = capture(log)
    data = f"x {SECRET} y\n{PEM}z".encode()
    for index in range(0, len(data), 7):  # reads of 7 bytes, arriving quickly
        cap.feed(data[index:index + 7], now=index * 0.001)
    cap.close()
    assert log.read_bytes() == b"x [REDACTED:anthropic] y\n[REDACTED:private-key]\r\nz"


def test_partial_flush_stops_at_an_escape(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    cap = capture(log)
    cap.feed(b"\x1b[2Kworking\x1b[1G" + SECRET[:10].encode(), now=0.0)
    assert cap.timeout(0.1) == pytest.approx(logcap.FLUSH_AFTER - 0.1)
    cap.feed(SECRET[10:20].encode(), now=logcap.FLUSH_AFTER)  # due: written up to the escape
    assert log.read_bytes() == b"\x1b[2Kworking"
    cap.feed(SECRET[20:].encode() + b"\r\n", now=logcap.FLUSH_AFTER + 0.1)
    cap.close()
    assert log.read_bytes() == b"\x1b[2Kworking\x1b[1G[REDACTED:anthropic]\r\n"


def test_overlong_line_is_written_in_pieces(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    cap = capture(log)
    cap.feed(b"a" * (logcap.LINE_MAX + 10), now=0.0)
    assert log.stat().st_size == logcap.LINE_MAX + 10 and not cap.pending
    cap.feed(b"word " * (logcap.LINE_MAX // 5 + 10) + b"unfinished", now=0.0)
    assert cap.pending == b"unfinished"  # cut after the last space
    cap.close()


def test_invalid_utf8_passes_through(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    cap = capture(log)
    data = b"\xff\xfe caf\xc3\xa9 \xe2\x82" + b"\xac end\n"
    cap.feed(data[:12], now=0.0)
    cap.feed(data[12:], now=0.0)
    cap.close()
    assert log.read_bytes() == data


def test_unwritable_log_drops_output_and_keeps_reading(tmp_path: Path) -> None:
    log = tmp_path / "gone" / "agent.log"
    process = logcap_process(log, 100_000, 1)
    assert process.stdin is not None
    try:
        process.stdin.write(b"nowhere to go\n" * 10_000)  # more than a pipe holds
        process.stdin.flush()
        log.parent.mkdir()

        def back() -> bool:
            process.stdin.write(b"back\n")  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]
            return log.exists() and b"back\n" in log.read_bytes()

        wait_until(back, timeout=10, what="the log to be created once it can be")
    finally:
        process.stdin.close()
        assert process.wait(timeout=30) == 0


def test_a_big_write_is_cut_at_line_ends(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    out = RotatingLog(str(log), 1000, 5)
    lines = [f"{i:03d} {'z' * 95}\n".encode() for i in range(25)]  # 100 bytes each
    out.write(b"".join(lines[:1]))
    out.write(b"".join(lines[1:]))  # 2400 bytes into a file holding 100
    out.close()
    assert [(tmp_path / f"agent.log.{n}").read_bytes() for n in (2, 1)] + [log.read_bytes()] \
        == [b"".join(lines[:10]), b"".join(lines[10:20]), b"".join(lines[20:])]
