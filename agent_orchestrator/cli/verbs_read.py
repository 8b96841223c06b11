"""The verbs that read what an agent wrote, and follow it: `agents logs`, `agents transcript`."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from agent_orchestrator.cli.verb import UsageError, UserError, Verb, agent_named, count, load

if TYPE_CHECKING:
    from agent_orchestrator.cli.logrender import LogView
    from agent_orchestrator.config import Config
    from agent_orchestrator.doors.follow import Piece
    from agent_orchestrator.doors.transcript.turns import Turn

LOG_POLL = 0.25  # seconds between looks at a quiet session log
LOG_TAIL_BYTES = 256 * 1024  # the history's last lines are looked for in this much


def _build_logs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="agent or service")
    parser.add_argument("-n", "--lines", type=count, default=40, metavar="N",
                        help="lines of history (40; 0 for none)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("-f", "--follow", action="store_true",
                      help="keep printing what comes next (the default): a line when it "
                      "scrolls off the screen or has stopped changing")
    mode.add_argument("--no-follow", action="store_true", help="print and exit")
    parser.add_argument("--raw", action="store_true",
                        help="the bytes as written (terminal control sequences included), "
                        "not the rendered screen")


def run_logs(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render
    from agent_orchestrator.doors.follow import follow
    from agent_orchestrator.runtime import launch
    from agent_orchestrator.runtime.fleet import check_names

    config = load(args, env=False)
    check_names(config, [args.name])
    target = config.agent(args.name) or config.service(args.name)
    assert target is not None
    if (agent := config.agent(args.name)) is not None and agent.host is not None:
        return _remote_logs(config, args.name, agent.session, args)
    path = launch.log_file(config, target.session)
    if not path.exists():
        if args.no_follow:
            raise UserError(f"no log yet for {args.name} ({path})")
        render.notice(f"no log yet for {args.name}: waiting for {path}")
    # Followed through rotation: the session log's writer renames it away at log_max_bytes.
    pieces = follow(path, LOG_POLL, ticks=not args.raw)
    try:
        history = next(pieces).data[-LOG_TAIL_BYTES:]
        if args.raw:
            render.log_bytes(b"".join(history.splitlines(keepends=True)[-args.lines:]
                                      if args.lines else []))
            if not args.no_follow:
                for piece in pieces:
                    render.log_bytes(piece.data)
        else:
            _rendered(pieces, _view(path, history), args.lines, not args.no_follow)
    finally:
        pieces.close()
    return 0


def _remote_logs(config: Config, name: str, session: str, args: argparse.Namespace) -> int:
    """`logs` of an agent on another host: its log's tail, read there (runtime/remote.py)."""
    from agent_orchestrator.cli import render
    from agent_orchestrator.cli.logrender import LogView
    from agent_orchestrator.runtime import hostfleet, remotelaunch

    agent = config.agent(name)
    assert agent is not None and agent.host is not None
    launcher = remotelaunch.launchers(config, hostfleet.control_dir(config))[agent.host]
    try:
        path, data = launcher.logs(session, LOG_TAIL_BYTES)
    except (OSError, RuntimeError) as exc:  # RemoteError, HostUnreachable
        raise UserError(f"logs of {name}: {exc}") from None
    finally:
        launcher.connection.close()
    if data is None:
        raise UserError(f"no log yet for {name} (host {agent.host}: {path})")
    if args.raw:
        render.log_bytes(b"".join(data.splitlines(keepends=True)[-args.lines:]
                                  if args.lines else []))
    else:
        view = LogView()
        view.feed(_from_a_boundary(data))
        render.log_lines(view.history(args.lines))
    if not args.no_follow:
        render.notice(f"{name} runs on host {agent.host}: its log's last lines are shown "
                      f"(following a log on another host is not supported yet; {path})")
    return 0


def _from_a_boundary(tail: bytes) -> bytes:
    """A tail cut from a longer log, from its first newline or escape sequence on: the cut
    may fall inside a sequence or a character."""
    if len(tail) < LOG_TAIL_BYTES:
        return tail  # the whole log (and its rotated copy): nothing was cut
    starts = [i for i in (tail.find(b"\n"), tail.find(b"\x1b")) if i >= 0]
    return tail[min(starts):] if starts else tail


def _view(path: Path, tail: bytes) -> LogView:
    """The session log at `path` replayed on a terminal emulator (cli/logrender.py), from
    `tail`, its last LOG_TAIL_BYTES. A log just rotated starts mid-screen (a TUI repaints
    only the rows that change): the rotated copy's tail (LOG.1) goes first."""
    from agent_orchestrator.cli.logrender import LogView
    from agent_orchestrator.doors.follow import tail_bytes

    older = tail_bytes(path.with_name(path.name + ".1"), LOG_TAIL_BYTES - len(tail))
    view = LogView()
    view.feed(_from_a_boundary(older + tail))
    return view


