"""The verbs that read what an agent wrote, and follow it: `agents logs`, `agents transcript`."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from agent_orchestrator.cli.verb import UsageError, UserError, Verb, agent_named, count, load

if TYPE_CHECKING:
    from agent_orchestrator.cli.logrender import LogView
    from agent_orchestrator.config import Agent, Config
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
    from agent_orchestrator.doors.follow import follow, tail_bytes
    from agent_orchestrator.runtime import launch
    from agent_orchestrator.runtime.fleet import check_names

    config = load(args, env=False)
    check_names(config, [args.name])
    target = config.agent(args.name) or config.service(args.name)
    assert target is not None
    if (agent := config.agent(args.name)) is not None and agent.host is not None:
        from agent_orchestrator.cli import remotelogs

        return remotelogs.logs(config, agent, args)
    path = launch.log_file(config, target.session)
    if not path.exists():
        if args.no_follow:
            raise UserError(f"no log yet for {args.name} ({path})")
        render.notice(f"no log yet for {args.name}: waiting for {path}")
    # Followed through rotation: the session log's writer renames it away at log_max_bytes.
    pieces = follow(path, LOG_POLL, ticks=not args.raw)
    try:
        show_log(pieces, lambda size: tail_bytes(rotated(path), size), args)
    finally:
        pieces.close()
    return 0


def show_log(pieces: Iterator[Piece], older: Callable[[int], bytes],
             args: argparse.Namespace) -> None:
    """A session log as `agents logs` prints it, here or from another host: the history
    (`pieces`' first, its last LOG_TAIL_BYTES), then (unless --no-follow) what comes, as
    written (--raw) or rendered. `older(n)`: the last n bytes of the rotated copy (LOG.1):
    a log just rotated starts mid-screen (a TUI repaints only the rows that change), so a
    rendered view replays them first."""
    from agent_orchestrator.cli import render

    history = next(pieces).data[-LOG_TAIL_BYTES:]
    if args.raw:
        render.log_bytes(b"".join(history.splitlines(keepends=True)[-args.lines:]
                                  if args.lines else []))
        if not args.no_follow:
            for piece in pieces:
                render.log_bytes(piece.data)
    else:
        _rendered(pieces, log_view(history, older), args.lines, not args.no_follow)


def log_view(history: bytes, older: Callable[[int], bytes]) -> LogView:
    """A session log's `history` (its last LOG_TAIL_BYTES) replayed on a terminal emulator,
    after as much of its rotated copy (`older(n)`: its last n bytes) as there is room for."""
    room = LOG_TAIL_BYTES - len(history)
    return _view((older(room) if room > 0 else b"") + history)


def rotated(path: Path) -> Path:
    """The rotated copy of the session log at `path`."""
    return path.with_name(path.name + ".1")


def _from_a_boundary(tail: bytes) -> bytes:
    """A tail cut from a longer log, from its first newline or escape sequence on: the cut
    may fall inside a sequence or a character."""
    if len(tail) < LOG_TAIL_BYTES:
        return tail  # the whole log (and its rotated copy): nothing was cut
    starts = [i for i in (tail.find(b"\n"), tail.find(b"\x1b")) if i >= 0]
    return tail[min(starts):] if starts else tail


def _view(tail: bytes) -> LogView:
    """A session log's last LOG_TAIL_BYTES (its rotated copy's, then its own) replayed on a
    terminal emulator (cli/logrender.py)."""
    from agent_orchestrator.cli.logrender import LogView

    view = LogView()
    view.feed(_from_a_boundary(tail))
    return view


def log_lines(path: Path, lines: int) -> list[str]:
    """The last `lines` rendered lines of the session log at `path`, as `agents logs
    --no-follow` prints them (also the MCP tool logs_tail's)."""
    from agent_orchestrator.doors.follow import tail_bytes

    return log_view(tail_bytes(path, LOG_TAIL_BYTES),
                    lambda size: tail_bytes(rotated(path), size)).history(lines)


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


def _agent_transcript(config: Config, agent: Agent, args: argparse.Namespace) -> Path:
    """The transcript file of an agent of this machine, found through its stored session
    id."""
    from agent_orchestrator.cli import render
    from agent_orchestrator.doors import worktrees
    from agent_orchestrator.doors.transcript import locate

    agent = replace(agent, dir=worktrees.work_dir(config, agent))  # where the CLI ran
    notes: list[str] = []
    path = locate.locate(Path.home(), agent.dir, session_id(config, agent),
                         backend_words(config, agent), notes)
    for note in notes:
        render.notice(f"note: {note}")
    if path is None:
        raise UserError(f"no transcript found for {args.name}: {none_found(agent.dir)} "
                        "(give one with --file PATH)")
    return path


def session_id(config: Config, agent: Agent) -> str | None:
    """The agent's stored conversation id (kept on this machine, for a remote agent too),
    None when there is none to look for."""
    from agent_orchestrator.doors import markers
    from agent_orchestrator.runtime.launch import CONTINUE_LAST

    stored = markers.resume_id(config, agent.name)
    return None if stored == CONTINUE_LAST else stored


def backend_words(config: Config, agent: Agent) -> str:
    """What tells locate which CLI wrote the transcript: the backend's name and binary."""
    backend = config.backend(agent.backend)
    return f"{backend.name} {Path(backend.bin).name}"


def none_found(folder: Path) -> str:
    return (f"no Claude Code session for {folder} under ~/.claude/projects/ and no Codex "
            "rollout under ~/.codex/sessions/")


def run_transcript(args: argparse.Namespace) -> int:
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
        config = load(args)
        agent = agent_named(config, args.name)
        if agent.host is not None:  # its CLI wrote it on that host: read there
            from agent_orchestrator.cli import remotelogs

            return remotelogs.transcript(config, agent, args)
        path = _agent_transcript(config, agent, args)
    if args.follow:
        turns: Iterable[Turn] = read.follow(path, from_start=True)
    else:
        turns = parsed = read.parse(path)
        if parsed.format is None:
            raise UserError(f"{path} is neither a Claude Code transcript nor a Codex rollout")
    show_transcript(turns, str(path), args)
    return 0


def show_transcript(turns: Iterable[Turn], where: str, args: argparse.Namespace) -> None:
    """A conversation as `agents transcript` prints it (`where`: the file it came from),
    plain or --json, as the turns come."""
    from dataclasses import asdict

    from agent_orchestrator.cli import render

    render.notice(where)
    if args.json:  # one JSON object a line, also while following
        for turn in turns:
            render.json_line(asdict(turn))
    else:
        render.transcript(render.console(), turns)
    skipped = getattr(turns, "skipped", 0)
    if skipped:
        render.notice(f"{skipped} unreadable line(s) skipped")


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
