"""`agents`: the parser, the table of verbs and the one error boundary that picks exit codes.

Exit codes (SPEC §2): 0 ok, 1 a failed check or runtime error (message on stderr), 2 bad
usage (a name not in the config too), 3 another watchdog already runs for this log_dir. A
user's mistake (bad config, unknown agent, tmux missing) is a message, never a traceback.
Each verb lives in a cli/verbs_*.py module: its description, its parser builder and its
runner.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agent_orchestrator import __version__
from agent_orchestrator.cli import (
    verbs_agent,
    verbs_fleet,
    verbs_look,
    verbs_loop,
    verbs_mcp,
    verbs_read,
    verbs_setup,
    verbs_tasks,
)
from agent_orchestrator.cli.verb import UserError, Verb, config_path

# In `agents --help` order.
VERBS: dict[str, Verb] = {verb.name: verb for verb in (
    verbs_fleet.UP, verbs_fleet.DOWN, verbs_fleet.RESTART, verbs_look.STATUS,
    verbs_agent.ATTACH, verbs_agent.SEND, verbs_read.LOGS, verbs_setup.INIT,
    verbs_setup.CHECK, verbs_setup.SELFTEST, verbs_fleet.WATCHDOG, verbs_look.EXPLAIN,
    verbs_setup.DOCTOR, verbs_look.EVENTS, verbs_read.TRANSCRIPT, verbs_loop.PHASE,
    verbs_mcp.MCP, verbs_tasks.SUBMIT, verbs_tasks.TASKS, verbs_tasks.TASK)}


def parser() -> argparse.ArgumentParser:
    """`agents [--config PATH] VERB ...`; --config is accepted before or after the verb."""
    config_opt = argparse.ArgumentParser(add_help=False)
    config_opt.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                            help="config file (default: ./agents.toml)")
    top = argparse.ArgumentParser(
        prog="agents", parents=[config_opt],
        description="Run a fleet of AI coding agents in tmux and keep them working.",
        epilog="Run 'agents VERB --help' for a verb's options and an example.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"agents {__version__}")
    verbs = top.add_subparsers(dest="verb", metavar="VERB")
    for verb in VERBS.values():
        verb.build(verbs.add_parser(
            verb.name, parents=[config_opt] if verb.takes_config else [], help=verb.purpose,
            description=verb.purpose + ".", epilog="example:\n  " + verb.example,
            formatter_class=argparse.RawDescriptionHelpFormatter))
    # `main` hands `hook` to cli/hook.py before parsing; listed here for --help only.
    verbs.add_parser("hook", help="store an agent CLI's own signal (run by its hooks or "
                     "notify program; `agents hook --help`)", add_help=False)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run `agents` with `argv` (default: the command line); returns the exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["hook"]:  # run by the agents' CLIs on every event: nothing else loaded
        from agent_orchestrator.cli import hook
        return hook.main(words[1:])
    top = parser()
    args = top.parse_args(argv)
    if not args.verb:
        top.print_help()
        return 2
    verb = VERBS[args.verb]
    from agent_orchestrator.config import ConfigError
    from agent_orchestrator.config.filetrust import Untrusted
    from agent_orchestrator.doors.lock import AlreadyRunning
    from agent_orchestrator.doors.tmux import TmuxError
    from agent_orchestrator.runtime.fleet import UnknownNames

    try:
        return verb.run(args)
    except ConfigError as exc:
        _say(f"invalid config:\n{exc}")
        if verb.starts_fleet:
            _name_the_snapshot(args)
    except (UserError, UnknownNames, TmuxError, AlreadyRunning, Untrusted) as exc:
        _say(str(exc))
        if isinstance(exc, UnknownNames):  # a name not in the config: bad usage
            return 2
        return exc.exit_code if isinstance(exc, AlreadyRunning | UserError) else 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        _say(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
    return 1


def _say(text: str) -> None:
    # The renderer (and rich) is loaded only when there is something to say: the watchdog,
    # which runs for days, never needs it.
    from agent_orchestrator.cli import render

    render.notice(text)


def _name_the_snapshot(args: argparse.Namespace) -> None:
    """After an invalid config stopped `up`/`watchdog`: say that an older fleet was not
    started from the last good copy on purpose (it may no longer be what the user wants)."""
    from agent_orchestrator.doors import markers

    fallback = markers.last_good_config(config_path(args))
    if fallback is not None:
        _say(f"the last good config is kept in "
                      f"{markers.last_good_file(fallback.state_dir)}; nothing is started from "
                      "it: fix the file (`agents check`) and run this again")