def log_lines(path: Path, lines: int) -> list[str]:
    """The last `lines` rendered lines of the session log at `path`, as `agents logs
    --no-follow` prints them (also the MCP tool logs_tail's)."""
    from agent_orchestrator.doors.follow import tail_bytes

    return _view(path, tail_bytes(path, LOG_TAIL_BYTES)).history(lines)


def _rendered(pieces: Iterator[Piece], view: LogView, lines: int, follow: bool) -> None:
    """The rendered log's last `lines` lines, then (`follow`) the lines that complete or
    change as `pieces` come."""
    import time

    from agent_orchestrator.cli import render

    render.log_lines(view.history(lines))
    if not follow:
        return
    view.start_following(time.monotonic())
    for piece in pieces:  # the writer's rotation continues the same terminal: one view
        view.feed(piece.data)
        render.log_lines(view.update(time.monotonic()))


def _build_transcript(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", help="an agent")
    parser.add_argument("--follow", "-f", action="store_true",
                        help="keep printing what the agent says next")
    parser.add_argument("--file", metavar="PATH", type=Path,
                        help="read this .jsonl (Claude Code or Codex) instead")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object a turn (JSON Lines)")


def _agent_transcript(args: argparse.Namespace) -> Path:
    """The transcript file of the agent NAME, found through its stored session id."""
    from agent_orchestrator.cli import render
    from agent_orchestrator.doors import markers, worktrees
    from agent_orchestrator.doors.transcript import locate
    from agent_orchestrator.runtime.launch import CONTINUE_LAST

    config = load(args)
    agent = agent_named(config, args.name)
    if agent.host is not None:  # its CLI wrote it on that host
        raise UserError(f"{agent.name} runs on host {agent.host}: reading its transcript "
                        "from here is not supported yet (`agents logs` and `attach` are)")
    agent = replace(agent, dir=worktrees.work_dir(config, agent))  # where the CLI ran
    backend = config.backend(agent.backend)
    notes: list[str] = []
    stored = markers.resume_id(config, agent.name)
    session_id = None if stored == CONTINUE_LAST else stored
    path = locate.locate(Path.home(), agent.dir, session_id,
                         f"{backend.name} {Path(backend.bin).name}", notes)
    for note in notes:
        render.notice(f"note: {note}")
    if path is None:
        raise UserError(f"no transcript found for {args.name}: no Claude Code session for "
                        f"{agent.dir} under ~/.claude/projects/ and no Codex rollout under "
                        f"~/.codex/sessions/ (give one with --file PATH)")
    return path


def run_transcript(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from agent_orchestrator.cli import render
    from agent_orchestrator.doors.transcript import read

    if args.file is not None:
        if args.name:
            raise UsageError("give either NAME or --file PATH, not both")
        path: Path = args.file
        if not args.file.is_file():
            raise UserError(f"no such file: {args.file}")
    else:
        if not args.name:
            raise UsageError("give an agent NAME, or --file PATH")
        path = _agent_transcript(args)
    if args.follow:
        turns: Iterable[Turn] = read.follow(path, from_start=True)
    else:
        turns = parsed = read.parse(path)
        if parsed.format is None:
            raise UserError(f"{path} is neither a Claude Code transcript nor a Codex rollout")
    render.notice(str(path))
    if args.json:  # one JSON object a line, also while following
        for turn in turns:
            render.json_line(asdict(turn))
    else:
        render.transcript(render.console(), turns)
    skipped = getattr(turns, "skipped", 0)
    if skipped:
        render.notice(f"{skipped} unreadable line(s) skipped")
    return 0


LOGS = Verb(
    "logs", "print and follow an agent's session log, rendered as its screen showed it",
    "agents logs builder -n 100       # the last 100 lines, then what comes next\n"
    "  agents logs builder --no-follow  # print and exit\n"
    "  agents logs builder --raw        # the bytes as the pane wrote them",
    _build_logs, run_logs)
TRANSCRIPT = Verb(
    "transcript", "show an agent's conversation from its Claude Code or Codex session file",
    "agents transcript builder            # the agent's conversation so far\n"
    "  agents transcript builder --follow   # ... and as it goes on\n"
    "  agents transcript --file ~/.codex/sessions/2025/10/29/rollout-....jsonl",
    _build_transcript, run_transcript)
