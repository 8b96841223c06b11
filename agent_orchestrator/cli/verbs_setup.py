"""The verbs that set up and check an installation: `agents init`, `agents check`,
`agents selftest`, `agents doctor`."""

from __future__ import annotations

import argparse
from pathlib import Path

from agent_orchestrator.cli.verb import Verb, config_path, load, no_arguments, refuse_unstartable


def _build_init(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", nargs="?", default=".", metavar="DIR",
                        help="folder to scaffold (default: .)")
    parser.add_argument("--loop-demo", action="store_true",
                        help="a runnable builder/adversary demo (its own git repos, demo agents)")


def run_init(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render, scaffold

    written = (scaffold.init_loop_demo if args.loop_demo else scaffold.init)(Path(args.dir))
    render.scaffolded(written, args.dir, args.loop_demo)
    return 0


def run_check(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render

    config = load(args, strict=True)
    refuse_unstartable(config)
    render.check_ok(render.console(), config)
    return 0


def run_selftest(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render, selftest

    results = selftest.run()
    render.selftest(render.console(), results)
    return 0 if all(ok for _, ok, _ in results) else 1


def run_doctor(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import doctor, render

    checks = doctor.run(config_path(args))
    render.doctor(render.console(), checks)
    return 1 if any(c.status == "fail" for c in checks) else 0


INIT = Verb(
    "init", "scaffold agents.toml and prompts/ in a folder (never overwrites)",
    "agents init ~/proj        # writes ~/proj/agents.toml and ~/proj/prompts/\n"
    "  agents init --loop-demo /tmp/loopdemo   # watch a builder and an adversary",
    _build_init, run_init, takes_config=False)
CHECK = Verb(
    "check", "validate the config and list every error found", "agents check --config agents.toml",
    no_arguments, run_check)
SELFTEST = Verb(
    "selftest", "check the built-in screen classifiers against sample screens",
    "agents selftest", no_arguments, run_selftest, takes_config=False)
DOCTOR = Verb(
    "doctor", "check tmux, the agent CLIs, the config and the folders",
    "agents doctor --config ~/proj/agents.toml", no_arguments, run_doctor)
