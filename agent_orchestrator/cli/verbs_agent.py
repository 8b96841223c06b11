"""The verbs that reach into one agent's session: `agents attach` and `agents send`."""

from __future__ import annotations

import argparse
import os

from agent_orchestrator.cli.verb import UserError, Verb, load, tmux


def _build_attach(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="an agent or service")


def attach_command(args: argparse.Namespace,
                   environ: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The argv and environment `agents attach NAME` execs: `switch-client` inside a tmux
    client of the fleet's server, else `attach-session` (with $TMUX dropped: a client of
    another server may attach here too). A UserError for an unknown or stopped name."""
    from agent_orchestrator.doors import markers, tmuxsocket
    from agent_orchestrator.runtime import fleet

    config = load(args, env=False)
    fleet.check_names(config, [args.name])
    agent = config.agent(args.name)
    session = agent.session if agent is not None else next(
        s.session for s in config.services if s.name == args.name)
    door = tmux(config)
    if door.snapshot().pane(session) is None:
        why = "stopped with `agents down`" if args.name in markers.stopped_agents(config) \
            else "no session"
        raise UserError(f"'{args.name}' is not running ({why}); start it with "
                        f"`agents up {args.name}`")
    switch = tmuxsocket.is_client_of(environ.get("TMUX"), door.socket_name,
                                     door.socket_path)
    env = dict(environ)
    if not switch:
        env.pop("TMUX", None)
    return door.attach_argv(session, switch), env


def run_attach(args: argparse.Namespace) -> int:
    argv, env = attach_command(args, dict(os.environ))
    os.execvpe(argv[0], argv, env)  # noqa: S606 - tmux takes the terminal from here


ATTACH = Verb(
    "attach", "put this terminal on an agent's tmux session (switch-client inside tmux)",
    "agents attach builder     # detach again with Ctrl-b d",
    _build_attach, run_attach)
