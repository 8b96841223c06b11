"""Reading what an agent on another host wrote: `agents logs` (followed) and `agents
transcript` (read, --json, --follow), through the streamed operations of runtime/remote.py
(runtime/remotestream.py there, RemoteStream here).

The JSON-line stream is checked on its own (encoding, the host side following a file until
its stdin ends, the host's process quiet when nobody reads it); then end to end against a
real sshd on loopback and a real tmux server there: the remote demo agent's log, followed
raw and rendered (new output arrives; Ctrl-C leaves nothing running), its transcript placed
in that host's HOME, and a host that does not answer.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_until
from sshhosts import SshHost, _children, ssh_host, sshd_missing

from agent_orchestrator.config import load
from agent_orchestrator.doors import markers
from agent_orchestrator.doors.follow import Piece
from agent_orchestrator.doors.transcript.locate import claude_slug
from agent_orchestrator.runtime import remotestream
from agent_orchestrator.runtime.remotelaunch import RemoteError, RemoteStream

host = ssh_host
needs_sshd = pytest.mark.skipif(sshd_missing() is not None, reason=sshd_missing() or "")
TRANSCRIPTS = Path(__file__).resolve().parent / "fixtures" / "transcripts"
SESSION = "fa1001ac-bd8a-4e99-b5c0-6042fe9e7806"


# --- the stream's lines ------------------------------------------------------------------

@pytest.mark.parametrize("piece", [Piece(b""), Piece(b"\x1b[2Jhi\r\n\xff\x00", fresh=True),
                                   Piece(b"end", final=True)])
def test_a_piece_survives_its_json_line(piece: Piece) -> None:
    line = remotestream.encode(remotestream.piece_record(piece))
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and line.isascii()
    assert remotestream.piece_of(remotestream.decode(line[:-1])) == piece


def test_what_is_not_a_piece_is_refused() -> None:
    for bad in ([1], {"data": 3}, {"fresh": True}, {"data": "not base64!"}):
        with pytest.raises(ValueError):
            remotestream.piece_of(bad)
    with pytest.raises(ValueError):
        remotestream.decode(b"[1, 2]")
    with pytest.raises(ValueError):
        remotestream.decode(b"{nope")


class Lines:
    """A stand-in for doors/sshstream.Stream: lines (None: none came in time), then EOF."""

    def __init__(self, *lines: bytes | None) -> None:
        self.lines = list(lines)
        self.closed = False

    def line(self, timeout: float | None = None) -> bytes | None:
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)

    def finish(self) -> int:
        return 0

    def stderr(self) -> str:
        return ""

    def close(self) -> None:
        self.closed = True


def remote_stream(*lines: bytes | None) -> RemoteStream:
    from agent_orchestrator.config.model import Host

    return RemoteStream(Host(name="h", ssh="h"), "follow", Lines(*lines))  # type: ignore


def test_our_side_turns_lines_back_into_pieces_with_ticks() -> None:
    one, two = Piece(b"history", fresh=True), Piece(b"more")
    stream = remote_stream(b'{"path": "/x", "existed": true, "older": ""}',
                           remotestream.encode(remotestream.piece_record(one))[:-1], None,
                           remotestream.encode(remotestream.piece_record(two))[:-1])
    assert stream.header()["path"] == "/x"
    assert list(stream.pieces(tick=0.1)) == [one, Piece(b""), two]


def test_an_error_line_is_a_remote_error() -> None:
    stream = remote_stream(b'{"error": "OSError: gone"}')
    with pytest.raises(RemoteError, match="host h: follow: OSError: gone"):
        stream.header()
    stream = remote_stream(b'{"path": "/x"}', b"garbage")
    stream.header()
    with pytest.raises(RemoteError, match="not a JSON line"):
        list(stream.pieces())


def test_the_host_side_follows_until_its_stdin_ends(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_bytes(b"abcdefgh")
    (tmp_path / "s.log.1").write_bytes(b"0123456789")
    got: list[dict[str, Any]] = []
    read_end, write_end = os.pipe()
    worker = threading.Thread(target=remotestream.follow_log, args=(
        log, {"bytes": 12, "follow": True}, remotestream.stdin_closed(read_end), got.append))
    worker.start()
    try:
        wait_until(lambda: len(got) >= 2, what="the header and the history")
        assert got[0] == {"path": str(log), "existed": True,
                          "older": base64.b64encode(b"6789").decode()}  # up to 12 in all
        assert remotestream.piece_of(got[1]) == Piece(b"abcdefgh", fresh=True)
        with log.open("ab") as handle:
            handle.write(b"new")
        wait_until(lambda: len(got) >= 3, what="what was written later")
        assert remotestream.piece_of(got[2]) == Piece(b"new")
    finally:
        os.close(write_end)  # the other side is gone
    worker.join(timeout=5)
    assert not worker.is_alive()
    os.close(read_end)


def host_op(op: str, home: Path, request: dict[str, Any]) -> subprocess.Popen[bytes]:
    """runtime/remote.py OP as ssh starts it on a host: the request's line on its stdin."""
    env = dict(os.environ, HOME=str(home), XDG_STATE_HOME=str(home / "state"))
    proc = subprocess.Popen([sys.executable, "-m", "agent_orchestrator.runtime.remote", op],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(request).encode() + b"\n")
    proc.stdin.flush()
    return proc


