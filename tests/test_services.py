"""`[[service]]` entries are supervised like agents: healed with back-off and crash-loop,
reported as events, started and stopped by a config edit, and shown in `agents status`
with their state, uptime and restarts (pure cases on a fake clock, then end to end on a
private tmux server)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import holds_for, sessions, tmux_cmd, wait_until, write_config

from agent_orchestrator import config as config_mod
from agent_orchestrator.cli import status
from agent_orchestrator.core import reload, rules
from agent_orchestrator.core.memory import AgentMemory, FleetMemory
from agent_orchestrator.core.observed import Now, Observed, Pane, Snapshot
from agent_orchestrator.doors import memorystore

WALL = 1_800_000_000.0
SERVICE = '[[service]]\nname = "web"\ncommand = "sleep 600"\n'
FAST = "[watchdog]\nrestart_backoff = 5\ncrash_limit = 3\ncrash_window = 600\n"


def pane(session: str, dead: bool = False, pid: int = 7, status_: int | None = None) -> Pane:
    return Pane(session, "%1", pid, "sh", dead, status_, 0.0, "@1")


def load(tmp_path: Path, body: str) -> config_mod.Config:
    return config_mod.load(write_config(tmp_path, body))


def step(config: config_mod.Config, memory: FleetMemory, mono: float,
         panes: dict[str, Pane]) -> tuple[FleetMemory, list[tuple[str, str | None]], list[str]]:
    """One decide() at `mono`: (memory, [(action, name)], [event kinds of the service])."""
    got = rules.decide(config, Observed(True, panes), memory, Now(mono, WALL + mono))
    return (got.memory, [(type(a).__name__, a.agent) for a in got.actions],
            [e.event for e in got.events if e.agent == "web"])


def test_a_service_is_healed_with_back_off_then_marked_crash_looping(tmp_path: Path) -> None:
    config = load(tmp_path, FAST + SERVICE)
    memory, actions, kinds = step(config, FleetMemory(), 0.0, {})
    assert (actions, kinds) == ([("Start", "web")], ["start"])  # never started: start it
    memory, actions, kinds = step(config, memory, 1.0, {"t-web": pane("t-web", pid=10)})
    assert actions == [] and kinds == []  # our own start, running
    # It exits (status 1): the first restart is immediate, the second waits.
    memory, actions, kinds = step(config, memory, 2.0, {"t-web": pane("t-web", True, 10, 1)})
    assert (actions, kinds) == ([("Restart", "web")], ["restart"])
    memory, actions, kinds = step(config, memory, 3.0, {"t-web": pane("t-web", True, 11, 1)})
    assert actions == [] and kinds == ["backoff"]
    assert memory.agent("web").restart_due_at is not None
    due = memory.agent("web").restart_due_at
    assert due is not None and rules.next_deadline(memory) == due
    memory, actions, kinds = step(config, memory, due, {"t-web": pane("t-web", True, 11, 1)})
    assert (actions, kinds) == ([("Restart", "web")], ["restart"])
    memory, actions, kinds = step(config, memory, due + 1, {"t-web": pane("t-web", True, 12)})
    assert actions == [] and kinds == ["crash-loop"]  # third failure in the window: FATAL
    memory, actions, kinds = step(config, memory, due + 99, {})
    assert actions == [] and kinds == []
    assert memory.agent("web").restarts == 2
    # `agents up web` (its started/ marker) lifts the crash loop, as for an agent
    got = rules.decide(config, Observed(True, {}, operator_starts={"web": WALL + due + 100}),
                       memory, Now(due + 101, WALL + due + 101))
    assert [e.event for e in got.events] == ["crash-loop-cleared", "restart"]
    assert [(type(a).__name__, a.agent) for a in got.actions] == [("Start", "web")]


def test_a_service_the_operator_stopped_is_left_alone(tmp_path: Path) -> None:
    config = load(tmp_path, SERVICE)
    got = rules.decide(config, Observed(True, {}, stopped=frozenset({"web"})), FleetMemory(),
                       Now(0.0, WALL))
    assert got.actions == () and got.events == ()


def test_a_config_edit_adds_changes_and_removes_services(tmp_path: Path) -> None:
    old = load(tmp_path, SERVICE + '[[service]]\nname = "db"\ncommand = "sleep 1"\n'
               '[[service]]\nname = "q"\ncommand = "sleep 2"\n')
    new = load(tmp_path, SERVICE.replace("600", "601") +
               '[[service]]\nname = "q"\ncommand = "sleep 2"\n'
               '[[service]]\nname = "cache"\ncommand = "sleep 3"\n')
    panes = {s: pane(s) for s in ("t-web", "t-db", "t-q")}
    memory = FleetMemory({"web": AgentMemory(starts=1, crash_looping_wall=WALL),
                          "q": AgentMemory(starts=1)})
    got = reload.diff(old, new, Observed(True, panes), memory, Now(1.0, WALL))
    assert [(type(a).__name__, a.agent, getattr(a, "session", None)) for a in got.actions] \
        == [("Stop", "db", "t-db"), ("Restart", "web", None), ("Start", "cache", None)]
    assert sorted((e.agent, e.event) for e in got.events) == [
        ("cache", "added"), ("db", "removed"), ("web", "changed")]
    assert "web" not in got.memory.agents and "q" in got.memory.agents  # crash loop lifted
    assert reload.removed(old, new) == ("db",)  # the removal waits for the file to settle


def test_status_shows_a_service_like_an_agent(tmp_path: Path) -> None:
    config = load(tmp_path, SERVICE + '[[service]]\nname = "db"\ncommand = "x"\n'
                  '[[service]]\nname = "q"\ncommand = "x"\n'
                  '[[service]]\nname = "new"\ncommand = "x"\n')
    mono, wall = time.monotonic(), time.time()
    memorystore.save_memory(config, FleetMemory({
        "web": AgentMemory(starts=3, restarts=2, restart_walls=(wall - 60, wall - 30),
                           last_event="restart", last_event_wall=wall - 30),
        "db": AgentMemory(starts=4, crash_looping_wall=wall - 5, last_event="crash-loop",
                          last_event_wall=wall - 5),
        "q": AgentMemory(starts=2, restart_due_at=mono + 30)}))

    class Tmux:
        def snapshot(self) -> Snapshot:
            return Snapshot(True, {"t-web": Pane("t-web", "%1", 7, "sleep", False, None,
                                                 0.0, "@1", created=wall - 20),
                                   "t-q": pane("t-q", dead=True, status_=1)})

    fleet = status.status(config, Tmux())  # type: ignore[arg-type]
    rows = {r.agent: r for r in fleet.rows}
    assert [(n, rows[n].kind, rows[n].state) for n in ("web", "db", "q", "new")] == [
        ("web", "service", "running"), ("db", "service", "crash-looping"),
        ("q", "service", "exited"), ("new", "service", "stopped")]
    web = rows["web"]
    assert (web.restarts_total, web.restarts_1h, web.last_event, web.pid) == (
        2, 2, "restart", 7)
    assert web.uptime_s is not None and 19 <= web.uptime_s < 60
    assert rows["db"].since is not None
    assert fleet.to_json()["agents"][1]["state"] == "crash-looping"  # type: ignore[index]


@pytest.mark.parametrize(("complete", "live", "dead_status", "want"), [
    (False, False, None, ("stopped", "starts when the sequence is complete")),
    (True, True, None, ("running", "running")),
    (True, False, None, ("done", "done (ran on completion)")),
    (True, False, 0, ("done", "done (ran on completion)")),
    (True, False, 2, ("exited", "exited (2)")),
], ids=["waiting", "running", "gone", "exited-0", "failed"])
def test_the_on_complete_agent_is_never_shown_disabled(
        tmp_path: Path, complete: bool, live: bool, dead_status: int | None,
        want: tuple[str, str]) -> None:
    config = load(tmp_path, '[[agent]]\nname = "fin"\nbackend = "demo"\nkind = "task"\n'
                  'enabled = false\nprompt = "report"\n')
    agent = config.agents[0]
    seen = pane("t-fin") if live else (pane("t-fin", True, status_=dead_status)
                                       if dead_status is not None else None)
    assert status.agent_state(agent, seen, AgentMemory(starts=1), False, True, 0.0,
                              finisher=complete) == want
    # not the on_complete agent: disabled, as before
    assert status.agent_state(agent, seen, AgentMemory(), False, True, 0.0)[0] == "disabled"


# ------------------------------------------------------------------ end to end

@pytest.mark.tmux
def test_a_killed_service_is_healed_and_reported(make_fleet) -> None:
    fleet = make_fleet("[watchdog]\nsignal_interval = 30\n" + SERVICE)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("web", "adopt")
    old = fleet.pane_pid("e-web")
    tmux_cmd(fleet.socket, "kill-session", "-t", "=e-web")
    event = fleet.wait_event("web", "restart", timeout=5)  # the next light tick is 30 s away
    assert event["reason"] == "session gone"
    new = wait_until(lambda: fleet.pane_pid("e-web"), timeout=5, what="the new pane")
    assert new != old

    def row() -> dict | None:
        doc = json.loads(fleet.agents("status", "--json").stdout)
        web = next(r for r in doc["agents"] if r["agent"] == "web")
        return web if web["restarts_total"] == 1 and web["state"] == "running" else None

    web = wait_until(row, what="status to show the restart")
    assert (web["kind"], web["pid"], web["last_event"]) == ("service", new, "restart")
    # `agents down web` is the operator's stop: not healed, shown stopped
    assert fleet.agents("down", "web").returncode == 0
    holds_for(lambda: "e-web" not in sessions(fleet.socket), 2, what="web left stopped")
    doc = json.loads(fleet.agents("status", "--json").stdout)
    assert next(r for r in doc["agents"] if r["agent"] == "web")["state"] == "stopped"


@pytest.mark.tmux
def test_a_config_edit_starts_and_stops_a_service(make_fleet) -> None:
    base = "[watchdog]\nsignal_interval = 30\n" + SERVICE
    fleet = make_fleet(base)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("web", "adopt")
    fleet.write(base + '[[service]]\nname = "db"\ncommand = "sleep 601"\n')
    fleet.wait_event("db", "added", timeout=10)
    wait_until(lambda: fleet.pane_pid("e-db"), timeout=10, what="db to be started")
    fleet.write(base)  # db removed: stopped once the file has settled
    fleet.wait_event("db", "removed", timeout=10)
    wait_until(lambda: "e-db" not in sessions(fleet.socket), timeout=10, what="db stopped")
    assert fleet.pane_pid("e-web") is not None  # untouched


@pytest.mark.tmux
def test_restart_restarts_a_service(make_fleet) -> None:
    """`agents restart web`: a new process in the same session, a `restart` event naming
    the operator, and the watchdog adopts the new run (it is not healed a second time)."""
    fleet = make_fleet("[watchdog]\nsignal_interval = 30\n" + SERVICE)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("web", "adopt")
    old = fleet.pane_pid("e-web")
    result = fleet.agents("restart", "web")
    assert result.returncode == 0, result.stderr
    assert "restarted" in result.stdout and f"was pid {old}" in result.stdout
    new = wait_until(lambda: fleet.pane_pid("e-web"), timeout=5, what="the new pane")
    assert new != old
    event = fleet.wait_event("web", "restart")
    assert "restarted by the operator" in event["reason"] and "operator: pid" in event["reason"]

    def row() -> dict | None:
        doc = json.loads(fleet.agents("status", "--json").stdout)
        web = next(r for r in doc["agents"] if r["agent"] == "web")
        return web if web["pid"] == new and web["state"] == "running" else None

    web = wait_until(row, what="status to show the new run")
    assert web["kind"] == "service"
    holds_for(lambda: fleet.pane_pid("e-web") == new, 2, what="the new run left alone")
