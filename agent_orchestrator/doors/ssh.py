"""The only door to OpenSSH: one multiplexed connection per host, commands run through it.

Every remote command is `ssh <our options> DESTINATION -- 'word' 'word' ...`: ssh hands the
words to the remote user's login shell as ONE string, so each word is quoted here
(shlex.quote, POSIX shell rules: the remote login shell must be sh-like, which README says)
and reaches the remote program as the same argv it would have locally.

One connection per host: the first command opens an OpenSSH ControlMaster in a private
control folder (0700, ours) and every later command rides it, so a remote tmux call costs a
local ssh process and a channel, not a TCP and key exchange. `ControlPersist` lets the master
outlive the command that opened it and end on its own after MASTER_IDLE seconds unused (so a
watchdog killed with -9 leaves no ssh behind for long); `close` ends it at once.

What we never do on our own: accept a host key (`StrictHostKeyChecking=yes`: an unknown or
changed key is `HostKeyError` with the fix), ask for a password (`BatchMode=yes`), or wait
forever (`ConnectTimeout`, `ServerAlive*` and a timeout on every call: a hung call is
`SshUnreachable`, never a hung watchdog).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_orchestrator.doors import proctree

DEFAULT_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5  # seconds for TCP + handshake (ssh's ConnectTimeout)
MASTER_IDLE = 60  # seconds an unused master connection stays open (ControlPersist)
ALIVE_INTERVAL, ALIVE_COUNT = 5, 2  # a silent link is dropped after ~10 s


class SshError(RuntimeError):
    """An ssh call failed for a reason other than the remote command's own exit status."""


class SshUnreachable(SshError):
    """The host did not answer (refused, no route, timed out, connection dropped)."""


class HostKeyError(SshError):
    """The host's key is not in known_hosts, or differs from it: we never accept it."""


@dataclass(frozen=True)
class Target:
    """How to reach one host: what the `[host.NAME]` table says, nothing resolved yet.

    `destination` is anything `ssh` accepts as its destination (`user@host`, an alias of
    ~/.ssh/config, `ssh://user@host:port`); the config refuses one starting with `-`.
    """

    name: str
    destination: str
    port: int | None = None
    identity_file: str | None = None
    ssh_config: str | None = None


class Connection:
    """Commands on one host over its multiplexed ssh connection."""

    def __init__(self, target: Target, control_dir: Path,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.target = target
        self.timeout = timeout
        self._control_dir = control_dir
        self._control_made = False

    @property
    def control_path(self) -> Path:
        """The master's socket: short (a unix socket path must stay under 108 bytes, and
        ssh binds it first under this name plus 17 characters), one per host name and
        destination."""
        key = f"{self.target.name}\0{self.target.destination}\0{self.target.port}"
        return self._control_dir / hashlib.sha256(key.encode()).hexdigest()[:12]

    def ssh_argv(self, *extra: str) -> list[str]:
        """`ssh` with our options, `extra` options, and the destination, no command yet.
        (Makes the private control folder the first time: ssh would not.)"""
        if not self._control_made:
            self._control_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._control_made = True
        argv = ["ssh"]
        if self.target.ssh_config:
            argv += ["-F", self.target.ssh_config]
        argv += ["-o", "ControlMaster=auto", "-o", f"ControlPath={self.control_path}",
                 "-o", f"ControlPersist={MASTER_IDLE}",
                 "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                 "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
                 "-o", f"ServerAliveInterval={ALIVE_INTERVAL}",
                 "-o", f"ServerAliveCountMax={ALIVE_COUNT}",
                 "-o", "LogLevel=ERROR"]
        if self.target.port is not None:
            argv += ["-p", str(self.target.port)]
        if self.target.identity_file:
            argv += ["-i", self.target.identity_file, "-o", "IdentitiesOnly=yes"]
        return [*argv, *extra, self.target.destination]

    def argv(self, remote: Sequence[str], *extra: str) -> list[str]:
        """The local argv that runs `remote` (a program and its arguments) on the host."""
        return [*self.ssh_argv(*extra), "--", remote_line(remote)]

    def run(self, remote: Sequence[str], *, stdin: bytes | None = None,
            timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run `remote` on the host; its exit status is the caller's to judge. Raises
        SshUnreachable / HostKeyError / SshError when ssh itself failed (exit 255)."""
        limit = timeout or self.timeout
        try:
            result = subprocess.run(self.argv(remote), input=stdin, capture_output=True,
                                    timeout=limit, check=False, stdin=None if stdin is not None
                                    else subprocess.DEVNULL, env=proctree.untagged(os.environ))
        except subprocess.TimeoutExpired:
            raise SshUnreachable(f"host {self.target.name}: no answer within {limit:g}s") \
                from None
        except FileNotFoundError:
            raise SshError("ssh is not installed (no 'ssh' on PATH)") from None
        if result.returncode == 255:
            raise classify(self.target, result.stderr.decode("utf-8", "replace"))
        return result

    def check(self) -> None:
        """Open the connection if it is not (raises as `run` does when that fails)."""
        result = self.run(["true"])
        if result.returncode != 0:
            raise SshError(f"host {self.target.name}: `true` failed "
                           f"(exit {result.returncode}): is the login shell sh-like?")

    def close(self) -> None:
        """End the master connection now (no error if there is none)."""
        if not self.control_path.exists():
            return
        subprocess.run(self.ssh_argv("-O", "exit"), capture_output=True, check=False,
                       timeout=self.timeout, stdin=subprocess.DEVNULL,
                       env=proctree.untagged(os.environ))


def remote_line(words: Sequence[str]) -> str:
    """`words` as one POSIX shell line in which each stays exactly one word."""
    if not words:
        raise ValueError("no remote command")
    return " ".join(shlex.quote(word) for word in words)


def classify(target: Target, stderr: str) -> SshError:
    """The error for ssh's own failure (exit 255), from what it printed."""
    said = " ".join(stderr.split()) or "ssh exited 255 with no message"
    lowered = said.lower()
    if "host key verification failed" in lowered or "no matching host key" in lowered \
            or "remote host identification has changed" in lowered:
        port = f" -p {target.port}" if target.port else ""
        return HostKeyError(
            f"host {target.name}: its host key is not known (or changed): {said}. We never "
            f"accept host keys on our own: check the key's fingerprint with the host's owner, "
            f"then run `ssh{port} {target.destination}` once yourself and accept it (or add it "
            f"to ~/.ssh/known_hosts with ssh-keyscan)")
    if "permission denied" in lowered:
        return SshError(f"host {target.name}: login refused: {said}. Set up key login "
                        f"(identity_file, or an ssh-agent key) that needs no password")
    return SshUnreachable(f"host {target.name}: {said}")