FLEET = {"prefix": "rr-", "key": "rr-0123"}


def test_the_host_process_ends_quietly_when_nobody_reads(tmp_path: Path) -> None:
    log = tmp_path / "state" / "agent-orchestrator" / "rr-0123" / "rr-x.log"
    log.parent.mkdir(parents=True)
    log.write_bytes(b"hello\n")
    proc = host_op("follow", tmp_path, {"fleet": FLEET, "session": "rr-x", "follow": True})
    assert proc.stdout is not None and proc.stderr is not None
    header = json.loads(proc.stdout.readline())
    assert header["path"] == str(log) and header["existed"] is True
    assert remotestream.piece_of(json.loads(proc.stdout.readline())).data == b"hello\n"
    proc.stdout.close()  # nobody listens: its next write finds no reader
    with log.open("ab") as handle:
        handle.write(b"more\n")
    assert proc.wait(timeout=10) == 0
    assert proc.stderr.read() == b""  # no traceback
    assert proc.stdin is not None
    proc.stdin.close()


def test_the_host_process_reads_once_without_follow_and_says_errors(tmp_path: Path) -> None:
    proc = host_op("follow", tmp_path, {"fleet": FLEET, "session": "rr-none"})
    out, _ = proc.communicate(timeout=10)
    header, history = (json.loads(line) for line in out.splitlines())
    assert header["existed"] is False and remotestream.piece_of(history).data == b""
    bad = host_op("follow", tmp_path, {"fleet": {"prefix": "x", "key": "../up"},
                                       "session": "s"})
    out, err = bad.communicate(timeout=10)
    assert bad.returncode == 1 and "bad fleet key" in json.loads(out)["error"] and not err


def test_the_host_side_finds_a_transcript_in_its_home(tmp_path: Path) -> None:
    folder = tmp_path / ".claude" / "projects" / claude_slug(tmp_path / "w")
    folder.mkdir(parents=True)
    data = (TRANSCRIPTS / "claude_tools.jsonl").read_bytes()
    (folder / f"{SESSION}.jsonl").write_bytes(data)
    proc = host_op("transcript", tmp_path, {"dir": "~/w", "session_id": None,
                                            "backend": "claude claude"})
    out, err = proc.communicate(timeout=10)
    header, whole = (json.loads(line) for line in out.splitlines())
    assert header == {"path": str(folder / f"{SESSION}.jsonl"), "notes": []}
    assert remotestream.piece_of(whole).data == data and not err
    proc = host_op("transcript", tmp_path, {"dir": "~/elsewhere", "backend": "claude"})
    out, _ = proc.communicate(timeout=10)
    assert [json.loads(line) for line in out.splitlines()] == [{"path": None, "notes": []}]


# --- end to end, on a loopback host ------------------------------------------------------

