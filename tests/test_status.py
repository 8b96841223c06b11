"""`agents status`: every state shown right, and the documented --json shape."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import write_config
from rich.console import Console

from agent_orchestrator import config as config_mod
from agent_orchestrator.cli import render, status
from agent_orchestrator.core.memory import AgentMemory, FleetMemory
from agent_orchestrator.core.observed import Pane, Snapshot
from agent_orchestrator.doors import markers, memorystore

NAMES = ["working", "resting", "limited", "asking", "looping", "halted", "off", "crashed",
         "gone", "plain"]


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
                               last_event_wall=wall - 120),
        "resting": AgentMemory(started_at=mono - 600, starts=2, restarts=1,
                               deaths=(mono - 60,), state="idle",
                               active_at=mono - 300, last_event="restart",
                               last_event_wall=wall - 60),
        "limited": AgentMemory(starts=1, limit_until=mono + 3600, limit_reset_wall=reset),
        "asking": AgentMemory(starts=1, state="dialog", dialog_line="Do you want"),
        "looping": AgentMemory(starts=5, restarts=4, deaths=(mono - 5,) * 5,
                               crash_looping_wall=wall - 5, last_event="crash-loop",
                               last_event_wall=wall - 5),
    })
    memorystore.save_memory(config, memory)
    markers.mark_stopped(config, "halted")
    panes = {f"t-{n}": pane(f"t-{n}") for n in ("resting", "limited", "asking", "plain")}
    panes["t-working"] = pane("t-working", created=wall - 7200)
    panes["t-crashed"] = pane("t-crashed", dead=True, status_=3)
    fleet = status.status(config, FakeTmux(panes))  # type: ignore[arg-type]
    shown = {row.agent: row.state for row in fleet.rows}
    assert shown == {
        "working": "active", "resting": "idle 5m",
        "limited": "limited until " + time.strftime("%H:%M", time.localtime(reset)),
        "asking": "waiting at dialog", "looping": "crash-looping", "halted": "stopped",
        "off": "disabled", "crashed": "exited (3)", "gone": "down (restarting)",
        "plain": "running"}
    out = Console(width=200, record=True, color_system=None)
    render.status(out, fleet, config)
    text = out.export_text()
    assert "watchdog: not running" in text and "config: ok" in text
    lines = {line.split()[0]: line for line in text.splitlines()[2:] if line.strip()}
    for name, expected in shown.items():
        assert expected in lines[name], (name, lines[name])
    assert "2h00m" in lines["working"] and "adopt 2m ago" in lines["working"]
    assert " 1/1 " in lines["resting"] and " 5/4 " in lines["looping"]


def test_json_has_the_documented_shape(tmp_path: Path) -> None:
    config = config_mod.load(write_config(tmp_path, '[[agent]]\nname = "a"\nbackend = "demo"\n'
                                          '[[service]]\nname = "web"\ncommand = "serve"\n'))
    doc = status.status(config, FakeTmux({"t-a": pane("t-a")})).to_json()  # type: ignore
    assert doc["version"] == 1
    assert doc["config"] == {"path": str(config.path), "ok": True, "stale_since": None,
                             "last_good": None}
    assert doc["watchdog"] == {"running": False, "pid": None}
    assert doc["tmux"] == {"server_running": True} and doc["phase"] is None
    keys = {"agent", "kind", "backend", "model", "watch", "state", "session", "uptime_s",
            "restarts_1h", "restarts_total", "last_event", "last_event_age_s", "source",
            "seen_age_s"}
    assert [set(a) for a in doc["agents"]] == [keys, keys]
    assert [(a["agent"], a["kind"], a["state"]) for a in doc["agents"]] == [
        ("a", "persistent", "running"), ("web", "service", "stopped")]
