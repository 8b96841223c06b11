"""Notifications: which events become messages (core/notify.py, table-driven) and their
delivery (doors/notify.py) to a real loopback HTTP server and a real command."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from agent_orchestrator.core.events import Event
from agent_orchestrator.core.notify import Notification, plan, wanted_kinds
from agent_orchestrator.doors.notify import Sink, _describe, body, deliver, shown, shown_url

ALL = wanted_kinds(["crash-looping", "limited", "dialog", "phase-advance",
                    "sequence-complete", "fleet-degraded", "turn-finished"])


def ev(agent: str | None, kind: str, reason: str = "r", t: float = 1000.0) -> Event:
    return Event(t, agent, kind, reason)


def test_aliases_and_unknown_kinds() -> None:
    assert {"crash-loop", "limit"} <= ALL and "crash-looping" not in ALL
    with pytest.raises(ValueError, match="unknown notification kind 'crashed'"):
        wanted_kinds(["crashed"])


def test_one_notification_per_kind_grouping_agents() -> None:
    notes, _ = plan([ev("a", "crash-loop", "died 5 times"), ev("b", "crash-loop"),
                     ev("a", "restart"), ev(None, "fleet-degraded", "2 of 3")], ALL, {}, 1000)
    by_kind = {n.kind: n for n in notes}
    assert set(by_kind) == {"crash-loop", "fleet-degraded"}  # restart was not asked for
    assert by_kind["crash-loop"].agents == ("a", "b")
    assert by_kind["crash-loop"].title == "a, b: crash-looping"
    assert by_kind["crash-loop"].lines == ("a: died 5 times", "b: r")
    assert by_kind["fleet-degraded"].agents == () and by_kind["fleet-degraded"].title == \
        "fleet degraded"


def test_many_agents_are_summarised_in_the_title() -> None:
    notes, _ = plan([ev(f"a{n}", "limit") for n in range(5)], ALL, {}, 1000)
    assert notes[0].title == "5 agents held at a usage limit: a0, a1, a2, ..."


def test_rate_limited_per_agent_and_kind() -> None:
    _, sent = plan([ev("a", "turn-finished")], ALL, {}, 1000, min_gap=600)
    again, sent = plan([ev("a", "turn-finished"), ev("b", "turn-finished")], ALL, sent, 1300,
                       min_gap=600)
    assert [n.agents for n in again] == [("b",)]  # a was told 300 s ago
    later, _ = plan([ev("a", "turn-finished")], ALL, sent, 1700, min_gap=600)
    assert [n.agents for n in later] == [("a",)]


def test_urls_never_show_their_secrets() -> None:
    assert shown_url("https://hooks.slack.com/services/T0/B0/XYZ") == \
        "https://hooks.slack.com/…"
    assert shown_url("https://user:pw@ntfy.sh:8443/topic?auth=tok") == "https://ntfy.sh:8443/…"
    assert shown_url("http://127.0.0.1:9") == "http://127.0.0.1:9"
    sink = Sink("webhook", url="https://ntfy.sh/secret-topic")
    assert "secret" not in shown(sink)



def test_a_header_value_in_an_error_text_is_redacted() -> None:
    sink = Sink("webhook", url="https://ntfy.example/topic-secret",
                headers=(("Authorization", "Bearer tk-9f8e7d"), ("X-Id", "abc")))
    exc = httpx.ConnectError("sent 'Authorization: Bearer tk-9f8e7d' to "
                             "https://ntfy.example/topic-secret: refused (abc)")
    # a value under four characters ("abc") is too short to be told from other text
    assert _describe(exc, sink) == ("ConnectError: sent 'Authorization: [REDACTED:header]' "
                                    "to https://ntfy.example/…: refused (abc)")
    # an HTTP failure of our own (ValueError) keeps no type name, and no token either
    assert _describe(ValueError("HTTP 401 for Bearer tk-9f8e7d"), sink) == \
        "HTTP 401 for [REDACTED:header]"


NOTE = Notification("limit", "a: held at a usage limit", ("a",), ("a: resets 3pm",), 1000.0)


@pytest.mark.parametrize(("fmt", "check"), [
    ("json", lambda b, h: json.loads(b)["agents"] == ["a"]),
    ("slack", lambda b, h: json.loads(b)["text"].startswith("*a: held at")),
    ("ntfy", lambda b, h: b == b"a: resets 3pm" and h["Title"] == "a: held at a usage limit"),
])
def test_formats(fmt: str, check: object) -> None:
    data, headers = body(Sink("webhook", url="http://x", format=fmt), NOTE)
    assert check(data, headers)  # type: ignore[operator]


class Server:
    """A loopback HTTP server recording requests; `status` sets its answer."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append((self.path, dict(self.headers), data))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/topic-secret"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def test_webhook_receives_the_json(server: Server) -> None:
    result = deliver(Sink("webhook", url=server.url), NOTE, threading.Event())
    assert result.ok and result.attempts == 1
    path, headers, data = server.requests[0]
    assert path == "/topic-secret" and headers["Content-Type"] == "application/json"
    assert json.loads(data)["kind"] == "limit"


def test_a_failing_sink_retries_then_reports_without_its_secret(server: Server) -> None:
    server.status = 500
    result = deliver(Sink("webhook", url=server.url), NOTE, threading.Event(), attempts=3,
                     backoff=0.01)
    assert not result.ok and result.attempts == 3 and len(server.requests) == 3
    assert result.error == "HTTP 500" and "secret" not in result.sink


def test_unreachable_sink_names_no_secret() -> None:
    result = deliver(Sink("webhook", url="http://127.0.0.1:9/secret-path"), NOTE,
                     threading.Event(), attempts=1)
    assert not result.ok and "secret" not in (result.error or "") + result.sink


def test_cancel_stops_the_back_off(server: Server) -> None:
    server.status = 503
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    result = deliver(Sink("webhook", url=server.url), NOTE, cancel, attempts=5, backoff=30)
    assert not result.ok and result.error == "cancelled" and result.attempts == 1


def test_command_sink_gets_the_notification_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    argv = (sys.executable, "-c", f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())")
    result = deliver(Sink("command", argv=argv), NOTE, threading.Event())
    assert result.ok and json.loads(out.read_text())["title"] == NOTE.title
    failing = deliver(Sink("command", argv=(sys.executable, "-c", "import sys; "
                                            "sys.exit('no display')")),
                      NOTE, threading.Event(), attempts=1)
    assert not failing.ok and failing.error == "exit 1: no display"
    missing = deliver(Sink("command", argv=("/nonexistent/notify-send",)), NOTE,
                      threading.Event(), attempts=1)
    assert not missing.ok and "FileNotFoundError" in (missing.error or "")
