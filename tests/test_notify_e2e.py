"""Notifications from a running watchdog: the Notifier on real workers and a loopback HTTP
server (one JSON document for each `on` kind), and the whole watchdog on a private tmux
server, where a sink that hangs or fails must not delay a heal."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import tmux_cmd, wait_until
from harness import demo_agent
from test_notify import Server

from agent_orchestrator.config import model
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.notify import ALIASES
from agent_orchestrator.runtime.notifier import Notifier
from agent_orchestrator.runtime.workers import Workers

ISSUE_ON = ("crash-looping", "limited", "dialog", "phase-advance", "sequence-complete",
            "fleet-degraded", "turn-finished")


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def test_each_on_kind_reaches_the_webhook_as_json(server: Server) -> None:
    workers = Workers(lambda: None)
    notifier = Notifier(workers)
    settings = model.Notify(on=ISSUE_ON, sinks=(model.NotifySink("webhook", url=server.url),))
    kinds = [ALIASES.get(k, k) for k in ISSUE_ON]
    fleet_wide = {"phase-advance", "sequence-complete", "fleet-degraded"}
    notifier.offer([Event(1000.0, None if k in fleet_wide else "a", k, f"why {k}")
                    for k in kinds] + [Event(1000.0, "a", "restart", "not asked for")])
    assert notifier.flush(settings, 1000.0) == len(kinds)
    wait_until(lambda: len(server.requests) == len(kinds), what="a request per kind")
    got = {json.loads(data)["kind"]: json.loads(data) for _, _, data in server.requests}
    assert set(got) == set(kinds)
    titles = {"crash-loop": "a: crash-looping", "limit": "a: held at a usage limit",
              "dialog": "a: waiting at a dialog", "phase-advance": "phase advanced",
              "sequence-complete": "sequence complete", "fleet-degraded": "fleet degraded",
              "turn-finished": "a: turn finished"}
    for kind in kinds:  # the whole document each kind's sink receives
        agent = [] if kind in fleet_wide else ["a"]
        line = f"why {kind}" if kind in fleet_wide else f"a: why {kind}"
        assert got[kind] == {"kind": kind, "title": titles[kind], "agents": agent,
                             "lines": [line], "time": 1000.0}, kind
    # the same state again within min_gap is no second message
    notifier.offer([Event(1001.0, "a", "limit", "again")])
    assert notifier.flush(settings, 1001.0) == 0
    workers.close()
    assert notifier.outcomes(workers.results(("notify",)), 1002.0) == []


def test_a_failed_delivery_is_an_event_without_the_secret(server: Server) -> None:
    server.status = 500
    workers = Workers(lambda: None)
    notifier = Notifier(workers)
    settings = model.Notify(on=("limited",), attempts=2, backoff=0.01, sinks=(
        model.NotifySink("webhook", url=server.url, headers=(("X-Token", "tok-s3cret"),)),))
    notifier.offer([Event(1.0, "a", "limit", "held")])
    notifier.flush(settings, 1.0)
    done = wait_until(lambda: workers.results(("notify",)) or None, what="the delivery")
    events = notifier.outcomes(done, 2.0)
    assert [(e.event, e.reason) for e in events] == [
        ("notify-failed", f"webhook http://127.0.0.1:{server.httpd.server_address[1]}/…: "
                          "HTTP 500 (after 2 attempts)")]
    assert len(server.requests) == 2 and server.requests[0][1]["X-Token"] == "tok-s3cret"
    workers.close()


class Hanging:
    """A loopback HTTP server that never answers until closed."""

    def __init__(self) -> None:
        self.got = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                outer.got.set()
                outer.release.wait(60)

            def log_message(self, *_args: object) -> None:
                pass
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hang-secret"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.tmux
def test_hanging_and_failing_sinks_do_not_delay_a_heal(make_fleet, tmp_path,
                                                       server: Server) -> None:
    hang = Hanging()
    server.status = 500
    try:
        fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path) + f"""
            [notify]
            on = ["limited"]
            attempts = 2
            backoff = 0.2
            timeout = 20

            [[notify.sink]]
            kind = "webhook"
            url = "{hang.url}"

            [[notify.sink]]
            kind = "webhook"
            url = "{server.url}"
        """)
        assert fleet.agents("up").returncode == 0
        fleet.wait_event("a", "adopt")
        fleet.control("a", "limit 2099-01-01T00:00:00Z")
        fleet.wait_event("a", "limit")
        wait_until(hang.got.is_set, what="the hanging sink to be called")
        failed = fleet.wait_event(None, "notify-failed")
        assert "HTTP 500 (after 2 attempts)" in failed["reason"]
        assert "secret" not in json.dumps(fleet.events())
        # The watchdog's stderr is its session's log: httpx's INFO lines name the full URL.
        log = fleet.folder / "logs" / "e-watchdog.log"
        text = wait_until(lambda: "notify-failed" in (seen := _read(log)) and seen,
                          what="the failure in the watchdog's session log")
        assert "HTTP 500" in text and "secret" not in text, text
        # The hanging sink is still waiting for an answer: a heal must not wait with it.
        killed = time.monotonic()
        tmux_cmd(fleet.socket, "kill-session", "-t", "=e-a")
        fleet.wait_event("a", "restart", timeout=10)
        latency = time.monotonic() - killed
        # the hanging sink's request may take 20 s: a loop that waited on it would show it
        assert latency < 5, f"the heal took {latency:.1f} s"
        assert not hang.release.is_set()
    finally:
        hang.close()


@pytest.mark.tmux
def test_a_held_limit_is_one_notification_however_many_passes(make_fleet, tmp_path,
                                                              server: Server) -> None:
    """One notification per state change, never per pass: `min_gap = 0`, so no rate limit
    hides a message repeated on every pass while the agent stays held."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.2\nrestart_backoff = 0\n"
                       + demo_agent("a", tmp_path) + demo_agent("b", tmp_path) + f"""
        [notify]
        on = ["limited"]
        min_gap = 0

        [[notify.sink]]
        kind = "webhook"
        url = "{server.url}"
    """)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    fleet.wait_event("b", "adopt")
    fleet.control("a", "limit 2099-01-01T00:00:00Z")
    fleet.wait_event("a", "limit")
    wait_until(lambda: server.requests, what="the limit's notification")
    # Passes go on while a is held: every restart of b is one more pass that saw it gone.
    pid = None
    for n in range(3):
        pid = wait_until(lambda old=pid: (p := fleet.pane_pid("e-b")) != old and p,
                         what="b running again")
        assert tmux_cmd(fleet.socket, "kill-session", "-t", "=e-b").returncode == 0
        fleet.wait_event("b", "restart", after=n)
    sent = [json.loads(data) for _, _, data in server.requests]
    assert [(s["kind"], s["agents"]) for s in sent] == [("limit", ["a"])], sent
    assert len(fleet.events("a", "limit")) == 1


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def test_doctor_checks_each_sink_without_its_secret(make_config, server: Server) -> None:
    from agent_orchestrator.cli import doctor

    path = make_config(f"""
        [[agent]]
        name = "a"
        backend = "demo"

        [notify]
        [[notify.sink]]
        kind = "webhook"
        url = "{server.url}"

        [[notify.sink]]
        kind = "webhook"
        url = "http://127.0.0.1:9/dead-secret"

        [[notify.sink]]
        kind = "command"
        argv = ["{sys.executable}", "-c", "pass"]

        [[notify.sink]]
        kind = "command"
        argv = ["no-such-notifier"]
    """)
    checks = {c.name: c for c in doctor.run(path) if c.name.startswith("notify ")}
    port = server.httpd.server_address[1]
    assert [(c.status, c.detail) for c in checks.values()] == [
        ("ok", "reachable"), ("warn", checks["notify webhook http://127.0.0.1:9/…"].detail),
        ("ok", "found"), ("warn", "'no-such-notifier' not found")]
    assert f"notify webhook http://127.0.0.1:{port}/…" in checks
    assert "ConnectError" in checks["notify webhook http://127.0.0.1:9/…"].detail
    assert "secret" not in repr(checks)
