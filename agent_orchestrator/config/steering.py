"""The tables for steering the fleet from outside: `[notify]` (with its `[[notify.sink]]`s)
and `[mcp]`.

Checked like every table (schema.py), then for what a key alone cannot say: a webhook needs
an http(s) URL with a host, a command sink an argv and neither the other's keys, a header
can carry no line break (it would smuggle in a header of its own), and every `on` kind and
`allow`ed tool must be one we know (a typo would silently never notify, or never allow).
"""

from __future__ import annotations

import difflib
import re
from typing import Any
from urllib.parse import urlsplit

from agent_orchestrator.config import model
from agent_orchestrator.config.schema import Problems, check_table
from agent_orchestrator.config.tables import MCP, NOTIFY, SINK

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token


def _unknown(value: str, known: tuple[str, ...], what: str) -> str:
    hint = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    return (f"unknown {what} '{value}'" + (f" (did you mean '{hint[0]}'?)" if hint else
                                           f" (known: {', '.join(known)})"))


def notify(raw: Any, problems: Problems) -> model.Notify | None:
    """`[notify]`, or None when the file has none (or it is not a table: reported)."""
    if raw is None:
        return None
    values = check_table(raw, NOTIFY, ("notify",), problems)
    if not values:
        return None
    for name in values["on"]:
        if name not in model.NOTIFY_ON:
            problems.add(("notify", "on"), _unknown(name, model.NOTIFY_ON,
                                                   "notification kind"))
    sinks = []
    for index, entry in enumerate(values.pop("sink")):
        sink = _sink(entry, ("notify", "sink", index), problems)
        if sink is not None:
            sinks.append(sink)
    return model.Notify(sinks=tuple(sinks), **values)


def _sink(raw: Any, where: tuple[Any, ...], problems: Problems) -> model.NotifySink | None:
    label = f"notify.sink[{where[-1]}]"
    count = len(problems.items)
    values = check_table(raw, SINK, where, problems, label)
    kind = values.get("kind")
    given = set(raw) if isinstance(raw, dict) else set()
    if kind == "webhook":
        url = values.get("url")
        if "url" not in given:
            problems.add(where, "a webhook needs a 'url'", label=label)
        elif url:
            try:
                parts = urlsplit(url)
                good = parts.scheme in ("http", "https") and bool(parts.hostname)
            except ValueError:  # urlsplit's own refusals (an unclosed "[" of an IPv6 host)
                good = False
            if not good:
                # the URL itself may hold a secret: not repeated in the message
                problems.add(where + ("url",), "expected an http:// or https:// URL with a "
                             "host", label=f"{label}.url")
        if "argv" in given:
            problems.add(where + ("argv",), "a webhook has no 'argv' (that is a command "
                         "sink's)", label=f"{label}.argv")
        for name, text in values.get("headers") or ():
            if not _HEADER_NAME.fullmatch(name) or "\r" in text or "\n" in text:
                problems.add(where + ("headers",), f"header '{name[:40]}' has a name that "
                             "is no HTTP token or a value with a line break",
                             label=f"{label}.headers")
    elif kind == "command":
        if not values.get("argv"):
            problems.add(where, "a command sink needs a non-empty 'argv'", label=label)
        for key in ("url", "format", "headers"):
            if key in given:
                problems.add(where + (key,), f"a command sink has no '{key}' (that is a "
                             "webhook's)", label=f"{label}.{key}")
    if len(problems.items) > count or kind is None:
        return None
    return model.NotifySink(**values)


def mcp(raw: Any, problems: Problems) -> model.Mcp:
    """`[mcp]` (its defaults when the file has none)."""
    if raw is None:
        return model.Mcp()
    values = check_table(raw, MCP, ("mcp",), problems)
    known = model.MCP_READ_TOOLS + model.MCP_WRITE_TOOLS
    for name in values.get("allow", ()):
        if name != "*" and name not in known:
            problems.add(("mcp", "allow"), _unknown(name, known, "tool"))
    return model.Mcp(**values) if values else model.Mcp()


def agent_mcp(backend: str, backends: dict[str, model.Backend], where: tuple[Any, ...],
              label: str, problems: Problems) -> None:
    """An agent's `mcp = true`: only for a backend we know how to hand the server to."""
    if backend in backends and not backends[backend].takes_mcp:
        can = [b.name for b in backends.values() if b.takes_mcp]
        problems.add(where, f"backend '{backend}' cannot be given the MCP server at launch; "
                     f"mcp = true works with backend "
                     f"{' or '.join(repr(n) for n in can) or '(none declared)'}", label=label)
