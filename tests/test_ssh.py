"""doors/ssh.py against a real sshd on loopback (tests/sshhosts.py): words reach the remote
program exactly, one master connection is shared, an unknown host key and a host that is
down are errors that say so, never a hang."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sshhosts import SshHost, connection, control_folder, ssh_host, sshd_missing

from agent_orchestrator.doors.ssh import (
    Connection,
    HostKeyError,
    SshUnreachable,
    remote_line,
)

pytestmark = pytest.mark.skipif(sshd_missing() is not None, reason=sshd_missing() or "")


host = ssh_host  # the fixture, under a shorter name


def connect(host: SshHost, control: Path, **kw: float) -> Connection:
    return connection(host, control, **kw)


WORDS = ["plain", "two words", "it's", "$HOME", "`id`", "a;b", "-n", "", "*", "ünï\tcode",
         "new\nline", "back\\slash", '"quoted"']


def test_each_word_arrives_as_one_argv_element(host: SshHost, tmp_path: Path) -> None:
    conn = connect(host, control_folder())
    result = conn.run([sys.executable, "-c", "import sys, json; print(json.dumps(sys.argv[1:]))",
                       *WORDS])
    assert result.returncode == 0, result.stderr
    import json
    assert json.loads(result.stdout) == WORDS
    conn.close()


def test_stdin_reaches_the_remote_program_byte_exact(host: SshHost, tmp_path: Path) -> None:
    conn = connect(host, control_folder())
    data = bytes(range(256)) * 64
    result = conn.run(["cat"], stdin=data)
    assert result.stdout == data
    conn.close()


def test_the_remote_environment_is_the_hosts_own(host: SshHost, tmp_path: Path) -> None:
    conn = connect(host, control_folder())
    result = conn.run(["sh", "-c", 'printf %s "$HOME"'])
    assert result.stdout.decode() == str(host.home)
    conn.close()


def test_one_master_is_shared_and_close_ends_it(host: SshHost, tmp_path: Path) -> None:
    conn = connect(host, control_folder())
    conn.check()
    assert conn.control_path.is_socket()
    assert (control_folder()).stat().st_mode & 0o777 == 0o700
    check = subprocess.run(conn.ssh_argv("-O", "check"), capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    conn.close()
    check = subprocess.run(conn.ssh_argv("-O", "check"), capture_output=True, text=True)
    assert check.returncode != 0


def test_unknown_host_key_is_refused_with_the_fix(host: SshHost, tmp_path: Path) -> None:
    host.known_hosts.write_text("", encoding="utf-8")
    conn = connect(host, control_folder())
    with pytest.raises(HostKeyError, match="never accept host keys"):
        conn.check()
    assert host.known_hosts.read_text(encoding="utf-8") == ""  # nothing was added


def test_a_host_that_is_down_is_unreachable_quickly(host: SshHost, tmp_path: Path) -> None:
    conn = connect(host, control_folder())
    conn.check()
    host.stop()
    started = time.monotonic()
    with pytest.raises(SshUnreachable):
        conn.check()
    assert time.monotonic() - started < 8
    host.start()
    conn.check()  # back: the next call reconnects on its own
    conn.close()


def test_a_hanging_command_hits_the_timeout(host: SshHost, tmp_path: Path) -> None:
    conn = connect(host, control_folder(), timeout=1.0)
    conn.check()
    with pytest.raises(SshUnreachable, match="no answer within 1s"):
        conn.run(["sleep", "30"])
    conn.close()


def test_remote_line_quotes_every_word() -> None:
    assert remote_line(["a b", "c"]) == "'a b' c"
    with pytest.raises(ValueError):
        remote_line([])
