"""`agents mcp` end to end: the official SDK's own client starts it over stdio, lists its
tools and calls each against a real demo fleet on a private tmux server; results are the
data of the verbs' --json, mistakes are error results, disallowed tools are refused."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_until
from harness import demo_agent
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from agent_orchestrator.config import model

pytestmark = pytest.mark.tmux
ROOT = Path(__file__).resolve().parent.parent
SECRET_URL = "https://hooks.example/services/T0/B0/s3cretpath"
LOOP = """
    [loop]
    phases = [{ id = "one", status = "ONE.md" }, { id = "two", status = "TWO.md" }]

    [notify]
    [[notify.sink]]
    kind = "webhook"
    url = "SECRET_URL"
    headers = { Authorization = "Bearer hdr-s3cret-value" }
""".replace("SECRET_URL", SECRET_URL)


def params(config: Path) -> StdioServerParameters:
    env = {k: os.environ[k] for k in ("HOME", "TMUX_TMPDIR", "PATH") if k in os.environ}
    env["PYTHONPATH"] = str(ROOT)
    return StdioServerParameters(command=sys.executable, args=[
        "-m", "agent_orchestrator", "mcp", "--config", str(config)], env=env, cwd=str(ROOT))


async def session(config: Path, calls: list[tuple[str, dict[str, Any]]],
                  resources: tuple[str, ...] = ()) -> tuple[list[str], list[Any], list[str]]:
    """Tool names, each call's result and each resource's text, over one stdio session."""
    async with Client(params(config), read_timeout_seconds=60) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        results = [await client.call_tool(name, args) for name, args in calls]
        texts = []
        for uri in resources:
            read = await client.read_resource(uri)
            texts.append(read.contents[0].text)  # type: ignore[union-attr]
        return names, results, texts


def data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    body = result.structured_content
    assert body == json.loads(result.content[0].text)  # the text is the same document
    return body


def error(result: Any) -> str:
    assert result.is_error
    return result.content[0].text


# what changes between two looks at one agent: measured ages, usage, the prose with an age
VOLATILE = {"detail", "idle_s", "cpu_pct", "rss_bytes", "uptime_s", "last_event_age_s",
            "seen_age_s", "judged_age_s", "limit_left_s", "backoff_left_s"}


def steady(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in VOLATILE}


def cli_json(fleet: Any, *args: str) -> dict[str, Any]:
    done = fleet.agents(*args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_tool_against_a_demo_fleet(make_fleet, tmp_path) -> None:
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.5\n" + demo_agent("a", tmp_path)
                       + '[mcp]\nallow = ["*"]\n' + LOOP)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    old_pid = fleet.pane_pid("e-a")
    submitted = fleet.agents("submit", "say hello", "--name", "hello")
    assert submitted.returncode == 0, submitted.stderr
    # tmp_path is no git repository: the watchdog fails the task at once, and it stays so
    cli_tasks = wait_until(lambda: (t := cli_json(fleet, "tasks", "--json"))["tasks"][0][
        "state"] == "failed" and t, what="the task to end")
    cli_one = wait_until(lambda: (d := cli_json(fleet, "status", "a", "--json"))["state"]
                         == "idle" and d, what="a idle after its prompt")
    names, results, (config_text, events_text) = asyncio.run(session(fleet.path, [
        ("fleet_status", {}),
        ("agent_status", {"name": "a"}),
        ("agent_status", {"name": "nope"}),
        ("events", {"agent": "a"}),
        ("events", {"limit": 2}),
        ("events", {"since": "yesterday-ish"}),
        ("explain", {"name": "a"}),
        ("logs_tail", {"name": "a", "lines": 5}),
        ("send", {"name": "a", "text": "hello from the lead"}),
        ("send", {"name": "a", "text": "later", "when_idle": True}),
        ("phase_show", {}),
        ("phase_set", {"number": 2}),
        ("phase_set", {"number": 7}),
        ("tasks", {}),
        ("restart", {"names": ["a"]}),
        ("down", {"names": ["a"]}),
        ("up", {"names": ["a"]}),
        ("send", {"name": "a"}),  # no text: the SDK's validation
    ], ("agents://config", "agents://events")))
    assert sorted(names) == sorted(model.MCP_READ_TOOLS + model.MCP_WRITE_TOOLS)
    (status, one, unknown, events, last_two, bad_since, explained, logs, sent, queued, phases,
     moved, bad_phase, tasks, restarted, stopped, started, no_text) = results

    cli = json.loads(fleet.agents("status", "--json").stdout)
    body = data(status)
    assert body.keys() == cli.keys() and body["version"] == 2
    assert [r["agent"] for r in body["agents"]] == [r["agent"] for r in cli["agents"]] == ["a"]
    assert body["agents"][0].keys() == cli["agents"][0].keys()
    assert data(one)["agent"] == "a" and data(one).keys() == cli_one.keys()
    assert steady(data(one)) == steady(cli_one)
    assert "unknown name: nope (known: a)" in error(unknown)
    got = data(events)["events"]
    assert "adopt" in [e["event"] for e in got] and {e["agent"] for e in got} == {"a"}
    cli_events = [json.loads(line) for line in
                  fleet.agents("events", "--json").stdout.splitlines()]
    two = data(last_two)["events"]  # the newest two then; more came since (send, restart)
    assert len(two) == 2 and cli_events[cli_events.index(two[0]) + 1] == two[1]
    assert "yesterday-ish" in error(bad_since)
    cli_explain = json.loads(fleet.agents("explain", "a", "--json").stdout)
    assert data(explained).keys() == cli_explain.keys() and data(explained)["agent"] == "a"
    assert isinstance(data(logs)["lines"], list) and len(data(logs)["lines"]) <= 5
    assert data(sent)["agent"] == "a" and data(sent)["delivered"] is True
    assert data(queued)["queued"] and data(queued)["delivered"] is None
    assert data(phases)["current"] == 1 and [p["id"] for p in data(phases)["phases"]] == \
        ["one", "two"]
    assert data(moved)["current"] == 2
    assert json.loads(fleet.agents("phase", "show", "--json").stdout)["current"] == 2
    assert "1..2" in error(bad_phase)
    assert data(tasks) == cli_tasks and [t["name"] for t in cli_tasks["tasks"]] == ["hello"]
    assert [o["action"] for o in data(restarted)["outcomes"]] == ["restarted"]
    assert [(o["name"], o["action"]) for o in data(stopped)["outcomes"]] == [("a", "stopped")]
    assert ("a", "started") in [(o["name"], o["action"]) for o in data(started)["outcomes"]]
    assert "text" in error(no_text)
    wait_until(lambda: fleet.pane_pid("e-a") not in (None, old_pid), what="a new pane")
    typed = [r["text"] for r in fleet.records("a") if r["event"] == "input"]
    assert "hello from the lead" in typed
    # resources: the config without its secrets, the events as JSON lines
    assert "s3cret" not in config_text and "https://hooks.example/…" in config_text
    assert 'name = "a"' in config_text
    assert any(json.loads(line)["event"] == "adopt" for line in events_text.splitlines())


def test_read_only_by_default_and_a_disallowed_tool_is_refused(make_fleet, tmp_path) -> None:
    fleet = make_fleet(demo_agent("a", tmp_path))
    names, (refused, status), _ = asyncio.run(session(fleet.path, [
        ("send", {"name": "a", "text": "rm -rf"}), ("fleet_status", {})]))
    assert sorted(names) == sorted(model.MCP_READ_TOOLS)
    assert "tool 'send' is not allowed: add it to `[mcp] allow`" in error(refused)
    assert data(status)["agents"][0]["state"] == "stopped"  # nothing was started


def test_the_events_resource_is_a_snapshot_with_no_subscription(make_fleet, tmp_path) -> None:
    """README: `agents://events` is read, not streamed; the server must not offer updates."""
    fleet = make_fleet(demo_agent("a", tmp_path))
    fleet.agents("down")  # one record in the log, so the snapshot has something to show

    async def look() -> tuple[Any, str]:
        async with Client(params(fleet.path), read_timeout_seconds=60) as client:
            listed = {str(r.uri): r for r in (await client.list_resources()).resources}
            read = await client.read_resource("agents://events")
            return client.server_capabilities, listed["agents://events"].description, \
                read.contents[0].text  # type: ignore[union-attr]

    capabilities, description, text = asyncio.run(look())
    assert capabilities.resources is not None and not capabilities.resources.subscribe
    assert not capabilities.resources.list_changed and not capabilities.tools.list_changed
    assert "a snapshot when read, not a stream" in description
    assert {json.loads(line)["event"] for line in text.splitlines()} == {"down"}


def test_a_broken_config_is_a_clear_error_not_a_server(tmp_path: Path) -> None:
    import subprocess

    (tmp_path / "agents.toml").write_text('[defaults]\nsession_prefix = "x-"\n'
                                          'log_dir = "logs"\n[mcp]\nallow = ["sned"]\n')
    done = subprocess.run([sys.executable, "-m", "agent_orchestrator", "mcp", "--config",
                           str(tmp_path / "agents.toml")], capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "mcp.allow: unknown tool 'sned' (did you mean 'send'?)" in done.stderr
