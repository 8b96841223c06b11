"""What a verb of `agents` is (description, parser builder, runner), and what runners share.

Runners return an exit status and raise UserError (or a library's own error type) for a
message; the error boundary in main.py prints it. Imports of the layers below stay inside
the functions: `agents --help` must stay fast.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent_orchestrator.config import Agent, Config
    from agent_orchestrator.doors.tmux import Tmux
    from agent_orchestrator.runtime.hosts import FleetTmux


class UserError(Exception):
    """A message for the user, exit status 1."""

    exit_code = 1


class UsageError(UserError):
    """A verb used wrong (a missing or extra argument): exit status 2, as argparse's."""

    exit_code = 2


@dataclass(frozen=True)
class Verb:
    """One verb: `purpose` is its help line, `example` its epilog, `build` adds its
    arguments to its parser, `run` does it and returns the exit status. `starts_fleet`:
    when an invalid config stops it, the error also says that the last good copy is kept
    but nothing is started from it. `takes_config`: False for a verb that reads no config
    (`init`, `selftest`): it has no --config option."""

    name: str
    purpose: str
    example: str
    build: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    starts_fleet: bool = False
    takes_config: bool = True


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """The parser builder of a verb that takes only --config."""


def count(text: str) -> int:
    """An argparse type: a whole number, 0 or more (`-n -5` is a usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def config_path(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "config", None) or "agents.toml")


def load(args: argparse.Namespace, env: bool = True, strict: bool = False) -> Config:
    """The config named by --config; `env`: with the environment's overrides. A config with
    errors is a ConfigError when `strict` (the verbs that start a fleet, and `check`);
    otherwise the verb acts on the last good config the watchdog runs, saying so on stderr,
    so a typo never locks the operator out of the running fleet."""
    return loaded(args, env, strict)[0]


def loaded(args: argparse.Namespace, env: bool = True, strict: bool = False
           ) -> tuple[Config, str | None]:
    """`load`, and the errors of the config file when the last good one stands in for it."""
    from agent_orchestrator import config as config_mod
    from agent_orchestrator.doors import markers

    path = config_path(args)
    if not path.exists():
        raise UserError(f"no config file at {path} (use --config PATH, or 'agents init')")
    try:
        return config_mod.load(path, os.environ if env else None), None
    except config_mod.ConfigError as exc:
        fallback = None if strict else markers.last_good_config(path)
        if fallback is None:
            raise
        from agent_orchestrator.cli import render

        render.notice(f"the config has errors; using the last good one the watchdog runs "
                      f"({markers.last_good_file(fallback.state_dir)}):\n{exc}")
        return fallback, str(exc)


def refuse_unstartable(config: Config) -> None:
    """A UserError listing every reason the fleet cannot start (cli/startable.py), if any."""
    from agent_orchestrator.cli import startable

    found = startable.problems(config)
    if found:
        raise UserError(startable.render(config, found))


def tmux(config: Config) -> Tmux | FleetTmux:
    """The door to the fleet's sessions; with agents on other hosts, one look at each host
    first (bounded by the tmux timeout), its ssh connections closed when the verb exits."""
    import atexit

    from agent_orchestrator.doors.tmux import Tmux
    from agent_orchestrator.runtime import hostfleet

    local = Tmux(config.tmux_socket)
    door = hostfleet.open_fleet(config, local, lambda: None, first_look=local.timeout + 1)
    atexit.register(hostfleet.close, door)
    return door


def agent_named(config: Config, name: str) -> Agent:
    """The agent `name`; an unknown name or a service's is a UserError (or UnknownNames)."""
    agent = config.agent(name)
    if agent is None:
        from agent_orchestrator.runtime.fleet import check_names

        check_names(config, [name])
        raise UserError(f"'{name}' is a service, not an agent")
    return agent
