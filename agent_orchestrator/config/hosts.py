"""`[host.NAME]` tables: the machines agents run on besides this one, and the agents' `host`.

A host is reached with OpenSSH (doors/ssh.py), so its `ssh` value is anything `ssh` takes as
a destination (`user@host`, an alias of ~/.ssh/config). It reaches ssh's command line as one
argument after our options, which is why a value starting with `-` (it would be read as an
option: `-oProxyCommand=...` runs a command) or holding blanks or control characters is
refused here rather than quoted.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from agent_orchestrator.config import model
from agent_orchestrator.config.schema import NAME_RE, NAME_RULE, Field, Problems, check_table
from agent_orchestrator.config.tables import modelled

HOST = modelled(model.Host, {
    "ssh": Field("nonempty", required=True),
    "port": Field("int", minimum=1),
    "identity_file": Field("nonempty"),
    "ssh_config": Field("nonempty"),
    "tmux_socket": Field("name"),
    "python": Field("nonempty"),
})
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")


def build_hosts(raw: Any, problems: Problems, root: Path) -> tuple[model.Host, ...]:
    """The `[host.*]` tables as Hosts (local paths resolved against `root`); every mistake is
    a problem at its line."""
    if not isinstance(raw, dict):
        return ()
    out = []
    for name, table in raw.items():
        where = ("host", name)
        if not NAME_RE.fullmatch(name):
            problems.add(where, f"host names are {NAME_RULE}", label=f"host.{name}")
            continue
        values = check_table(table, HOST, where, problems, f"host.{name}")
        if "ssh" not in values:
            continue
        bad = False
        for key in ("ssh", "python"):
            text = values.get(key)
            if isinstance(text, str) and (text.startswith("-") or _UNSAFE.search(text)):
                problems.add(where + (key,), "may not start with '-' or hold blanks or "
                             "control characters (ssh would read it as an option or split it)",
                             label=f"host.{name}.{key}")
                bad = True
        if values.get("port") is not None and values["port"] > 65535:
            problems.add(where + ("port",), "must be a TCP port, 1-65535",
                         label=f"host.{name}.port")
            bad = True
        if bad:
            continue
        for key in ("identity_file", "ssh_config"):  # files on THIS machine, for ssh
            if values.get(key):
                values[key] = (root / Path(values[key]).expanduser()).absolute()
        out.append(model.Host(name=name, **values))
    return tuple(out)


def check_agent_hosts(declared: Iterable[str], agents: Sequence[model.Agent],
                      problems: Problems) -> None:
    """Every agent's `host` is a declared host, and every declared host (flawed ones too:
    their own mistakes are reported at their lines, not again here) has an agent. `worktree`
    and `mcp` are made on this machine (a git worktree, our MCP server): not for another host."""
    names = set(declared)
    used: set[str] = set()
    for index, agent in enumerate(agents):
        if agent.host is None:
            continue
        used.add(agent.host)
        for key in ("worktree", "mcp"):
            if getattr(agent, key):
                problems.add(("agent", index, key), f"{key} = true is for agents on this "
                             f"machine; agent '{agent.name}' runs on host '{agent.host}'",
                             label=f"agent.{agent.name}.{key}")
        if agent.host not in names:
            hint = difflib.get_close_matches(agent.host, sorted(names), n=1)
            known = (f" (did you mean '{hint[0]}'?)" if hint else
                     f" (declared: {', '.join(sorted(names))})" if names else
                     " (declare it in a [host.NAME] table)")
            problems.add(("agent", index, "host"), f"unknown host '{agent.host}'{known}",
                         label=f"agent.{agent.name}.host")
    for name in sorted(names - used):
        problems.add(("host", name), f"no agent runs on this host (set `host = \"{name}\"` "
                     "on one, or remove the table)", label=f"host.{name}")


def path_on_host(value: str | Path, where: tuple[Any, ...], label: str,
                 problems: Problems) -> Path:
    """A path on an agent's host: taken as written (nothing of it is looked at here), which
    must be absolute or from `~`: there is no project folder there to be relative to. Not
    written (the field's default, a Path here): the remote user's home, `~`."""
    if isinstance(value, Path):
        return Path("~")
    if not value.startswith(("/", "~")):
        problems.add(where, f"{value[:200]!r} is a path on the agent's host: write it "
                     "absolute or from ~", label=label)
    return Path(value)
