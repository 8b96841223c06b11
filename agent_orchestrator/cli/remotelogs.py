"""`agents logs` and `agents transcript` of an agent on another host: the file is followed
there (runtime/remotestream.py over the host's ssh connection), its pieces come here and go
through the same readers and renderers as a local agent's (cli/verbs_read.py).

A Ctrl-C, or the end of output, ends our ssh child (by its pid) and the connection; the
operation on the host ends as its stdin does. A host that cannot be reached, or on which
the operation fails, is a UserError naming it.
"""

from __future__ import annotations

import argparse
import base64
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from agent_orchestrator.cli.verb import UserError
from agent_orchestrator.doors.follow import Piece

if TYPE_CHECKING:
    from agent_orchestrator.config import Agent, Config
    from agent_orchestrator.doors.transcript.turns import Turn
    from agent_orchestrator.runtime.remotelaunch import RemoteStream


@contextmanager
def _streamed(config: Config, agent: Agent, what: str, op: str,
              **request: object) -> Iterator[RemoteStream]:
    """The streamed operation `op` running on the agent's host; its failures (there or on
    the way) as a UserError saying `what` failed. Ended, with the connection, on the way out."""
    from agent_orchestrator.doors.tmux import HostUnreachable
    from agent_orchestrator.runtime import hostfleet, remotelaunch

    assert agent.host is not None
    launcher = remotelaunch.launchers(config, hostfleet.control_dir(config, verb=True))[agent.host]
    stream = None
    try:
        stream = launcher.stream(op, **request)
        yield stream
    except (HostUnreachable, remotelaunch.RemoteError) as exc:
        raise UserError(f"{what} of {agent.name}: {exc}") from None
    finally:
        if stream is not None:
            stream.close()
        launcher.connection.close()


def logs(config: Config, agent: Agent, args: argparse.Namespace) -> int:
    """`agents logs NAME` of an agent on another host: its session log followed there."""
    from agent_orchestrator.cli import render, verbs_read

    follow = not args.no_follow
    with _streamed(config, agent, "logs", "follow", session=agent.session,
                   bytes=verbs_read.LOG_TAIL_BYTES, follow=follow) as stream:
        header = stream.header()
        path = header.get("path")
        if not header.get("existed"):
            if not follow:
                raise UserError(f"no log yet for {agent.name} (host {agent.host}: {path})")
            render.notice(f"no log yet for {agent.name}: waiting for {path} "
                          f"on host {agent.host}")
        older = base64.b64decode(str(header.get("older") or ""))
        pieces = stream.pieces(None if args.raw else verbs_read.LOG_POLL)
        verbs_read.show_log(pieces, lambda size: older[-size:], args)
    return 0


def transcript(config: Config, agent: Agent, args: argparse.Namespace) -> int:
    """`agents transcript NAME` of an agent on another host: its conversation record found
    there (from its folder there and the session id stored here), read or followed."""
    from agent_orchestrator.cli import render, verbs_read
    from agent_orchestrator.doors.transcript import read

    with _streamed(config, agent, "transcript", "transcript", dir=str(agent.dir),
                   session_id=verbs_read.session_id(config, agent),
                   backend=verbs_read.backend_words(config, agent),
                   follow=bool(args.follow)) as stream:
        header = stream.header()
        for note in header.get("notes") or ():
            render.notice(f"note: {note}")
        if header.get("path") is None:
            raise UserError(f"no transcript found for {agent.name} on host {agent.host}: "
                            f"{verbs_read.none_found(agent.dir)} there")
        where = f"{agent.host}:{header['path']}"
        pieces = stream.pieces()
        if args.follow:
            turns: Iterable[Turn] = read.turns_of(pieces, from_start=True)
        else:  # the whole file, in one piece, then the operation ends there
            turns = parsed = read.parse_bytes(b"".join(piece.data for piece in pieces))
            if parsed.format is None:
                raise UserError(f"{where} is neither a Claude Code transcript nor a Codex "
                                "rollout")
        verbs_read.show_transcript(turns, where, args)
    return 0


def log_lines(config: Config, agent: Agent, lines: int) -> list[str]:
    """The last `lines` rendered lines of the session log of an agent on another host, read
    there (the MCP tool logs_tail's), as `agents logs NAME --no-follow` prints them."""
    from agent_orchestrator.cli import verbs_read

    with _streamed(config, agent, "logs", "follow", session=agent.session,
                   bytes=verbs_read.LOG_TAIL_BYTES, follow=False) as stream:
        header = stream.header()
        if not header.get("existed"):
            raise UserError(f"no log yet for {agent.name} (host {agent.host}: "
                            f"{header.get('path')})")
        older = base64.b64decode(str(header.get("older") or ""))
        history = next(stream.pieces(), Piece(b"")).data[-verbs_read.LOG_TAIL_BYTES:]
        return verbs_read.log_view(history, lambda size: older[-size:]).history(lines)
