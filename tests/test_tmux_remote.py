"""The tmux door on another host (doors/tmux.py with `remote`), against a real sshd on
loopback: the same calls as locally, each word intact, and a host that is gone is
HostUnreachable, never a hang or a "no server"."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import wait_until
from sshhosts import SshHost, connection, control_folder, ssh_host, sshd_missing

from agent_orchestrator.doors.tmux import HostUnreachable, Tmux
from agent_orchestrator.doors.tmuxcontrol import ControlClient

pytestmark = pytest.mark.skipif(sshd_missing() is not None, reason=sshd_missing() or "")
host = ssh_host


def remote_tmux(host: SshHost, tmp_path: Path, timeout: float = 5.0) -> Tmux:
    name = f"rt{len(host.sockets)}"
    host.sockets.add(name)
    return Tmux(name, remote=connection(host, control_folder(), timeout=timeout),
                timeout=timeout)


def test_start_snapshot_capture_paste_kill(host: SshHost, tmp_path: Path) -> None:
    tmux = remote_tmux(host, tmp_path)
    assert tmux.snapshot().server_running is False
    tmux.start("r-one", ["cat"])
    assert "r-one" in host.tmux(next(iter(host.sockets)), "ls").stdout  # on THAT host's server
    snap = tmux.snapshot()
    assert snap.server_running and "r-one" in snap.panes
    text = "it's $HOME; `id` \"q\" ünï ;"
    tmux.paste("r-one", text, "agents-test")
    tmux.send_keys("r-one", "Enter")
    wait_until(lambda: tmux.capture("r-one").count(text) >= 2, what="the echoed paste")
    assert tmux.capture_many(["r-one", "gone"]).keys() == {"r-one"}
    assert tmux.kill("r-one") is True
    assert tmux.kill("r-one") is False


def test_version_and_attach_argv(host: SshHost, tmp_path: Path) -> None:
    tmux = remote_tmux(host, tmp_path)
    assert tmux.version()[0].isdigit()
    argv = tmux.attach_argv("r-x", switch=False)
    assert argv[0] == "ssh" and "-t" in argv
    assert argv[-1].endswith("attach-session -t =r-x")


def test_control_client_over_ssh_hears_a_session_close(host: SshHost, tmp_path: Path) -> None:
    tmux = remote_tmux(host, tmp_path)
    tmux.start("r-a", ["cat"])
    tmux.start("r-b", ["cat"])
    heard = threading.Event()
    client = ControlClient(tmux, "r-a", heard.set)
    try:
        heard.clear()
        tmux.kill("r-b")
        assert heard.wait(10), "no notification over ssh"
    finally:
        client.close()


def test_a_host_that_is_down_is_unreachable_not_serverless(host: SshHost,
                                                           tmp_path: Path) -> None:
    tmux = remote_tmux(host, tmp_path)
    tmux.start("r-one", ["cat"])
    host.stop()
    with pytest.raises(HostUnreachable, match="host a"):
        tmux.snapshot()
    host.start()
    # Back: the session lived on (the host was off the network, not rebooted).
    wait_until(lambda: _snapshot_or_none(tmux), what="host back")
    assert "r-one" in tmux.snapshot().panes


def _snapshot_or_none(tmux: Tmux) -> object:
    try:
        return tmux.snapshot()
    except HostUnreachable:
        return None
