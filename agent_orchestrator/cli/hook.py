"""`agents hook SOURCE --signals DIR --agent NAME [PAYLOAD]`: store a CLI's own signal.

Claude Code runs it as a hook (the payload on stdin); Codex as its `notify` program (the
payload as the last argument). It must be quick and must never fail the agent's turn: it
always exits 0, and a payload it cannot read is one line on stderr (which the CLI shows in
its debug log, not on the agent's screen).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from agent_orchestrator.core.signals import SOURCES, interpret
from agent_orchestrator.doors import signals

MAX_PAYLOAD = 1024 * 1024  # hook payloads are small; a runaway stdin is not read whole

DESCRIPTION = "store an agent CLI's own signal (run by its hooks or notify program)"
EXAMPLE = "agents hook claude --signals .agents/state/signals --agent builder < payload.json"


def _arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("source", choices=SOURCES, help="which CLI sends the payload")
    parser.add_argument("--signals", required=True, type=Path, metavar="DIR",
                        help="the fleet's signal folder (state/signals)")
    parser.add_argument("--agent", required=True, metavar="NAME")
    parser.add_argument("payload", nargs="?", help="the payload (Codex notify); else stdin")
    return parser


def run(args: argparse.Namespace, stdin: TextIO | None = None) -> int:
    try:
        text = args.payload if args.payload is not None else \
            (stdin or sys.stdin).read(MAX_PAYLOAD)
        payload = json.loads(text)
        if not isinstance(payload, dict):
            raise ValueError("the payload is not a JSON object")
        signals.record(args.signals, args.agent, interpret(args.source, payload))
    except (ValueError, OSError) as exc:
        print(f"agents hook: {args.agent}: signal not stored: {exc}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point on its own (`python -m agent_orchestrator.cli.hook ...`): no other verb
    is imported, so a hook costs one small interpreter start."""
    parser = _arguments(argparse.ArgumentParser(
        prog="agents hook", description=DESCRIPTION + ".", epilog="example:\n  " + EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter))
    # intermixed: Codex appends the payload after the options
    return run(parser.parse_intermixed_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
