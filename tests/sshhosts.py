"""Real OpenSSH "hosts" on loopback for tests: each an `sshd` of its own on a free port, with a
generated host key, one generated client key, and a HOME and TMUX_TMPDIR of its own (set by
sshd's SetEnv), so each host's tmux server and state folder are separate although every
host is this machine and this user.

The client side never reads the real ~/.ssh (ssh finds it through the password database,
not $HOME): each host comes with an ssh_config file (`-F`) naming its port, the client key
and a known_hosts file holding its host key. `SshHost.stop()` / `.start()` take a host off
and on the network (the same port, the same key) to play an unreachable machine.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_orchestrator.doors.ssh import Connection, Target

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def sshd_missing() -> str | None:
    """Why these hosts cannot run here (None when they can)."""
    if not Path(SSHD).exists():
        return "OpenSSH's sshd is not installed (apt-get install openssh-server)"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "the OpenSSH client is not installed"
    if os.geteuid() != 0:
        return "sshd with privilege separation needs root here"
    return None


def control_folder() -> Path:
    """A short folder for ssh master sockets: a socket path must stay under 108 bytes, and
    pytest's tmp paths are long (longer still under pytest-xdist). The test's own
    TMUX_TMPDIR (conftest.py) is short and removed after the test."""
    return Path(os.environ["TMUX_TMPDIR"]) / "ctl"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True, timeout=30)


class SshHost:
    """One sshd on 127.0.0.1:port; `alias` is its Host name in `ssh_config`."""

    def __init__(self, root: Path, alias: str, client_key: Path) -> None:
        self.alias = alias
        # Short folder: tmux's socket path inside it must stay under 108 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix=f"aoh-{alias}-", dir="/tmp"))
        self.home = self.dir / "home"
        self.tmux_tmpdir = self.dir / "tmux"
        for folder in (self.home, self.tmux_tmpdir):
            folder.mkdir(mode=0o700)
        self.port = free_port()
        keygen(self.dir / "host_key")
        (self.dir / "authorized_keys").write_text(
            (client_key.with_suffix(".pub")).read_text(encoding="utf-8"), encoding="utf-8")
        host_pub = (self.dir / "host_key.pub").read_text(encoding="utf-8").split()
        self.known_hosts = root / f"known_hosts-{alias}"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n",
                                    encoding="utf-8")
        self.ssh_config = root / f"ssh_config-{alias}"
        self.ssh_config.write_text(
            f"Host {alias}\n  HostName 127.0.0.1\n  Port {self.port}\n"
            f"  User {getpass.getuser()}\n  IdentityFile {client_key}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.known_hosts}\n  GlobalKnownHostsFile /dev/null\n",
            encoding="utf-8")
        self._config = self.dir / "sshd_config"
        self._config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.dir / 'host_key'}\n"
            f"PidFile {self.dir / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\nLogLevel ERROR\nMaxSessions 200\n"
            "MaxStartups 100:30:200\n"
            f"SetEnv HOME={self.home} TMUX_TMPDIR={self.tmux_tmpdir} "
            f"PATH={os.environ.get('PATH', '/usr/bin:/bin')}"
            # The host runs our code (runtime/remote.py) from the checkout under test.
            f"{' PYTHONPATH=' + os.environ['PYTHONPATH'] if os.environ.get('PYTHONPATH') else ''}"
            "\n",
            encoding="utf-8")
        self._proc: subprocess.Popen[bytes] | None = None
        self.sockets: set[str] = set()  # tmux socket names a test used here: ended at close

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation folder
        self._proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self._config)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self._proc.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"sshd on port {self.port} did not listen within 10 s")

    def stop(self) -> None:
        """Kill this sshd and every session it serves (the host is off the network)."""
        if self._proc is None:
            return
        # -D keeps the listener our child; its per-connection children are in its process
        # group only when started by it, so end them by their parent: the listener. The
        # tree is frozen first: a connection accepted, or a channel's shell forked, between
        # listing and killing would otherwise outlive the kill (its parent gone, it is no
        # longer found) and keep a client's master connection up: the host still answering.
        frozen = [self._proc.pid]
        _signal(self._proc.pid, signal.SIGSTOP)
        while fresh := [pid for pid in _children(self._proc.pid) if pid not in frozen]:
            for pid in fresh:
                _signal(pid, signal.SIGSTOP)
            frozen += fresh
        for pid in reversed(frozen):
            _signal(pid, signal.SIGKILL)
        self._proc.wait(timeout=10)
        self._proc = None

    def table(self) -> str:
        """Its `[host.<alias>]` table for agents.toml (the host runs our code with our own
        interpreter: this machine is the host)."""
        return (f'[host.{self.alias}]\nssh = "{self.alias}"\n'
                f'ssh_config = "{self.ssh_config}"\npython = "{sys.executable}"\n')

    def tmux(self, socket_name: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run tmux on this host's own server (directly: it is this machine)."""
        env = dict(os.environ, HOME=str(self.home), TMUX_TMPDIR=str(self.tmux_tmpdir))
        env.pop("TMUX", None)
        return subprocess.run(["tmux", "-L", socket_name, *args], capture_output=True,
                              text=True, env=env, check=False, timeout=10)

    def close(self, socket_names: tuple[str, ...] = ()) -> None:
        for name in socket_names:
            self.tmux(name, "kill-server")
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc), deepest last."""
    found: list[int] = []
    parents = {pid}
    changed = True
    while changed:
        changed = False
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in found:
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid in parents and int(entry.name) not in parents:
                found.append(int(entry.name))
                parents.add(int(entry.name))
                changed = True
    return found


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def make_client_key(root: Path) -> Path:
    """The client key of the hosts under `root` (made once: every host there takes it)."""
    key = root / "client_key"
    if not key.exists():
        keygen(key)
    return key


def _started(root: Path, alias: str) -> Iterator[SshHost]:
    host = SshHost(root, alias, make_client_key(root))
    host.start()
    yield host
    host.close(tuple(host.sockets))


@pytest.fixture
def ssh_host(tmp_path: Path) -> Iterator[SshHost]:
    """One started loopback host "hosta"; its sshd and tmux servers ended afterwards."""
    yield from _started(tmp_path, "hosta")


@pytest.fixture
def ssh_host_b(tmp_path: Path) -> Iterator[SshHost]:
    """A second loopback host, "hostb": its own sshd, HOME and tmux servers."""
    yield from _started(tmp_path, "hostb")


def connection(host: SshHost, control: Path, name: str = "a",
               timeout: float = 10.0) -> Connection:
    """A Connection to `host` through its own ssh_config (never the real ~/.ssh)."""
    return Connection(Target(name=name, destination=host.alias,
                             ssh_config=str(host.ssh_config)), control, timeout=timeout)
