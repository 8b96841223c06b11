"""Starting, stopping and reading an agent on another host: our own code run there.

Each operation is ONE ssh call over the host's multiplexed connection:
`host.python -m agent_orchestrator.runtime.remote OP` with a JSON request on stdin
(runtime/remote.py), so the host runs the same `launch.start` / `launch.stop` as this
machine and every value reaches it byte-exact (no shell sees the JSON).

The plan is made here (config, phase, resume id are this machine's), with two facts of the
host: its prompt file's text (`read`) and the path its kickoff file will have (`where`,
asked once per launcher). Calls are round trips: the watchdog makes them in a worker.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agent_orchestrator.config import Agent, Config
from agent_orchestrator.config.model import Host
from agent_orchestrator.doors import markers
from agent_orchestrator.doors.follow import Piece
from agent_orchestrator.doors.ssh import Connection, SshError, Target
from agent_orchestrator.doors.sshstream import Stream
from agent_orchestrator.doors.tmux import HostUnreachable
from agent_orchestrator.runtime import launch, remotestream
from agent_orchestrator.runtime.remote import MODULE

CALL_TIMEOUT = 20.0  # a start waits for the host's tmux and a boot step's first fork


class RemoteError(OSError):
    """The operation ran on the host and failed there (its own message)."""


def fleet_key(config: Config) -> str:
    """The fleet's folder name on a host: its prefix and a hash of its log folder here, so
    two fleets of one watchdog machine never share one."""
    digest = hashlib.sha256(str(config.log_dir.absolute()).encode("utf-8", "surrogateescape"))
    prefix = config.session_prefix.strip("-_.") or "fleet"
    return f"{prefix}-{digest.hexdigest()[:12]}"


def target_of(host: Host) -> Target:
    return Target(host.name, host.ssh, host.port,
                  str(host.identity_file) if host.identity_file else None,
                  str(host.ssh_config) if host.ssh_config else None)


def socket_on(config: Config, host: Host) -> str | None:
    """The fleet's tmux server name on `host`."""
    return host.tmux_socket or config.tmux_socket


class HostLauncher:
    """Launch operations on one host (thread-safe enough: `where` is asked at most twice)."""

    def __init__(self, config: Config, host: Host, connection: Connection) -> None:
        self.host = host
        self.connection = connection
        self.fleet = {"prefix": config.session_prefix, "key": fleet_key(config),
                      "tmux_socket": socket_on(config, host),
                      "log_max_bytes": config.log_max_bytes, "log_keep": config.log_keep}
        self._where: dict[str, Any] | None = None

    def call(self, op: str, **request: Any) -> dict[str, Any]:
        """Run `op` on the host. Raises HostUnreachable (ssh failed: a TmuxError, as the
        tmux door's) or RemoteError (it ran and failed, or is not installed there)."""
        body = json.dumps({"fleet": self.fleet, **request}, ensure_ascii=False).encode()
        try:
            result = self.connection.run([self.host.python, "-m", MODULE, op], stdin=body,
                                         timeout=CALL_TIMEOUT)
        except SshError as exc:
            raise HostUnreachable(str(exc)) from None
        try:
            answer = json.loads(result.stdout.decode("utf-8"))
        except ValueError:
            said = " ".join(result.stderr.decode("utf-8", "replace").split())[-300:]
            raise RemoteError(f"host {self.host.name}: `{self.host.python} -m {MODULE} {op}` "
                              f"failed (exit {result.returncode}): {said or 'no output'}; "
                              "is agent_orchestrator installed for that python there?") \
                from None
        if result.returncode != 0 or "error" in answer:
            raise RemoteError(f"host {self.host.name}: {op}: {answer.get('error', answer)}")
        return dict(answer)

    def stream(self, op: str, **request: Any) -> RemoteStream:
        """Start the streamed operation `op` on the host (runtime/remotestream.py); close
        the answer when done. Raises HostUnreachable when ssh is not installed."""
        body = json.dumps({"fleet": self.fleet, **request}).encode() + b"\n"
        try:
            return RemoteStream(self.host, op, Stream(
                self.connection, [self.host.python, "-m", MODULE, op], body))
        except SshError as exc:
            raise HostUnreachable(str(exc)) from None

    def where(self) -> dict[str, Any]:
        if self._where is None:
            self._where = self.call("where")
        return self._where

    def plan(self, config: Config, agent: Agent) -> launch.LaunchPlan:
        """`launch.plan_for` for an agent on this host."""
        kickoff = None
        if agent.prompt_file is not None and agent.kind != "loop":
            kickoff = str(self.call("read", path=str(agent.prompt_file))["text"])
        path = Path(self.where()["launch_dir"]) / f"kickoff-{agent.session}.txt"
        return launch.plan_agent(config, agent, markers.phase_index(config),
                                 markers.resume_id(config, agent.name),
                                 kickoff=kickoff, kickoff_path=path)

    def start(self, config: Config, agent: Agent, swept: bool = False) -> None:
        plan = self.plan(config, agent)
        launch.keep_resume_id(plan)  # the conversation's id is kept on this machine
        fields = asdict(plan)
        body = {key: fields[key] for key in ("session", "argv", "env", "kickoff",
                                             "boot_line", "connect_delay", "submit_key",
                                             "boot_guard")}
        body["cwd"] = str(plan.cwd)
        self.call("start", plan=body, swept=swept)

    def stop(self, session: str) -> bool:
        return bool(self.call("stop", session=session)["existed"])


