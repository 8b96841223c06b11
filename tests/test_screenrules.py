"""Stall, limit windows, dialogs and wake, replayed through decide() with the demo preset's
regexes and screens shaped like the demo agent's (which copy Claude Code's)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import write_config
from simulate import Sim

from agent_orchestrator import config as config_mod
from agent_orchestrator.core.screenrules import NUDGE

RULE = "─" * 60
BUSY = f"❯ do it\n✢ Warping… ({{n}}s · esc to interrupt)\n{RULE}\n❯\xa0\n{RULE}\n  esc to interrupt"
IDLE = f"❯ do it\n● Done: do it\n✻ Worked for 3s\n{RULE}\n❯\xa0\n{RULE}\n  ? for shortcuts"
LIMIT = (f"❯ do it\n  ⎿\xa0You've hit your session limit · resets {{reset}}\n{RULE}\n❯\xa0\n"
         f"{RULE}\n  ? for shortcuts")
DIALOG = " Bash command\n   npm test\n Do you want to proceed?\n ❯ 1. Yes\n   2. No"


def busy(n: int) -> str:
    return BUSY.format(n=n)


@pytest.fixture
def sim(tmp_path: Path) -> Sim:
    (tmp_path / "wake.md").write_text("Check   the\n queue.\n")
    path = write_config(tmp_path, """
        [watchdog]
        signal_interval = 10
        stall_grace = 60
        limit_reset_slack = 45
        limit_probe_fallback = 300

        [backend.demo]
        stall_idle = 300

        [[agent]]
        name = "s"
        backend = "demo"
        watch = "heal+stall"

        [[agent]]
        name = "w"
        backend = "demo"
        watch = "heal"
        wake = { interval = 100, prompt_file = "wake.md" }
    """)
    sim = Sim(config_mod.load(path))
    sim.run("s", "python3.11", busy(1))
    sim.run("w", "python3.11", IDLE)
    sim.tick()  # adopted
    return sim


def test_waiting_until_postpones_the_reboot(sim: Sim) -> None:
    until = datetime.fromtimestamp(sim.wall + 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sim.show("s", IDLE + f"\nWAITING-UNTIL: {until}")
    for _ in range(105):  # 1050 s: past stall_idle, before until + stall_grace (1060 s)
        sim.advance(10)
        sim.tick()
    assert "stall-reboot" not in sim.kinds("s")
    sim.advance(20)
    sim.tick()
    assert sim.kinds("s")[-1] == "stall-reboot"
    assert "WAITING-UNTIL" in [e.reason for e in sim.events if e.agent == "s"][-1]


def test_limit_window_holds_then_nudges_once_then_ends(sim: Sim) -> None:
    reset = datetime.fromtimestamp(sim.wall + 3600, UTC)
    sim.show("s", LIMIT.format(reset=reset.strftime("%-I%p").lower() + " (UTC)"))
    sim.tick()
    assert sim.kinds("s")[-1] == "limit"
    window = sim.memory.agent("s").limit_until - sim.mono
    expected = reset.replace(minute=0, second=0).timestamp() - sim.wall + 45
    assert window == pytest.approx(expected)
    for _ in range(int(window // 60)):  # idle far past stall_idle: never rebooted, no typing
        sim.advance(60)
        sim.tick()
    nudges = lambda: [t for t in sim.typed if t[0] == "s"]  # noqa: E731
    assert sim.kinds("s") == ["adopt", "limit"] and nudges() == []
    sim.advance(61)
    sim.tick()
    assert nudges() == [("s", NUDGE)] and sim.kinds("s")[-1] == "limit-nudge"
    sim.advance(10)
    sim.tick()  # nothing new on screen: no second nudge
    assert nudges() == [("s", NUDGE)]
    sim.show("s", busy(1))
    sim.advance(10)
    sim.tick()
    assert sim.kinds("s")[-1] == "limit-over"
    assert sim.memory.agent("s").limit_until is None


def test_still_limited_after_the_nudge_opens_a_new_window(sim: Sim) -> None:
    sim.show("s", LIMIT.format(reset="garbled"))
    sim.tick()
    assert "reset time unreadable, probing in 300s" in sim.events[-1].reason
    sim.show("w", busy(1))  # keep the wake agent out of this story
    sim.advance(310)
    sim.tick()
    assert sim.kinds("s")[-1] == "limit-nudge"
    sim.show("s", LIMIT.format(reset="garbled") + "\n")  # the agent answered with the banner
    sim.advance(10)
    sim.tick()
    assert sim.kinds("s")[-1] == "limit"
    assert [t for t in sim.typed if t[0] == "s"] == [("s", NUDGE)]


def test_dialog_is_reported_once_and_never_rebooted_or_typed_into(sim: Sim) -> None:
    sim.show("s", DIALOG)
    sim.show("w", DIALOG)
    for _ in range(100):
        sim.advance(10)
        sim.tick()
    assert sim.kinds("s").count("dialog") == 1 and "stall-reboot" not in sim.kinds("s")
    assert sim.typed == []
    assert "Do you want to proceed?" in sim.memory.agent("s").dialog_line


def test_wake_types_the_file_when_idle_every_interval(sim: Sim) -> None:
    for _ in range(9):
        sim.advance(10)
        sim.tick()
    assert sim.typed == []
    sim.advance(10)
    sim.tick()
    assert sim.typed == [("w", str(sim.config.agent("w").wake.prompt_file))]
    assert sim.kinds("w")[-1] == "wake"
    sim.advance(50)
    sim.tick()
    assert len(sim.typed) == 1


def test_fatal_screen_restarts(sim: Sim) -> None:
    sim.show("s", "  ⎿\xa0API Error: 401 {\"type\":\"error\",\"error\":{\"type\":"
             "\"authentication_error\"}} · Please run /login\n" + RULE)
    sim.advance(10)
    sim.tick()
    assert sim.kinds("s")[-1] == "restart"
    assert sim.events[-1].reason.startswith("fatal: ⎿")


def test_quiet_panes_are_not_captured(sim: Sim) -> None:
    from agent_orchestrator.core import screenrules

    sim.advance(10)
    sim.tick()  # both captured once since adoption
    observed = sim._observed({})
    agents = list(sim.config.agents)
    assert screenrules.screens_wanted(sim.config, observed, sim.memory, agents) == []
    sim.show("s", busy(9))
    assert screenrules.screens_wanted(sim.config, sim._observed({}), sim.memory,
                                      agents) == ["t-s"]
