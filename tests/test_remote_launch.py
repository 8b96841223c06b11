"""Starting and stopping an agent on another host by running our own code there
(runtime/remote.py over ssh, runtime/remotelaunch.py here), against a real sshd on loopback:
the session runs on THAT host's tmux, its kickoff file and log are the host's, the prompt
file is read there, the prompt arrives byte-exact, and stop leaves nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import wait_until, write_config
from sshhosts import SshHost, control_folder, ssh_host, sshd_missing

from agent_orchestrator.config import load
from agent_orchestrator.runtime import remote, remotelaunch

pytestmark = pytest.mark.skipif(sshd_missing() is not None, reason=sshd_missing() or "")
host = ssh_host
PROMPT = "it's $HOME; `id` \"q\" ünï {x} ;"


def remote_config(tmp_path: Path, host: SshHost, socket: str, prompt_line: str):
    host.sockets.add(socket)
    path = write_config(tmp_path / "proj", host.table() + f"""

        [[agent]]
        name = "far"
        host = "hosta"
        backend = "demo"
        dir = "{host.home}"
        {prompt_line}

        [backend.demo]
        bin = "{{python}} -m agent_orchestrator.fakeagent"
        flags = "--busy 0.2 --record {host.home}/rec.jsonl"
        process_name = "python"
    """, socket, prefix="rl-")
    return load(path)


def records(host: SshHost) -> list[dict]:
    path = host.home / "rec.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return [json.loads(line) for line in lines if line.strip()]


def launcher(config, tmp_path: Path) -> remotelaunch.HostLauncher:
    return remotelaunch.launchers(config, control_folder())["hosta"]


def test_start_runs_on_the_host_with_its_files_and_stop_ends_it(
        host: SshHost, tmp_path: Path) -> None:
    (host.home / "p.md").write_text(PROMPT, encoding="utf-8")
    config = remote_config(tmp_path, host, "rl1", 'prompt_file = "~/p.md"')
    far = launcher(config, tmp_path)
    try:
        where = far.where()
        assert where["log_dir"].startswith(str(host.home))  # the host's HOME, not ours
        assert Path(where["log_dir"]).stat().st_mode & 0o777 == 0o700
        assert Path(where["log_dir"]).parent.stat().st_mode & 0o777 == 0o700
        far.start(config, config.agents[0])
        assert "rl-far" in host.tmux("rl1", "ls").stdout
        wait_until(lambda: any(PROMPT in r.get("argv", ()) for r in records(host)),
                   what="the prompt, byte-exact, in the remote agent's argv")
        kickoff = Path(where["launch_dir"]) / "kickoff-rl-far.txt"
        assert kickoff.read_text(encoding="utf-8") == PROMPT
        assert kickoff.stat().st_mode & 0o777 == 0o600
        assert kickoff.parent.stat().st_mode & 0o777 == 0o700  # the host's launch folder
        wait_until(lambda: remote_log(far, "rl-far")[1], what="the remote log")
        path, _ = remote_log(far, "rl-far")
        assert path.startswith(str(host.home))
        assert far.stop("rl-far") is True
        assert "rl-far" not in host.tmux("rl1", "ls").stdout
        assert far.stop("rl-far") is False
    finally:
        far.connection.close()


def test_a_failure_there_is_a_clear_error(host: SshHost, tmp_path: Path) -> None:
    config = remote_config(tmp_path, host, "rl2", 'prompt_file = "~/missing.md"')
    far = launcher(config, tmp_path)
    try:
        with pytest.raises(remotelaunch.RemoteError, match="missing.md"):
            far.start(config, config.agents[0])
        assert remote_log(far, "rl-far")[1] is None
    finally:
        far.connection.close()


def remote_log(far: remotelaunch.HostLauncher, session: str) -> tuple[str, bytes | None]:
    """The session log's path there and what it holds (None: no log), as `agents logs
    --no-follow` reads it (the streamed `follow` operation, not following)."""
    stream = far.stream("follow", session=session, bytes=65536, follow=False)
    try:
        header = stream.header()
        data = b"".join(piece.data for piece in stream.pieces())
        return str(header["path"]), data if header.get("existed") else None
    finally:
        stream.close()


def test_the_host_side_refuses_an_unknown_operation(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert remote.main(["nope", "extra"]) == 1
    assert "usage" in capsys.readouterr().out