class RemoteStream:
    """A streamed operation running on a host: its header, then its pieces. Every failure
    is HostUnreachable (ssh failed, or the link dropped) or RemoteError (it failed there)."""

    def __init__(self, host: Host, op: str, stream: Stream) -> None:
        self.host, self.op, self._stream = host, op, stream

    def header(self, timeout: float = CALL_TIMEOUT) -> dict[str, Any]:
        """Its first line (the file it follows, and what it found out)."""
        try:
            record = self._next(timeout)
        except EOFError:
            raise RemoteError(f"host {self.host.name}: {self.op} ended without an answer") \
                from None
        if record is None:
            self.close()
            raise HostUnreachable(f"host {self.host.name}: `{self.op}` did not answer within "
                                  f"{timeout:g}s (is agent_orchestrator there as new as "
                                  "here?)")
        return record

    def pieces(self, tick: float | None = None) -> Iterator[Piece]:
        """The followed file's pieces as they come, as doors/follow.follow yields them
        here; with `tick`, also an empty Piece after each `tick` seconds without one (its
        `ticks`). Ends when the operation ended there."""
        while True:
            try:
                record = self._next(tick)
            except EOFError:
                return
            if record is None:
                yield Piece(b"")
                continue
            try:
                yield remotestream.piece_of(record)
            except ValueError as exc:
                raise RemoteError(f"host {self.host.name}: {self.op}: {exc}") from None

    def _next(self, timeout: float | None) -> dict[str, Any] | None:
        """Its next record; None when none came in `timeout` s. Raises EOFError when it
        ended well, else HostUnreachable / RemoteError."""
        try:
            line = self._stream.line(timeout)
        except EOFError:
            self._ended()
            raise
        if line is None:
            return None
        try:
            record = remotestream.decode(line)
        except ValueError:
            raise RemoteError(f"host {self.host.name}: {self.op}: not a JSON line: "
                              f"{line[:200]!r}") from None
        if "error" in record:
            raise RemoteError(f"host {self.host.name}: {self.op}: {record['error']}")
        return record

    def _ended(self) -> None:
        """Its output ended: fine when it exited 0, else why not."""
        try:
            code = self._stream.finish()
        except SshError as exc:
            raise HostUnreachable(str(exc)) from None
        if code != 0:
            said = " ".join(self._stream.stderr().split())[-300:]
            raise RemoteError(f"host {self.host.name}: `{self.host.python} -m {MODULE} "
                              f"{self.op}` failed (exit {code}): {said or 'no output'}; "
                              "is agent_orchestrator installed for that python there?")

    def close(self) -> None:
        """End it (here and, as its stdin ends, there)."""
        self._stream.close()


def launchers(config: Config, control_dir: Path) -> dict[str, HostLauncher]:
    """One launcher per declared host, each on its own connection."""
    return {host.name: HostLauncher(config, host, Connection(target_of(host), control_dir))
            for host in config.hosts}

