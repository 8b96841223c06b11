"""Applying an edited config as a diff: a backend change restarts its agents, a disabled
agent is stopped, an identical config is a no-op. The minimal diff of reliability case T07
(change b, add d, remove c) and the removal debounce of T06 are in
tests/reliability/test_config_cases.py."""

from __future__ import annotations

from pathlib import Path

from conftest import write_config

from agent_orchestrator import config as config_mod
from agent_orchestrator.core import reload
from agent_orchestrator.core.memory import FleetMemory
from agent_orchestrator.core.observed import Now, Observed, Pane

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
