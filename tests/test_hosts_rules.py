"""decide() with agents on other hosts: a session the pass cannot speak for (its host did not
answer, or the look predates our last action there) gets no verdict, no restart and no
crash counting; a host that stops answering, and answers again, is one event each way."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_config
from test_rules import KNOWN, NOW, pane

from agent_orchestrator import config as config_mod
from agent_orchestrator.core import rules
from agent_orchestrator.core.memory import FleetMemory
from agent_orchestrator.core.observed import Observed

FLEET = """
[host.gpu1]
ssh = "gpu1"

[backend.tool]
bin = "tool"
process_name = "tool"

[[agent]]
name = "here"
backend = "tool"
watch = "heal"

[[agent]]
name = "there"
backend = "tool"
watch = "heal"
host = "gpu1"
dir = "/work"
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> config_mod.Config:
    folder: Path = tmp_path_factory.mktemp("hosts")
    return config_mod.load(write_config(folder, FLEET))


def memory(unreachable: tuple[str, ...] = ()) -> FleetMemory:
    return FleetMemory({"here": KNOWN, "there": KNOWN}, unreachable=unreachable)


def test_an_unseen_session_is_neither_alive_nor_dead(config: config_mod.Config) -> None:
    # Both panes are missing; only the local one is judged dead.
    observed = Observed(True, {}, unseen=frozenset({"t-there"}),
                        unreachable={"gpu1": "host gpu1: Connection refused"})
    decisions = rules.decide(config, observed, memory(), NOW)
    assert [(type(a).__name__, a.agent) for a in decisions.actions] == [("Start", "here")]
    assert decisions.memory.agents["there"] == KNOWN  # nothing counted, nothing stamped
    assert [(e.agent, e.event) for e in decisions.events if e.agent != "here"] == [
        (None, "host-unreachable")]
    assert "Connection refused" in next(e.reason for e in decisions.events
                                        if e.event == "host-unreachable")
    assert decisions.memory.unreachable == ("gpu1",)


def test_unreachable_is_told_once_and_its_end_once(config: config_mod.Config) -> None:
    alive = {"t-here": pane("t-here"), "t-there": pane("t-there")}
    still = Observed(True, alive, unseen=frozenset({"t-there"}),
                     unreachable={"gpu1": "host gpu1: timed out"})
    kinds = [e.event for e in rules.decide(config, still, memory(("gpu1",)), NOW).events]
    assert "host-unreachable" not in kinds
    back = rules.decide(config, Observed(True, alive), memory(("gpu1",)), NOW)
    assert [e.event for e in back.events] == ["host-reachable"]
    assert back.memory.unreachable == () and back.actions == ()


def test_a_look_older_than_our_action_judges_nothing(config: config_mod.Config) -> None:
    """Unseen without being unreachable (our restart there is not seen yet): no second
    restart, and no host event."""
    observed = Observed(True, {"t-here": pane("t-here")}, unseen=frozenset({"t-there"}))
    decisions = rules.decide(config, observed, memory(), NOW)
    assert decisions.actions == () and decisions.events == ()