def remote_fleet(make_fleet: Any, host: SshHost, folder: Path, dir_: str = "~") -> Any:
    fleet = make_fleet(host.table() + f"""

        [[agent]]
        name = "b"
        host = "hosta"
        backend = "demob"
        watch = "none"
        dir = "{dir_}"
        prompt = "far go"

        [backend.demob]
        bin = "{{python}} -m agent_orchestrator.fakeagent"
        flags = "--busy 0.2 --control {folder}/ctl-b --record {folder}/rec-b"
        process_name = "python"
        active_re = "esc to interrupt"
    """)
    host.sockets.add(fleet.socket)
    return fleet


class Reader:
    """A pipe's bytes, read in a thread (a test never blocks on a pipe)."""

    def __init__(self, stream: Any) -> None:
        self.data = b""
        self._lock = threading.Lock()
        threading.Thread(target=self._run, args=(stream,), daemon=True).start()

    def _run(self, stream: Any) -> None:
        for chunk in iter(lambda: stream.read1(4096), b""):
            with self._lock:
                self.data += chunk

    def has(self, text: str) -> bool:
        with self._lock:
            return text.encode() in self.data

    def lines(self) -> list[str]:
        with self._lock:
            return self.data.decode("utf-8", "replace").splitlines()


def follower(fleet: Any, *args: str) -> tuple[subprocess.Popen[bytes], Reader, Reader]:
    proc = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", *args, "--config",
                             str(fleet.path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, Reader(proc.stdout), Reader(proc.stderr)


def host_followers(host: SshHost) -> list[int]:
    """Our streamed operations running on `host` (its HOME tells them from others')."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"agent_orchestrator.runtime.remote" in argv and \
                f"HOME={host.home}".encode() in env:
            found.append(int(entry.name))
    return found


def interrupt(proc: subprocess.Popen[bytes], host: SshHost,
              how: signal.Signals = signal.SIGINT) -> None:
    """Ctrl-C (it ends with 130) or a plain kill by its pid: its ssh child and the operation
    on the host end with it. After Ctrl-C the connection is closed too; killed, it had no
    time to: the master it may have started ends on its own (ControlPersist)."""
    children = _children(proc.pid) if how == signal.SIGINT else direct_children(proc.pid)
    assert children and host_followers(host), "the operation runs there while following"
    proc.send_signal(how)
    assert proc.wait(timeout=15) == (130 if how == signal.SIGINT else -how)
    wait_until(lambda: not host_followers(host), what="the host's follower to end")
    wait_until(lambda: not [pid for pid in children if Path(f"/proc/{pid}").exists()],
               what="its ssh child to end")


def direct_children(pid: int) -> list[int]:
    return [child for child in _children(pid)
            if int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid]


@needs_sshd
@pytest.mark.tmux
def test_logs_of_a_remote_agent_follow_what_it_writes(make_fleet: Any, tmp_path: Path,
                                                      host: SshHost) -> None:
    fleet = remote_fleet(make_fleet, host, tmp_path)
    up = fleet.agents("up", "b")
    assert up.returncode == 0, up.stdout + up.stderr
    wait_until(lambda: "● Done: far go" in fleet.agents("logs", "b", "--no-follow").stdout,
               timeout=20, what="the remote agent's turn, rendered")
    raw = fleet.agents("logs", "b", "--raw", "--no-follow", "-n", "200")
    assert raw.returncode == 0 and "\x1b[" in raw.stdout and "far go" in raw.stdout

    rendered, out, err = follower(fleet, "logs", "b", "-n", "50")
    try:
        wait_until(lambda: out.has("● Done: far go"), timeout=20, what="the rendered history")
        fleet.control("b", "say news from far away")
        wait_until(lambda: out.has("● news from far away"), timeout=20,
                   what="a line written after following began")
        interrupt(rendered, host)
        assert out.lines().count("● news from far away") == 1
        assert b"Traceback" not in err.data
    finally:
        if rendered.poll() is None:
            rendered.kill()
            rendered.wait()

    raw_follower, out, err = follower(fleet, "logs", "b", "--raw", "-n", "5")
    try:
        wait_until(lambda: out.data, timeout=20, what="the raw history")
        fleet.control("b", "say raw news")
        wait_until(lambda: out.has("raw news"), timeout=20, what="new bytes, raw")
        interrupt(raw_follower, host, signal.SIGTERM)  # no finally ran: its pipes closed
        assert b"Traceback" not in err.data
    finally:
        if raw_follower.poll() is None:
            raw_follower.kill()
            raw_follower.wait()

    host.stop()  # off the network: a clear error, no traceback
    for args in (("--no-follow",), ()):
        gone = fleet.agents("logs", "b", *args)
        assert gone.returncode == 1 and "logs of b: host hosta" in gone.stderr, gone.stderr
        assert "Traceback" not in gone.stderr


@needs_sshd
def test_transcript_of_a_remote_agent_is_read_on_its_host(make_fleet: Any, tmp_path: Path,
                                                          host: SshHost) -> None:
    fleet = remote_fleet(make_fleet, host, tmp_path)
    missing = fleet.agents("transcript", "b")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "no transcript found for b on host hosta: no Claude Code session for ~ under " \
        "~/.claude/projects/" in missing.stderr, missing.stderr

    folder = host.home / ".claude" / "projects" / claude_slug(host.home)  # "~" there
    folder.mkdir(parents=True)
    data = (TRANSCRIPTS / "claude_tools.jsonl").read_bytes()
    (folder / "older.jsonl").write_bytes(data)
    local = subprocess.run([sys.executable, "-m", "agent_orchestrator", "transcript", "--file",
                            str(folder / "older.jsonl")], capture_output=True, check=False)
    local_json = subprocess.run([sys.executable, "-m", "agent_orchestrator", "transcript",
                                 "--json", "--file", str(folder / "older.jsonl")],
                                capture_output=True, check=False)
    shown = fleet.agents("transcript", "b")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == local.stdout.decode() and "assistant" in shown.stdout
    assert f"hosta:{folder / 'older.jsonl'}" in shown.stderr
    as_json = fleet.agents("transcript", "b", "--json")
    assert as_json.returncode == 0 and as_json.stdout == local_json.stdout.decode()
    turns = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {"user", "assistant"} <= {turn["role"] for turn in turns}

    # The stored session id (kept on this machine) names the file, in any project folder.
    named = host.home / ".claude" / "projects" / "-somewhere-else"
    named.mkdir()
    one = data.splitlines(keepends=True)
    (named / f"{SESSION}.jsonl").write_bytes(b"".join(one[:6]))
    config = load(fleet.path)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    markers.resume_id_file(config, "b").write_text(SESSION)
    by_id = fleet.agents("transcript", "b", "--json")
    assert by_id.returncode == 0 and f"{SESSION}.jsonl" in by_id.stderr, by_id.stderr
    assert len(by_id.stdout.splitlines()) < len(turns)

    # --follow: what is there, then a turn appended after following began.
    followed, out, err = follower(fleet, "transcript", "b", "--follow", "--json")
    try:
        wait_until(lambda: len(out.lines()) == len(by_id.stdout.splitlines()), timeout=20,
                   what="the transcript so far")
        with (named / f"{SESSION}.jsonl").open("ab") as handle:
            handle.write(json.dumps({
                "type": "user", "uuid": "n1", "timestamp": "2026-01-20T12:00:00.000Z",
                "sessionId": SESSION, "message": {"role": "user", "content": "later words"}
            }).encode() + b"\n")
        wait_until(lambda: out.has("later words"), timeout=20, what="a turn appended later")
        assert json.loads(out.lines()[-1])["text"] == "later words"
        interrupt(followed, host)
        assert b"Traceback" not in err.data
    finally:
        if followed.poll() is None:
            followed.kill()
            followed.wait()

    host.stop()
    gone = fleet.agents("transcript", "b")
    assert gone.returncode == 1 and "transcript of b: host hosta" in gone.stderr
    assert "Traceback" not in gone.stderr
