"""Back-off and fleet health as pure functions. The crash-loop histories (T15–T20) live in
tests/reliability/test_restart_cases.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from simulate import tool_fleet as fleet

from agent_orchestrator.core import rules
from agent_orchestrator.core.memory import AgentMemory
from agent_orchestrator.core.restarts import JITTER, backoff


@pytest.mark.parametrize(("failures", "nominal"), [
    (1, 0), (2, 1), (3, 2), (4, 4), (5, 8), (6, 8), (40, 8)])
def test_backoff_series(failures: int, nominal: float) -> None:
    """The series base×2ⁿ capped at max, shortened by a deterministic jitter of < 20%."""
    delay = backoff(failures, base=1, cap=8, key="x")
    assert nominal * (1 - JITTER) <= delay <= nominal
    assert delay == backoff(failures, base=1, cap=8, key="x")
    assert (delay == 0) == (failures == 1)


def test_fleet_health_counts_recent_and_unsettled_failures(tmp_path: Path) -> None:
    """Failing: died within the window, held back, crash-looping, or restarted after a
    death and not yet stable; degraded needs more than half and at least two."""
    config = fleet(tmp_path, ["a", "b", "c", "d", "e"])
    now = 10_000.0
    memory = {
        "a": AgentMemory(deaths=(now - 30,), started_at=now - 100),  # died 30 s ago
        "b": AgentMemory(deaths=(now - 300,), started_at=now - 20),  # restarted, not stable
        "c": AgentMemory(deaths=(now - 300,), restart_due_at=now + 5),  # held back
        "d": AgentMemory(deaths=(now - 300,), started_at=now - 200),  # back for good
        "e": AgentMemory(started_at=now - 900),  # never failed
    }
    agents = list(config.agents)
    assert rules.fleet_health(config, agents, memory, now) == (3, 5)
    assert rules.degraded(3, 5) and not rules.degraded(2, 4) and not rules.degraded(1, 1)
