"""The verbs that reach into one agent's session: `agents attach` and `agents send`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from agent_orchestrator.cli.verb import UserError, Verb, agent_named, load, tmux

if TYPE_CHECKING:
    from agent_orchestrator.config import Agent, Config


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


def _build_send(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="an agent")
    parser.add_argument("text", metavar="TEXT",
                        help="the text, typed as is; `-` reads it from stdin (only its one "
                        "final newline dropped: the submit key ends the text)")
    parser.add_argument("--when-idle", action="store_true",
                        help="queue it: the watchdog types it at the agent's next idle "
                        "moment (never while it works, is limited or at a dialog)")
    parser.add_argument("--json", action="store_true", help="the result as JSON (without "
                        "--when-idle, a text a dialog or limit banner refused is queued too: "
                        "`delivered` false, `queued` its id)")


def run_send(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render
    from agent_orchestrator.doors import lock

    config = load(args, env=False)
    agent = agent_named(config, args.name)
    text = sys.stdin.read().removesuffix("\n") if args.text == "-" else args.text
    result = send_text(config, agent, text, args.when_idle)
    if result["queued"] is not None and lock.watchdog_pid(config) is None:
        render.notice("the watchdog is not running: the text waits until it runs "
                      "(`agents up watchdog`)")
    if args.json:
        render.json_document(result)
    else:
        render.sent(result)
    return 0 if result["delivered"] is not False or result["queued"] is not None else 1


def send_text(config: Config, agent: Agent, text: str, when_idle: bool) -> dict[str, object]:
    """Type `text` into `agent` now, or queue it for its next idle moment (`when_idle`);
    the `send --json` document. Typed now goes through the watchdog's own delivery path,
    with its checks: when a dialog or a usage-limit banner is on screen nothing is typed
    (in Claude Code, Enter would pick an item of the limit menu) and the text is queued as
    with `when_idle` (`delivered` false, `queued` its id, `detail` why), if the watchdog
    looks at the agent; else it is only refused. A UserError when there is nothing to send
    or it is not running (nothing was typed)."""
    from agent_orchestrator.core import screenrules
    from agent_orchestrator.runtime import delivery, fleet

    if not text.strip():
        raise UserError("nothing to send: the text is empty")
    result: dict[str, object] = {"agent": agent.name, "queued": None, "delivered": None}
    if when_idle:
        if agent.watch == "none" or not agent.enabled:
            why = 'watch = "none"' if agent.watch == "none" else "enabled = false"
            raise UserError(f"'{agent.name}' is not watched ({why}): no idle moment of it is "
                            "ever seen, so a queued text would wait for ever; send it now, "
                            "without --when-idle")
        return result | _queue(config, agent, text, "")
    door = tmux(config)
    pane = door.snapshot().pane(agent.session)
    if pane is None or pane.dead:
        raise UserError(f"'{agent.name}' is not running; nothing was typed (queue it "
                        "with --when-idle, or `agents up " + agent.name + "`)")
    backend = config.backend(agent.backend)
    outcome = delivery.deliver(door, agent.session, text, backend.submit_key,
                               dialog_re=backend.prompt_re, active_re=backend.active_re,
                               limits=backend)
    result |= {"delivered": outcome.delivered, "detail": outcome.detail}
    if outcome.blocked and screenrules.takes_queue(config, agent):
        return result | _queue(config, agent, text, outcome.detail)
    if outcome.blocked:
        result["detail"] = f"{outcome.detail}; not queued either: the watchdog does not " \
            "watch this agent's screen, so it has no idle moment to wait for (retry later)"
    fleet.operator_event(config, agent.name, "send", ("" if outcome.blocked else "typed ")
                         + f"{len(text)} characters: {result['detail']}")
    return result


def _queue(config: Config, agent: Agent, text: str, why: str) -> dict[str, object]:
    """Queue `text` in the agent's inbox (doors/inbox.py: the watchdog types it at its next
    idle look); `why` it was not typed now, or "" (`--when-idle`). The `send` event says so."""
    from agent_orchestrator.doors import inbox
    from agent_orchestrator.runtime import fleet

    try:
        queued = inbox.enqueue(config.state_dir, agent.name, text)
    except (OSError, ValueError) as exc:  # too long; a full disk
        raise UserError((f"{why}; it could not be queued either: " if why else "")
                        + str(exc)) from None
    fleet.operator_event(config, agent.name, "send", (f"{why}; " if why else "")
                         + f"queued {len(text)} characters as {queued.id} for its next "
                           f"idle moment")
    return {"queued": queued.id, "detail": (f"{why}; " if why else "")
            + "queued for its next idle moment"}


SEND = Verb(
    "send", "type a text into an agent and submit it, now or at its next idle moment",
    "agents send builder 'run the tests again'\n"
    "  git diff | agents send reviewer - --when-idle --json",
    _build_send, run_send)
