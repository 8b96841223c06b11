"""The tmux door against a REAL tmux server on a private socket."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import tmux_cmd, wait_until

from agent_orchestrator.doors.tmux import Tmux, TmuxError
from agent_orchestrator.doors.tmuxcontrol import ControlClient
from agent_orchestrator.doors.tmuxparse import (
    no_server,
    parse_captures,
    parse_snapshot,
    parse_version,
)

pytestmark = pytest.mark.tmux

SLEEPER = ["sleep", "600"]


def test_no_server_is_not_an_error(tmux_socket: str) -> None:
    snap = Tmux(tmux_socket).snapshot()
    assert snap.server_running is False
    assert snap.panes == {}


def test_snapshot_sees_every_session_in_one_call(tmux_socket: str) -> None:
    tmux = Tmux(tmux_socket)
    tmux.start("agent-1", SLEEPER)
    tmux.start("agent-10", SLEEPER)
    snap = tmux.snapshot()
    assert snap.server_running is True
    assert set(snap.panes) == {"agent-1", "agent-10"}
    one = snap.pane("agent-1")
    assert one is not None and one.command == "sleep" and one.pid > 0 and not one.dead
    assert one.pane_id.startswith("%") and one.window_id.startswith("@")
    assert one.activity > 0




@pytest.mark.parametrize("text", [
    "it's \"quoted\" $(touch canary) `id` #{session_name} ; tab\there ;",
    ";", "ends in a backslash-semicolon \\;", "two;;", "-t", "--", "\\",
    # Over ATOMIC_PASTE (loaded through stdin), in lines: a tty line holds 4095 bytes.
    "long:\n" + "\n".join(f"{n} " + "x;" * 50 for n in range(200)) + ";",
], ids=["hostile", "semicolon", "backslash-semicolon", "two", "dash-t", "dashes", "backslash",
        "long"])
def test_paste_is_byte_exact_and_leaves_no_buffer(tmux_socket: str, tmp_path: Path,
                                                    wait_for, text: str) -> None:
    out = tmp_path / "received.txt"
    tmux = Tmux(tmux_socket)
    # Read up to END, then publish the text whole (write, then rename into place).
    reader = ("import os, sys; data = ''.join(iter(sys.stdin.readline, 'END\\n')); "
              f"open({str(out)!r} + '.tmp', 'w').write(data); "
              f"os.replace({str(out)!r} + '.tmp', {str(out)!r})")
    tmux.start("reader", [sys.executable, "-c", reader])
    wait_for(lambda: tmux.snapshot().pane("reader"), what="reader session")
    tmux.paste("reader", text, buffer="test-buffer")  # as is: `;` may be its last byte
    tmux.paste("reader", "\nEND", buffer="test-buffer")
    tmux.send_keys("reader", "Enter")
    wait_for(out.exists, what="the reader to write its input")
    assert out.read_text() == text + "\n"
    assert not (tmp_path / "canary").exists()
    # The named buffer was deleted after pasting, and the global buffer was never used.
    assert tmux_cmd(tmux_socket, "list-buffers").stdout.strip() == ""


def test_pipe_receives_pane_output(tmux_socket: str, tmp_path: Path, wait_for) -> None:
    log = tmp_path / "s.log"
    log.touch(mode=0o600)
    Tmux(tmux_socket).start("talker", ["sh", "-c", "echo hello-log; exec sleep 600"],
                            pipe=f"exec cat >> {log}")
    wait_for(lambda: b"hello-log" in log.read_bytes(), what="the pane output in the log")



def test_missing_tmux_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(TmuxError, match="tmux is not installed"):
        Tmux("whatever").snapshot()


def test_other_failures_are_errors_not_empty_fleets(tmux_socket: str) -> None:
    tmux = Tmux(tmux_socket)
    tmux.start("x", SLEEPER)
    with pytest.raises(TmuxError, match="new-session"):
        tmux.start("x", SLEEPER)  # duplicate session


def test_parse_snapshot_keeps_odd_session_names() -> None:
    row = "%3\t77\tnode\t1\t2\t\t1700000000\t1690000000\t@4\tname\twith\ttabs"
    pane = parse_snapshot(row + "\nbroken row\n")["name\twith\ttabs"]
    assert (pane.pid, pane.command, pane.dead, pane.exit_status) == (77, "node", True, 2)
    assert pane.exit_signal is None and pane.activity == 1_700_000_000
    assert pane.created == 1_690_000_000



def test_capture_many_in_one_client_skips_vanished_sessions(tmux_socket: str,
                                                            wait_for) -> None:
    tmux = Tmux(tmux_socket)
    for name in ("c1", "c2", "c3"):
        tmux.start(name, ["sh", "-c", f"echo screen-of-{name}; exec sleep 600"])
    wait_for(lambda: "screen-of-c3" in tmux.capture("c3"), what="output")
    screens = tmux.capture_many(["c1", "gone", "c2", "also-gone", "c3"])
    assert set(screens) == {"c1", "c2", "c3"}
    for name, text in screens.items():
        assert f"screen-of-{name}" in text and "screen-of" not in text.replace(
            f"screen-of-{name}", "")


def test_version_is_read() -> None:
    assert wait_until(lambda: Tmux().version()[0].isdigit(), timeout=2, what="a version")


@pytest.mark.parametrize(("printed", "expected"), [
    ("tmux 3.3a\n", "3.3a"), ("tmux next-3.5\n", "next-3.5"),
    ("tmux openbsd-7.4\n", "openbsd-7.4"), ("tmux 3.4-rc\n", "3.4-rc"),
    ("tmux master\n", "master"), ("", None), ("usage: tmux [-2CDlNuVv]\n", None),
    ("tmux: unknown option -- V\n", None),
])
def test_parse_version(printed: str, expected: str | None) -> None:
    assert parse_version(printed) == expected


def test_version_without_tmux_is_an_error(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TmuxError, match="cannot read the tmux version: tmux is not installed"):
        Tmux().version()


def test_no_server_is_told_from_other_errors() -> None:
    assert no_server("no server running on /tmp/tmux-1000/x")
    assert no_server("error connecting to /tmp/tmux-1000/x (No such file or directory)")
    assert not no_server("can't find session: =x")


def test_parse_captures_splits_a_chain_by_its_markers() -> None:
    out = "noise\n@@n@@ a\nscreen a\n\n\n@@n@@ b c\nscreen b\nline 2\n@@n@@ gone\n"
    assert parse_captures(out, "@@n@@") == {"a": "screen a", "b c": "screen b\nline 2",
                                            "gone": ""}


@pytest.mark.slow
def test_a_session_closing_around_a_control_client_attach_does_not_crash_tmux(
        tmux_socket: str) -> None:
    """tmux 3.3a's server segfaults when a session closes while a control client's attach
    command is in flight (reproduced ~1 time in 30 on a fresh server): the client must be
    fully attached when its constructor returns. Each round: a fresh server, a control
    client, another session killed at once, the client closed; the server must survive."""
    tmux = Tmux(tmux_socket)
    for round_ in range(60):
        tmux.start("keep", SLEEPER)
        tmux.start("other", SLEEPER)
        client = ControlClient(tmux, "keep", lambda: None)
        tmux_cmd(tmux_socket, "kill-session", "-t", "=other")
        client.close()
        assert tmux_cmd(tmux_socket, "has-session", "-t", "=keep").returncode == 0, \
            f"the tmux server died in round {round_}"
        tmux_cmd(tmux_socket, "kill-server")
        wait_until(lambda: not tmux.snapshot().server_running, what="the server to exit")
