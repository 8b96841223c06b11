"""The demo agent's command line, parsed into Options (unknown options ignored)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field


@dataclass
class Options:
    """Parsed command line."""

    model: str = "demo-model"
    name: str | None = None
    resume: str | None = None
    remote_control: str | None = None
    busy: float = 4.0
    control: str | None = None
    record: str | None = None
    swallow_first_enter: bool = False
    task: bool = False
    prompt: str | None = None
    cwd: str = field(default_factory=os.getcwd)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (unknown options are left to ``parse_known_args``)."""
    parser = argparse.ArgumentParser(
        prog="python -m agent_orchestrator.fakeagent",
        description="Fake coding-agent CLI with Claude Code-like screens, for tests.",
    )
    parser.add_argument("--model", default=Options.model)
    parser.add_argument("--name")
    parser.add_argument("--resume")
    parser.add_argument("--remote-control", dest="remote_control")
    parser.add_argument("--busy", type=float, default=Options.busy)
    parser.add_argument("--control")
    parser.add_argument("--record")
    parser.add_argument("--swallow-first-enter", action="store_true")
    parser.add_argument("--task", action="store_true")
    parser.add_argument("prompt", nargs="*")
    return parser


def parse_args(argv: list[str]) -> Options:
    """Parse ``argv``; the prompt is the last positional argument, unknown options ignored."""
    ns, extras = build_parser().parse_known_args(argv)
    positionals = list(ns.prompt) + [e for e in extras if not e.startswith("-") or " " in e]
    prompt = positionals[-1] if positionals else None
    busy = ns.busy if ns.busy == ns.busy else Options.busy  # NaN: use the default
    return Options(
        model=ns.model,
        name=ns.name,
        resume=ns.resume,
        remote_control=ns.remote_control,
        busy=max(busy, 0.0),
        control=ns.control,
        record=ns.record,
        swallow_first_enter=ns.swallow_first_enter,
        task=ns.task,
        prompt=prompt or None,
    )
