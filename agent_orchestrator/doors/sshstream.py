"""A long-running command on a host, its output read line by line as it comes (doors/ssh.py
runs one to its end; this one follows: `agents logs` / `transcript --follow` of a remote
agent).

The command rides the host's multiplexed connection like any other (the same ssh argv, no
shell here). Its stdin is a pipe we hold open: the command there treats the pipe's end as
"nobody listens any more", so killing our ssh child (by its pid), or our own death, ends it
on the host too. Our ssh child runs in a session of its own: a Ctrl-C in the terminal
reaches us, and we end it, rather than ssh printing its own goodbye.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import tempfile
import time
from collections.abc import Sequence

from agent_orchestrator.doors import proctree
from agent_orchestrator.doors.ssh import Connection, SshError, classify

READ_SIZE = 65536
END_WAIT = 5.0  # seconds a command whose output ended gets to exit


class Stream:
    """`remote` running on the host; `first` (bytes) is written to its stdin at once, which
    then stays open until `close`. Raises SshError when ssh is not installed."""

    def __init__(self, connection: Connection, remote: Sequence[str], first: bytes) -> None:
        self.connection = connection
        self._stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(
                connection.argv(remote), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=self._stderr, env=proctree.untagged(os.environ),
                start_new_session=True)
        except FileNotFoundError:
            self._stderr.close()
            raise SshError("ssh is not installed (no 'ssh' on PATH)") from None
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        self._buffer = b""
        self._ended = False
        try:
            self.proc.stdin.write(first)
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it is gone already: its exit status says why (`finish`)

    def line(self, timeout: float | None = None) -> bytes | None:
        """The next whole line of its output, newline stripped; None when none came within
        `timeout` seconds (None: wait for one). Raises EOFError when the output has ended
        (an unfinished last line is dropped: `finish` then says how it ended)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if self._ended:
                raise EOFError
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._fd, READ_SIZE)
            if not chunk:
                self._ended = True
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def finish(self) -> int:
        """Its exit status, once its output has ended (waits up to END_WAIT s, then ends it).
        Raises SshUnreachable / HostKeyError / SshError when ssh itself failed (exit 255)."""
        try:
            code = self.proc.wait(timeout=END_WAIT)
        except subprocess.TimeoutExpired:
            self.close()
            code = self.proc.returncode
        if code == 255:
            raise classify(self.connection.target, self.stderr())
        return code

    def stderr(self) -> str:
        """What it wrote on stderr (ssh's own messages and the command's)."""
        with contextlib.suppress(OSError, ValueError):
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace")
        return ""

    def close(self) -> None:
        """End it: our ssh child is killed by its pid (its channel closes, so the command
        there reads the end of its stdin and stops), pipes closed. Safe to call twice."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()
        with contextlib.suppress(OSError):
            self._stderr.close()
