"""`agents status`: every state shown right, and the documented --json shape."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import write_config
from rich.console import Console

from agent_orchestrator import config as config_mod
from agent_orchestrator.cli import status, statustable
from agent_orchestrator.core.memory import AgentMemory, FleetMemory
from agent_orchestrator.core.observed import Pane, Snapshot
from agent_orchestrator.doors import markers, memorystore

NAMES = ["working", "resting", "limited", "asking", "looping", "halted", "off", "crashed",
         "gone", "plain", "held"]


class FakeTmux:
    def __init__(self, panes: dict[str, Pane]) -> None:
        self.panes = panes

    def snapshot(self) -> Snapshot:
        return Snapshot(True, self.panes)


def pane(session: str, dead: bool = False, status_: int | None = None,
         created: float = 0.0) -> Pane:
    return Pane(session, "%1", 7, "python", dead, status_, 0.0, "@1", created=created)


def test_every_state_is_shown(tmp_path: Path) -> None:
    extra = {"off": "enabled = false\n"}
    body = "".join(f'\n[[agent]]\nname = "{n}"\nbackend = "demo"\n'
                   f'watch = "{"none" if n == "plain" else "heal"}"\n{extra.get(n, "")}'
                   for n in NAMES)
    config = config_mod.load(write_config(tmp_path, body))
    mono, wall = time.monotonic(), time.time()
    reset = wall + 3600
    memory = FleetMemory({
        "working": AgentMemory(started_at=mono - 7200, starts=1, state="active",
                               active_at=mono, last_event="adopt",
                               last_event_wall=wall - 7300),
        "resting": AgentMemory(started_at=mono - 600, starts=2, restarts=1,
                               restart_walls=(wall - 60,), state="idle",
                               active_at=mono - 300, last_event="restart",
                               last_event_wall=wall - 60),
        "limited": AgentMemory(starts=1, limit_until=mono + 3600, limit_reset_wall=reset,
                               state="idle", active_at=mono - 30),
        "asking": AgentMemory(starts=1, state="dialog", dialog_line="Do you want"),
        # the issue's `5/4`: five deaths in crash_window, four restarts (one an hour ago)
        "looping": AgentMemory(starts=5, restarts=4, deaths=(mono - 5,) * 5,
                               restart_walls=(wall - 5,) * 3,
                               crash_looping_wall=wall - 5, last_event="crash-loop",
                               last_event_wall=wall - 5),
        "plain": AgentMemory(starts=1, state="idle", active_at=mono - 42),
        "held": AgentMemory(starts=3, restarts=2, failures=3, restart_due_at=mono + 30),
    })
    memorystore.save_memory(config, memory)
    markers.mark_stopped(config, "halted")
    panes = {f"t-{n}": pane(f"t-{n}") for n in ("resting", "limited", "asking", "plain")}
    panes["t-working"] = pane("t-working", created=wall - 7200)
    panes["t-crashed"] = pane("t-crashed", dead=True, status_=3)
    fleet = status.status(config, FakeTmux(panes))  # type: ignore[arg-type]
    rows = {row.agent: row for row in fleet.rows}
    assert {n: (r.state, r.detail) for n, r in rows.items()} == {
        "working": ("active", "active"), "resting": ("idle", "idle 5m"),
        "limited": ("limited", "limited until " + time.strftime("%H:%M", time.localtime(
            reset))),
        "asking": ("dialog", "waiting at dialog"),
        "looping": ("crash-looping", "crash-looping"), "halted": ("stopped", "stopped"),
        "off": ("disabled", "disabled"), "crashed": ("exited", "exited (3)"),
        "gone": ("exited", "down (restarting)"), "plain": ("idle", "idle 42s"),
        "held": ("backoff", "restarting in 30s")}
    assert all(r.state in status.STATES for r in rows.values())
    assert (rows["looping"].restarts_1h, rows["looping"].restarts_total) == (3, 4)
    assert (rows["resting"].restarts_1h, rows["resting"].restarts_total) == (1, 1)
    assert rows["limited"].limit_until == status.iso(reset)
    assert rows["plain"].idle_s == pytest.approx(42, abs=1)
    assert rows["resting"].since == status.iso(wall - 300)
    assert rows["working"].last_event_this_run is False
    assert rows["resting"].last_event_this_run is None  # its pane's start is unknown
    assert rows["crashed"].pid is None and rows["plain"].pid == 7
    out = Console(width=200, record=True, color_system=None)
    statustable.status(out, fleet, config)
    text = out.export_text()
    assert "watchdog: not running" in text and "config: ok" in text
    lines = {line.split()[0]: line for line in text.splitlines()[2:] if line.strip()}
    for name, row in rows.items():
        assert row.detail in lines[name], (name, lines[name])
    assert "2h00m" in lines["working"] and "adopt 2h01m ago (earlier run)" in lines["working"]
    assert " 1/1 " in lines["resting"] and " 3/4 " in lines["looping"]


def test_the_table_fits_80_columns_and_shows_processes_when_wide(tmp_path: Path) -> None:
    long = "a-rather-long-agent-name-indeed"
    config = config_mod.load(write_config(
        tmp_path, f'[[agent]]\nname = "{long}"\nbackend = "demo"\nmodel = "{"m" * 40}"\n'))
    memorystore.save_memory(config, FleetMemory({long: AgentMemory(
        starts=1, last_event="signal-disagrees", last_event_wall=time.time() - 5)}))
    fleet = status.status(config, FakeTmux({f"t-{long}": pane(f"t-{long}")}),  # type: ignore
                          processes=True)
    assert fleet.rows[0].pid == 7
    narrow = Console(width=80, record=True, color_system=None)
    statustable.status(narrow, fleet, config)
    table = narrow.export_text().splitlines()[1:]
    assert len(table) == 2 and all(len(line) <= 80 for line in table), table
    assert "state" in table[0] and "last event" in table[0] and "pid" not in table[0]
    wide = Console(width=160, record=True, color_system=None)
    statustable.status(wide, fleet, config)
    header = wide.export_text().splitlines()[1]
    assert all(word in header for word in ("pid", "cpu", "memory", "model", "watch"))


def test_json_has_the_documented_shape(tmp_path: Path) -> None:
    config = config_mod.load(write_config(tmp_path, '[[agent]]\nname = "a"\nbackend = "demo"\n'
                                          '[[service]]\nname = "web"\ncommand = "serve"\n'))
    doc = status.status(config, FakeTmux({"t-a": pane("t-a")})).to_json()  # type: ignore
    assert doc["version"] == 2
    assert doc["config"] == {"path": str(config.path), "ok": True, "stale_since": None,
                             "last_good": None, "errors": None}
    assert doc["watchdog"] == {"running": False, "pid": None}
    assert doc["tmux"] == {"server_running": True} and doc["phase"] is None
    keys = {"agent", "kind", "backend", "model", "watch", "state", "detail", "session",
            "since", "idle_s", "limit_until", "pid", "cpu_pct", "rss_bytes", "uptime_s",
            "restarts_1h", "restarts_total", "last_event", "last_event_age_s",
            "last_event_this_run", "source", "seen_age_s"}
    assert [set(a) for a in doc["agents"]] == [keys, keys]
    assert [(a["agent"], a["kind"], a["state"]) for a in doc["agents"]] == [
        ("a", "persistent", "running"), ("web", "service", "stopped")]
    web = doc["agents"][1]
    assert web["backend"] is None and web["model"] is None and web["pid"] is None
    assert "-" not in [v for a in doc["agents"] for v in a.values()]
