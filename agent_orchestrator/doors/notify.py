"""Delivering a notification to a sink: an HTTP webhook (httpx) or a command (argv, the
notification as JSON on stdin).

Runs in a worker, never on the watchdog's loop. Each delivery retries with back-off
(`ATTEMPTS`, doubling from `BACKOFF`) and stops early when cancelled; what it returns is a
`Delivery` the loop records as an event (`notify-failed` names the sink by `shown`, a form
with every secret of the URL removed: its path, query, user and password).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from agent_orchestrator.config.model import Notify
from agent_orchestrator.config.model import NotifySink as Sink
from agent_orchestrator.core.notify import Notification
from agent_orchestrator.core.redact import redact

# `[notify]`'s defaults: seconds one HTTP request or command may take, tries, first pause
TIMEOUT, ATTEMPTS, BACKOFF = Notify.timeout, Notify.attempts, Notify.backoff


def quiet_client_logs() -> None:
    """Keep httpx's request lines out of a log kept at INFO (the watchdog's, whose stderr is
    its session log): `HTTP Request: POST <url>` names the full URL, secret and all."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def shown(sink: Sink) -> str:
    """The sink as it may appear in logs, events and `agents doctor`: no secrets (a
    command's first word; a webhook's scheme and host, never its headers)."""
    if sink.kind == "command":
        return f"command {sink.argv[0] if sink.argv else '?'}"
    return f"webhook {shown_url(sink.url or '')}"


@dataclass(frozen=True)
class Delivery:
    """How one delivery ended: `sink` is its `shown` form, `error` the last try's."""

    sink: str  # shown(sink)
    ok: bool
    attempts: int
    error: str | None = None


def shown_url(url: str) -> str:
    """`https://hooks.slack.com/services/T0/B0/XXX?token=y` → `https://hooks.slack.com/…`:
    webhook URLs carry their secret in the path or query, so only scheme and host show."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme or '?'}://{host}{port}{rest}"


def body(sink: Sink, note: Notification) -> tuple[bytes, dict[str, str]]:
    """The request body and headers for the sink's format."""
    text = "\n".join(note.lines)
    if sink.format == "ntfy":  # ntfy: the message is the body, the title a header
        return text.encode(), {"Title": note.title, "Tags": note.kind,
                               "Content-Type": "text/plain; charset=utf-8"}
    if sink.format == "slack":
        payload: object = {"text": f"*{note.title}*\n{text}"}
    else:
        payload = note.to_json()
    return json.dumps(payload, ensure_ascii=False).encode(), {
        "Content-Type": "application/json"}


def deliver(sink: Sink, note: Notification, cancel: threading.Event,
            attempts: int = ATTEMPTS, backoff: float = BACKOFF,
            client: httpx.Client | None = None, timeout: float = TIMEOUT) -> Delivery:
    """Send `note` to `sink`, retrying; never raises."""
    error = None
    for attempt in range(1, attempts + 1):
        if cancel.is_set():
            return Delivery(shown(sink), False, attempt - 1, "cancelled")
        try:
            if sink.kind == "command":
                _run_command(sink.argv, note, timeout)
            else:
                _post(sink, note, client, timeout)
            return Delivery(shown(sink), True, attempt)
        except (httpx.HTTPError, OSError, subprocess.SubprocessError, ValueError) as exc:
            error = redact(_describe(exc, sink))
        if attempt < attempts and cancel.wait(backoff * 2 ** (attempt - 1)):
            return Delivery(shown(sink), False, attempt, "cancelled")
    return Delivery(shown(sink), False, attempts, error)


def _post(sink: Sink, note: Notification, client: httpx.Client | None,
          timeout: float) -> None:
    data, headers = body(sink, note)
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    try:
        response = http.post(sink.url or "", content=data,
                             headers={**headers, **dict(sink.headers)})
        if response.status_code >= 400:
            raise ValueError(f"HTTP {response.status_code}")
    finally:
        if own:
            http.close()


def _run_command(argv: Sequence[str], note: Notification, timeout: float) -> None:
    done = subprocess.run(list(argv), input=json.dumps(note.to_json()).encode(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout,
                          check=False)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip()[-200:]
        raise ValueError(f"exit {done.returncode}" + (f": {tail}" if tail else ""))


def probe(sink: Sink, timeout: float = 5.0) -> str | None:
    """Whether `sink` could be used, without sending a notification: a webhook's host
    answers HTTP at all (a HEAD; any status counts, many hooks take POST only), a command's
    program is found. The problem, secret-free, or None."""
    if sink.kind == "command":
        first = sink.argv[0] if sink.argv else ""
        found = first if "/" in first and os.access(first, os.X_OK) else shutil.which(first)
        return None if found else f"'{first}' not found"
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as http:
            http.head(sink.url or "")
    except httpx.HTTPError as exc:
        return redact(_describe(exc, sink))
    return None


def _describe(exc: Exception, sink: Sink) -> str:
    """The error without the URL (httpx puts the full URL, secret and all, in messages)."""
    text = str(exc) or type(exc).__name__
    if sink.url:
        text = text.replace(sink.url, shown_url(sink.url))
    for _name, value in sink.headers:  # a header's value is a token more often than not
        if len(value) >= 4:
            text = text.replace(value, "[REDACTED:header]")
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, ValueError) else text
