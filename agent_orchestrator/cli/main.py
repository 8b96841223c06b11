"""`agents`: argparse verbs → functions. The one place that prints errors and picks exit codes.

Exit codes (SPEC §2): 0 ok, 1 a failed check or runtime error (message on stderr), 2 bad
usage. A user's mistake (bad config, unknown agent, tmux missing) is a message, never a
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agent_orchestrator import __version__

if TYPE_CHECKING:  # imports are lazy at run time: `agents --help` must stay fast
    from agent_orchestrator.config import Config
    from agent_orchestrator.doors.tmux import Tmux

EXAMPLES = {
    "up": "agents up                 # every enabled agent, services and the watchdog\n"
          "  agents up builder         # just one agent (and the watchdog)",
    "down": "agents down               # everything, the watchdog included\n"
            "  agents down builder       # stop one agent; the watchdog will not heal it",
    "status": "agents status --config ~/proj/agents.toml\n"
              "  agents status --json | jq '.agents[] | select(.state == \"crash-looping\")'",
    "logs": "agents logs builder -n 100",
    "init": "agents init ~/proj        # writes ~/proj/agents.toml and ~/proj/prompts/\n"
            "  agents init --loop-demo /tmp/loopdemo   # watch a builder and an adversary",
    "check": "agents check --config agents.toml",
    "selftest": "agents selftest",
    "watchdog": "agents watchdog           # normally started by `agents up` in its own session",
    "events": "agents events --since 8h          # what happened overnight\n"
              "  agents events -f --agent builder   # follow one agent's decisions live",
    "phase": "agents phase             # which phase, and whether its status says DONE\n"
             "  agents phase set 0       # back to the first phase (0-based)\n"
             "  agents phase next",
    "explain": "agents explain builder --json\n"
               "  agents explain --backend codex --screen saved-screen.txt",
    "doctor": "agents doctor --config ~/proj/agents.toml",
    "transcript": "agents transcript builder            # the agent's conversation so far\n"
                  "  agents transcript builder --follow   # ... and as it goes on\n"
                  "  agents transcript --file ~/.codex/sessions/2025/10/29/rollout-....jsonl",
}
PURPOSES = {
    "up": "start agents, services and the watchdog (running sessions are left alone)",
    "down": "stop agents and services (all of them and the watchdog when none are named)",
    "status": "show every agent: kind, backend, model, watch mode, state",
    "logs": "print and follow an agent's session log",
    "init": "scaffold agents.toml and prompts/ in a folder (never overwrites)",
    "check": "validate the config and list every error found",
    "selftest": "check the built-in screen classifiers against sample screens",
    "watchdog": "run the supervisor loop in the foreground",
    "events": "the watchdog's decisions (time, agent, event, reason), optionally followed",
    "phase": "show or move the loop's phase (the loop agents restart on a new one)",
    "explain": "show which state the watchdog sees on an agent's screen, and why",
    "doctor": "check tmux, the agent CLIs, the config and the folders",
    "transcript": "show an agent's conversation from its Claude Code or Codex session file",
}


class UserError(Exception):
    """A message for the user, exit status 1."""


def _parser() -> argparse.ArgumentParser:
    config_opt = argparse.ArgumentParser(add_help=False)
    config_opt.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                            help="config file (default: ./agents.toml)")
    parser = argparse.ArgumentParser(
        prog="agents", parents=[config_opt],
        description="Run a fleet of AI coding agents in tmux and keep them working.",
        epilog="Run 'agents VERB --help' for a verb's options and an example.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"agents {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")

    def verb(name: str) -> argparse.ArgumentParser:
        return verbs.add_parser(name, parents=[config_opt], help=PURPOSES[name],
                                description=PURPOSES[name] + ".",
                                epilog="example:\n  " + EXAMPLES[name],
                                formatter_class=argparse.RawDescriptionHelpFormatter)

    verb("up").add_argument("names", nargs="*", metavar="NAME", help="agents or services")
    verb("down").add_argument("names", nargs="*", metavar="NAME", help="agents or services")
    status = verb("status")
    status.add_argument("--json", action="store_true",
                        help="one JSON document (shape documented in README)")
    status.add_argument("--watch", action="store_true", help="refresh every second until Ctrl-C")
    logs = verb("logs")
    logs.add_argument("name", metavar="NAME", help="agent or service")
    logs.add_argument("-n", "--lines", type=int, default=40, help="lines of history (40)")
    logs.add_argument("--no-follow", action="store_true", help="print and exit")
    logs.add_argument("--raw", action="store_true",
                      help="the bytes as written (terminal control sequences included)")
    init = verb("init")
    init.add_argument("dir", nargs="?", default=".", metavar="DIR",
                      help="folder to scaffold (default: .)")
    init.add_argument("--loop-demo", action="store_true",
                      help="a runnable builder/adversary demo (its own git repos, demo agents)")
    verb("check")
    verb("selftest")
    verb("watchdog")
    explain = verb("explain")
    explain.add_argument("name", nargs="?", metavar="NAME", help="a running agent")
    explain.add_argument("--backend", metavar="B", help="judge a saved screen as backend B")
    explain.add_argument("--screen", metavar="FILE", type=Path,
                         help="a saved screen (e.g. `tmux capture-pane -p > FILE`)")
    explain.add_argument("--json", action="store_true", help="machine-readable output")
    verb("doctor")
    events = verb("events")
    events.add_argument("-f", "--follow", action="store_true", help="keep printing new ones")
    events.add_argument("--agent", metavar="NAME", help="only this agent's")
    events.add_argument("--since", metavar="WHEN",
                        help="only newer ones: 30m, 8h, 2d or an ISO time")
    events.add_argument("--json", action="store_true", help="the JSON lines as recorded")
    transcript = verb("transcript")
    transcript.add_argument("name", nargs="?", metavar="NAME", help="an agent")
    transcript.add_argument("--follow", "-f", action="store_true",
                            help="keep printing what the agent says next")
    transcript.add_argument("--file", metavar="PATH", type=Path,
                            help="read this .jsonl (Claude Code or Codex) instead")
    transcript.add_argument("--json", action="store_true",
                            help="one JSON object a turn (JSON Lines)")
    phase = verb("phase")
    phase.add_argument("action", nargs="?", choices=("show", "set", "next"), default="show")
    phase.add_argument("index", nargs="?", metavar="N", help="for set: the 0-based phase")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.verb:
        parser.print_help()
        return 2
    handler: Callable[[argparse.Namespace], int] = globals()[f"_cmd_{args.verb}"]
    from agent_orchestrator.config import ConfigError
    from agent_orchestrator.config.filetrust import Untrusted
    from agent_orchestrator.doors.state import AlreadyRunning
    from agent_orchestrator.doors.tmux import TmuxError
    from agent_orchestrator.runtime.fleet import UnknownNames

    try:
        return handler(args)
    except ConfigError as exc:
        print(f"agents: invalid config:\n{exc}", file=sys.stderr)
        if args.verb in ("up", "watchdog"):
            _name_the_snapshot(args)
    except (UserError, UnknownNames, TmuxError, AlreadyRunning, Untrusted) as exc:
        print(f"agents: {exc}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, AlreadyRunning) else 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"agents: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
              file=sys.stderr)
    return 1


def _config_path(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "config", None) or "agents.toml")


def _load(args: argparse.Namespace, env: bool = True) -> Config:
    from agent_orchestrator import config as config_mod

    path = _config_path(args)
    if not path.exists():
        raise UserError(f"no config file at {path} (use --config PATH, or 'agents init')")
    return config_mod.load(path, os.environ if env else None)


def _tmux(config: Config) -> Tmux:
    from agent_orchestrator.doors.tmux import Tmux

    return Tmux(config.tmux_socket)


def _cmd_up(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render
    from agent_orchestrator.runtime import fleet

    config = _load(args)
    render.outcomes(render.console(), fleet.up(config, _tmux(config), args.names))
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render
    from agent_orchestrator.runtime import fleet

    config = _load(args, env=False)
    render.outcomes(render.console(), fleet.down(config, _tmux(config), args.names))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    import json

    from agent_orchestrator.cli import render, status
    from agent_orchestrator.config import ConfigError
    from agent_orchestrator.doors import state

    try:
        config = _load(args)
    except ConfigError as exc:
        # The watchdog keeps running the last good config: show that fleet, and say why.
        fallback = state.last_good_config(_config_path(args))
        if fallback is None:
            raise
        print(f"agents: the config has errors; showing the last good one the watchdog "
              f"runs:\n{exc}", file=sys.stderr)
        config = fallback
    tmux = _tmux(config)
    if args.json:
        print(json.dumps(status.status(config, tmux).to_json(), indent=2))
        return 0
    if not args.watch:
        render.status(render.console(), status.status(config, tmux), config)
        return 0
    from rich.live import Live  # noqa: PLC0415 - only the live view needs it

    with Live(render.status_table(status.status(config, tmux), config),
              console=render.console(), auto_refresh=False) as live:
        while True:
            time.sleep(1)
            live.update(render.status_table(status.status(config, tmux), config),
                        refresh=True)


def _cmd_check(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render

    render.check_ok(render.console(), _load(args))
    return 0


def _name_the_snapshot(args: argparse.Namespace) -> None:
    """After an invalid config stopped `up`/`watchdog`: say that an older fleet was not
    started from the last good copy on purpose (it may no longer be what the user wants)."""
    from agent_orchestrator.doors import state

    fallback = state.last_good_config(_config_path(args))
    if fallback is not None:
        print(f"agents: the last good config is kept in "
              f"{state.last_good_file(fallback.state_dir)}; nothing is started from it: fix "
              "the file (`agents check`) and run this again", file=sys.stderr)


def _cmd_watchdog(args: argparse.Namespace) -> int:
    from agent_orchestrator.runtime import watchdog

    watchdog.run(_load(args, env=False))
    return 0


def _cmd_selftest(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render, selftest

    results = selftest.run()
    render.selftest(render.console(), results)
    return 0 if all(ok for _, ok, _ in results) else 1


def _cmd_explain(args: argparse.Namespace) -> int:
    import json
    from datetime import datetime

    from agent_orchestrator import config as config_mod
    from agent_orchestrator.cli import render
    from agent_orchestrator.core import explain
    from agent_orchestrator.doors import state

    now = datetime.now().astimezone()
    if args.screen is not None or args.backend is not None:
        if args.screen is None or args.backend is None or args.name:
            raise UserError("give either NAME, or both --backend B and --screen FILE")
        config_path = _config_path(args)
        backends = {}
        if config_path.exists():  # the user's overrides of presets count
            backends = {b.name: b for b in config_mod.load(config_path).backends}
        try:
            backend = backends.get(args.backend) or config_mod.builtin_backend(args.backend)
        except KeyError:
            known = sorted(set(backends) | set(config_mod.PRESETS))
            raise UserError(f"unknown backend '{args.backend}' "
                            f"(known: {', '.join(known)})") from None
        screen = args.screen.read_text(encoding="utf-8", errors="replace")
        result = explain.explain_screen(screen, backend, now)
    else:
        if not args.name:
            raise UserError("give an agent NAME, or --backend B --screen FILE")
        config = _load(args, env=False)
        agent = config.agent(args.name)
        if agent is None:
            from agent_orchestrator.runtime.fleet import check_names

            check_names(config, [args.name])
            raise UserError(f"'{args.name}' is a service, not an agent")
        screen = _tmux(config).capture(agent.session)
        memory, _ = state.load_memory(config, quarantine=False)
        active_at = memory.agent(agent.name).active_at
        idle = max(time.monotonic() - active_at, 0.0) if active_at is not None else None
        result = explain.explain_screen(screen, config.backend(agent.backend), now,
                                        agent.name, idle)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        render.explanation(render.console(), result)
    return 0


def _cmd_phase(args: argparse.Namespace) -> int:
    from agent_orchestrator.core import phases
    from agent_orchestrator.doors import state

    config = _load(args, env=False)
    loop = config.loop
    if loop is None or not loop.phases:
        raise UserError("the config has no [loop] phases")
    current = state.phase_index(config)
    if args.action == "show":
        if args.index is not None:
            raise UserError("`phase show` takes no N")
        for number, phase in enumerate(loop.phases):
            mark = "→" if number == current else " "
            models = ", ".join(f"{r}={m}" for r, m in phase.models) or "agents' own models"
            print(f"{mark} {number}  {phase.id:<20} status {phase.status}  ({models})")
        memory, _ = state.load_memory(config, quarantine=False)
        if memory.loop.sequence_complete:
            print("the sequence is complete (SEQUENCE-COMPLETE written)")
        return 0
    if args.action == "set":
        if args.index is None:
            raise UserError("usage: agents phase set N (0-based)")
        try:
            target = phases.validate_target(args.index, len(loop.phases))
        except ValueError as exc:
            raise UserError(str(exc)) from None
    else:
        if args.index is not None:
            raise UserError("`phase next` takes no N")
        if current + 1 >= len(loop.phases):
            raise UserError(f"already at the last phase ({current}: {loop.phases[current].id})")
        target = current + 1
    state.ensure_dirs(config)
    state.write_phase_index(config, target)
    print(f"phase {target}: {loop.phases[target].id} (the watchdog restarts the loop agents "
          "on it)")
    return 0


def _cmd_events(args: argparse.Namespace) -> int:
    import json

    from agent_orchestrator.cli import render
    from agent_orchestrator.doors import eventlog

    config = _load(args, env=False)
    try:
        since = eventlog.parse_since(args.since) if args.since else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    out = render.console()
    records = eventlog.follow(config.log_dir, from_start=True) if args.follow else \
        eventlog.read(config.log_dir)
    for record in records:
        if not eventlog.matches(record, agent=args.agent, since=since):
            continue
        if args.json:
            print(json.dumps(record, ensure_ascii=False), flush=True)
        else:
            render.event(out, record)
    return 0


def _cmd_transcript(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from agent_orchestrator.cli import render
    from agent_orchestrator.doors import state
    from agent_orchestrator.doors.transcript import locate, read
    from agent_orchestrator.doors.transcript.turns import Turn
    from agent_orchestrator.runtime.launch import CONTINUE_LAST

    if args.file is not None:
        if args.name:
            raise UserError("give either NAME or --file PATH, not both")
        path: Path | None = args.file
        if not args.file.is_file():
            raise UserError(f"no such file: {args.file}")
    else:
        if not args.name:
            raise UserError("give an agent NAME, or --file PATH")
        config = _load(args)
        agent = config.agent(args.name)
        if agent is None:
            from agent_orchestrator.runtime.fleet import check_names

            check_names(config, [args.name])
            raise UserError(f"'{args.name}' is a service, not an agent")
        backend = config.backend(agent.backend)
        notes: list[str] = []
        stored = state.resume_id(config, agent.name)
        session_id = None if stored == CONTINUE_LAST else stored
        path = locate.locate(Path.home(), agent.dir, session_id,
                                 f"{backend.name} {Path(backend.bin).name}", notes)
        for note in notes:
            print(f"agents: note: {note}", file=sys.stderr)
        if path is None:
            raise UserError(f"no transcript found for {args.name}: no Claude Code session for "
                            f"{agent.dir} under ~/.claude/projects/ and no Codex rollout under "
                            f"~/.codex/sessions/ (give one with --file PATH)")
    assert path is not None
    if args.follow:
        turns: Iterable[Turn] = read.follow(path, from_start=True)
    else:
        turns = parsed = read.parse(path)
        if parsed.format is None:
            raise UserError(f"{path} is neither a Claude Code transcript nor a Codex rollout")
    print(f"agents: {path}", file=sys.stderr)
    if args.json:  # one JSON object a line, also while following
        for turn in turns:
            print(json.dumps(asdict(turn), ensure_ascii=False), flush=True)
    else:
        render.transcript(render.console(), turns)
    skipped = getattr(turns, "skipped", 0)
    if skipped:
        print(f"agents: {skipped} unreadable line(s) skipped", file=sys.stderr)
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import doctor, render

    checks = doctor.run(_config_path(args))
    render.doctor(render.console(), checks)
    return 1 if any(c.status == "fail" for c in checks) else 0


def _cmd_init(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import scaffold

    written = (scaffold.init_loop_demo if args.loop_demo else scaffold.init)(Path(args.dir))
    for path in written:
        print(f"wrote {path}")
    print(f"next: cd {args.dir} && agents up" + (
        "   (then watch: agents status --watch, agents events -f)" if args.loop_demo else ""))
    return 0


def _cmd_logs(args: argparse.Namespace) -> int:
    from agent_orchestrator.runtime import launch

    config = _load(args, env=False)
    from agent_orchestrator.runtime.fleet import check_names

    check_names(config, [args.name])
    target = config.agent(args.name) or config.service(args.name)
    assert target is not None
    path = launch.log_file(config, target.session)
    if not path.exists():
        raise UserError(f"no log yet for {args.name} ({path})")
    from agent_orchestrator.core.screen import strip_ansi

    def emit(data: bytes) -> None:
        if args.raw:
            sys.stdout.buffer.write(data)
        else:  # readable text: TUI redraws reduced to their characters
            sys.stdout.write(strip_ansi(data.decode("utf-8", "replace")))
        sys.stdout.flush()

    with open(path, "rb") as handle:
        emit(b"".join(handle.read()[-(256 * 1024):].splitlines(keepends=True)[-args.lines:]))
        while not args.no_follow:
            chunk = handle.read()
            if chunk:
                emit(chunk)
            else:
                time.sleep(0.25)
    return 0
