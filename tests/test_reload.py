"""Applying an edited config as a diff: added started, removed stopped, changed restarted,
unchanged untouched (T07)."""

from __future__ import annotations

from pathlib import Path

from conftest import write_config

from agent_orchestrator import config as config_mod
from agent_orchestrator import reload
from agent_orchestrator.decisions import Now, Observed
from agent_orchestrator.state import AgentMemory, FleetMemory
from agent_orchestrator.tmux import Pane

BASE = """
[[agent]]
name = "a"
backend = "demo"
watch = "heal"
prompt = "a"

[[agent]]
name = "b"
backend = "demo"
prompt = "b"

[[agent]]
name = "c"
backend = "demo"
prompt = "c"
"""


def load(tmp_path: Path, body: str) -> config_mod.Config:
    """Both versions live at the same path, as when a user edits the file."""
    return config_mod.load(write_config(tmp_path, body))


def panes(*sessions: str) -> dict[str, Pane]:
    return {s: Pane(s, "%1", 1, "python", False, None, 0.0, "@1") for s in sessions}


def test_diff_touches_only_what_changed(tmp_path: Path) -> None:
    old = load(tmp_path, BASE)
    new = load(tmp_path, BASE.replace('prompt = "b"', 'prompt = "b2"')
               .replace('[[agent]]\nname = "c"\nbackend = "demo"\nprompt = "c"\n', "")
               + '\n[[agent]]\nname = "d"\nbackend = "demo"\n')
    counters = AgentMemory(started_at=5.0, starts=3, restarts=2)
    memory = FleetMemory({"a": counters, "b": counters, "c": counters})
    observed = Observed(True, panes("t-a", "t-b", "t-c"))
    decisions = reload.diff(old, new, observed, memory, Now(100.0, 1e9))
    got = [(type(a).__name__, a.agent, a.reason) for a in decisions.actions]
    assert got == [("Stop", "c", "removed from the config"),
                   ("Restart", "b", "config changed"), ("Start", "d", "added to the config")]
    assert [(e.agent, e.event) for e in decisions.events] == [
        ("c", "removed"), ("b", "changed"), ("d", "added")]
    assert decisions.memory.agent("a") == counters  # untouched: uptime and counters kept
    assert "b" not in decisions.memory.agents and "c" not in decisions.memory.agents
    assert decisions.actions[0].session == "t-c"


def test_backend_change_restarts_its_agents_and_disable_stops(tmp_path: Path) -> None:
    old = load(tmp_path, BASE)
    new = load(tmp_path, '[backend.demo]\nflags = "--busy 9"\n' +
               BASE.replace('prompt = "c"', 'prompt = "c"\nenabled = false'))
    observed = Observed(True, panes("t-a", "t-b", "t-c"))
    decisions = reload.diff(old, new, observed, FleetMemory(), Now(1.0, 1e9))
    got = [(type(a).__name__, a.agent) for a in decisions.actions]
    assert got == [("Restart", "a"), ("Restart", "b"), ("Stop", "c")]


def test_identical_config_is_a_no_op(tmp_path: Path) -> None:
    old = load(tmp_path, BASE)
    new = load(tmp_path, BASE)
    decisions = reload.diff(old, new, Observed(True, panes("t-a")), FleetMemory(), Now(1, 1))
    assert decisions.actions == () and decisions.events == ()
