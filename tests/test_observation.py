"""Observation has an age (issue 12): a verdict about an agent is made only from a look at
it in that pass; the idle clock starts at each start, restart and adoption and counts only
time that was watched; the agent's own signals beat its screen. Scripted histories on a
fake clock through the real decide()."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import write_config
from simulate import Sim

from agent_orchestrator import config as config_mod
from agent_orchestrator.core.signals import ApiError, Signal, SignalRecord

RULE = "─" * 60
IDLE = f"❯ do it\n● Done: do it\n✻ Worked for 3s\n{RULE}\n❯\xa0\n{RULE}\n  ? for shortcuts"
LIMIT = (f"❯ do it\n  ⎿\xa0You've hit your session limit · resets {{reset}}\n{RULE}\n❯\xa0\n"
         f"{RULE}\n  ? for shortcuts")
STALL_IDLE = 300
CONFIG = f"""
[watchdog]
signal_interval = 10
restart_backoff = 1

[backend.demo]
stall_idle = {STALL_IDLE}

[backend.quiet]
bin = "quiet-cli"
process_name = "quiet-cli"
stall_idle = {STALL_IDLE}

[[agent]]
name = "s"
backend = "demo"
watch = "heal+stall"

[[agent]]
name = "o"
backend = "demo"
watch = "heal"

[[agent]]
name = "q"
backend = "quiet"
watch = "heal+stall"

[[agent]]
name = "c"
backend = "claude"
watch = "heal+stall"
"""


@pytest.fixture
def sim(tmp_path: Path) -> Sim:
    sim = Sim(config_mod.load(write_config(tmp_path, CONFIG)))
    sim.run("o", "python3.11", IDLE)
    return sim


def limit_screen(sim: Sim) -> str:
    reset = datetime.fromtimestamp(sim.wall + 7200, UTC)
    return LIMIT.format(reset=reset.strftime("%-I%p").lower() + " (UTC)")


def trigger(sim: Sim, how: str) -> None:
    """A pass that is NOT a light tick: something else woke the watchdog."""
    if how == "another agent died":
        sim.kill("o")
    elif how == "operator verb":
        sim.operator_starts["o"] = sim.wall
    elif how == "timer":
        pass  # a back-off deadline or a held config removal: a pass with no look
    sim.tick(light=False)


TRIGGERS = ["another agent died", "operator verb", "timer"]


@pytest.mark.parametrize("how", TRIGGERS)
def test_an_adopted_limited_agent_is_never_rebooted(sim: Sim, how: str) -> None:
    """FAULT: the watchdog starts (memory from long ago says s was idle), and before its
    first light tick something else makes it decide. EXPECTED: no verdict on s without a
    look; the first look sees the limit banner and holds it."""
    sim.run("s", "python3.11", limit_screen(sim))
    sim.tick(light=False)  # the watchdog's first pass adopts s
    sim.advance(STALL_IDLE + 50)
    trigger(sim, how)
    assert "stall-reboot" not in sim.kinds("s")
    sim.tick()
    assert sim.kinds("s")[-1] == "limit" and "stall-reboot" not in sim.kinds("s")
    for _ in range(60):  # 10 minutes of light ticks and other triggers: held
        sim.advance(10)
        trigger(sim, how)
        sim.tick()
    assert "stall-reboot" not in sim.kinds("s")


@pytest.mark.parametrize("how", TRIGGERS)
def test_a_fresh_agent_is_judged_only_on_looks(sim: Sim, how: str) -> None:
    """A fresh idle agent: passes without a look never judge it, however late they come;
    light ticks reboot it after exactly `stall_idle` of watched time."""
    sim.run("s", "python3.11", IDLE)
    sim.tick()
    started = sim.mono
    for _ in range(STALL_IDLE // 10 - 1):
        sim.advance(10)
        trigger(sim, how)
        sim.tick()
    assert "stall-reboot" not in sim.kinds("s")
    sim.advance(10)
    trigger(sim, how)
    assert "stall-reboot" not in sim.kinds("s")  # due, but this pass did not look
    sim.tick()
    assert sim.kinds("s")[-1] == "stall-reboot" and sim.mono - started == STALL_IDLE


def test_down_then_up_starts_the_clock_again(sim: Sim) -> None:
    """FAULT (reproduced): `agents down s; sleep 25; agents up s` got s stall-rebooted a
    second after it started, on the idle clock of the run before the stop. EXPECTED: the new
    process is a new run; its idle clock starts when it is seen."""
    sim.run("s", "python3.11", IDLE)
    sim.tick()
    sim.advance(STALL_IDLE - 20)
    sim.tick()
    sim.stopped.add("s")  # agents down s
    sim.kill("s")
    sim.tick(light=False)
    sim.advance(25)
    sim.stopped.discard("s")  # agents up s: a new process
    sim.operator_starts["s"] = sim.wall
    sim.run("s", "python3.11", IDLE)
    sim.advance(1)
    sim.tick()
    assert "stall-reboot" not in sim.kinds("s")
    assert sim.kinds("s")[-1] == "adopt"
    assert "started by the operator" in [e.reason for e in sim.events
                                              if e.agent == "s"][-1]
    seen = sim.mono
    while sim.mono - seen < STALL_IDLE:
        sim.advance(10)
        sim.tick()
        if "stall-reboot" in sim.kinds("s"):
            break
    assert sim.kinds("s")[-1] == "stall-reboot" and sim.mono - seen == STALL_IDLE


def test_a_hole_in_watching_does_not_count_as_idle(sim: Sim) -> None:
    """FAULT: the watchdog was held up (or down) for 10 minutes. EXPECTED: the next look
    starts the idle clock again instead of rebooting for time nobody watched."""
    sim.run("s", "python3.11", IDLE)
    sim.tick()
    sim.advance(600)
    sim.tick()
    assert "stall-reboot" not in sim.kinds("s")
    seen = sim.mono
    while "stall-reboot" not in sim.kinds("s"):
        sim.advance(10)
        sim.tick()
    assert sim.mono - seen == STALL_IDLE


# --------------------------------------------------------------------- the agents' signals
# `q` runs a backend with NO screen regexes: whatever it is judged comes from its signals.

def signal(sim: Sim, state: str, event: str, turns: int = 0, ago: float = 0,
           detail: str = "") -> None:
    sim.signals["q"] = SignalRecord(Signal("claude", event, state, event == "Stop", detail),
                                    sim.wall - ago, turns)


def test_signal_of_work_keeps_a_frozen_screen_alive(sim: Sim) -> None:
    sim.run("q", "quiet-cli", "frozen")
    sim.tick()
    signal(sim, "active", "PreToolUse")
    for _ in range(50):  # 500 s of a screen that never changes, hooks saying "working"
        sim.advance(10)
        signal(sim, "active", "PostToolUse")
        sim.tick()
    assert "stall-reboot" not in sim.kinds("q")
    assert sim.memory.agent("q").state == "active"
    assert sim.memory.agent("q").state_source == "hook"


def test_finished_turns_are_events_and_then_idle_counts(sim: Sim) -> None:
    sim.run("q", "quiet-cli", "frozen")
    sim.tick()
    signal(sim, "active", "UserPromptSubmit")
    sim.advance(10)
    sim.tick()
    signal(sim, "idle", "Stop", turns=1)
    sim.advance(10)
    sim.tick()
    assert sim.kinds("q").count("turn-finished") == 1
    signal(sim, "idle", "Stop", turns=3)  # two more turns ended between two looks
    sim.advance(10)
    sim.tick()
    assert sim.kinds("q").count("turn-finished") == 2
    assert "2 turns finished" in [e.reason for e in sim.events if e.agent == "q"][-1]
    while "stall-reboot" not in sim.kinds("q"):
        sim.advance(10)
        sim.tick()
    assert sim.memory.agent("q").restarts == 1


def test_an_adopted_agents_first_turn_is_news_when_its_first_signal_ends_it(sim: Sim) -> None:
    """`agents up` starts the agent, the watchdog then adopts it: a CLI whose only signal
    is a finished turn (Codex's notify) must still get its kickoff turn reported (found by
    tests/realcli/test_watchdog.py). Turns counted before the adoption stay history."""
    sim.run("q", "quiet-cli", "frozen")
    sim.tick()
    assert sim.kinds("q") == ["adopt"]
    sim.signals["q"] = SignalRecord(Signal("codex", "agent-turn-complete", "idle", True),
                                    sim.wall, 1)
    sim.advance(1)
    sim.tick(light=False)
    assert sim.kinds("q").count("turn-finished") == 1


def test_turns_counted_before_an_adoption_are_history(sim: Sim) -> None:
    sim.run("q", "quiet-cli", "frozen")
    signal(sim, "idle", "Stop", turns=3)  # the watchdog restarted mid-run
    sim.tick()
    assert "turn-finished" not in sim.kinds("q")
    sim.advance(10)
    signal(sim, "idle", "Stop", turns=4)
    sim.tick()
    assert sim.kinds("q").count("turn-finished") == 1


def test_a_dialog_from_a_hook_holds_the_agent(sim: Sim) -> None:
    sim.run("q", "quiet-cli", "frozen")
    sim.tick()
    signal(sim, "dialog", "Notification", detail="Claude needs your permission to use Bash")
    for _ in range(100):
        sim.advance(10)
        sim.tick()
    assert sim.kinds("q").count("dialog") == 1 and "stall-reboot" not in sim.kinds("q")
    assert "permission to use Bash" in [e.reason for e in sim.events if e.agent == "q"][-1]


def test_a_hooks_dialog_is_one_event_however_often_the_screen_is_read(sim: Sim) -> None:
    """Claude Code 2.1.332 redraws its screen under a permission dialog: each redraw is
    captured; with no prompt_re the screen shows no dialog, and each capture made the hook's
    dialog new again (tests/realcli/test_watchdog.py saw six `dialog` events for one)."""
    sim.run("q", "quiet-cli", "frozen")
    sim.tick()
    signal(sim, "dialog", "PermissionRequest", detail="Bash")
    for i in range(10):
        sim.advance(10)
        sim.show("q", f"a permission dialog, redrawn {i}")
        sim.tick()
    assert sim.kinds("q").count("dialog") == 1
    assert sim.memory.agent("q").dialog_line == "Bash"
    signal(sim, "active", "PostToolUse")  # answered: the tool ran
    sim.advance(10)
    sim.show("q", "working")
    sim.tick()
    assert sim.memory.agent("q").dialog_line is None
    signal(sim, "dialog", "PermissionRequest", detail="Bash")  # the next dialog is news
    sim.advance(10)
    sim.tick()
    assert sim.kinds("q").count("dialog") == 2


def test_a_dialog_seen_by_hook_and_screen_is_one_event(sim: Sim) -> None:
    """The hook names the tool ("Bash"), the screen its question ("Do you want to
    proceed?"): the two texts must not take turns announcing the same dialog."""
    dialog = f"❯ do it\n Bash command\n Do you want to proceed?\n ❯ 1. Yes\n   2. No\n{RULE}"
    sim.run("c", "claude", "starting")
    sim.tick()
    sim.signals["c"] = SignalRecord(Signal("claude", "PermissionRequest", "dialog",
                                           detail="Bash"), sim.wall, 0)
    for i in range(6):
        sim.advance(10)
        sim.show("c", dialog + " " * i)  # redrawn
        sim.tick()
    assert sim.kinds("c").count("dialog") == 1, sim.kinds("c")


def test_a_signal_from_before_the_run_is_not_believed(sim: Sim) -> None:
    """A stale file of the previous run saying "active" must not keep a hung new run
    alive: the screen (here: no regexes, so idle) decides."""
    sim.run("q", "quiet-cli", "frozen")
    signal(sim, "active", "PreToolUse", ago=5000)
    sim.tick()
    while sim.mono < 2000 and "stall-reboot" not in sim.kinds("q"):
        sim.advance(10)
        sim.tick()
    assert "stall-reboot" in sim.kinds("q")
    assert sim.memory.agent("q").state_source in ("screen", None)


def test_a_limit_on_screen_beats_a_signal_of_work(sim: Sim) -> None:
    sim.run("s", "python3.11", limit_screen(sim))
    sim.signals["s"] = SignalRecord(Signal("claude", "PostToolUse", "active"), sim.wall, 0)
    sim.tick()
    assert "limit" in sim.kinds("s")


# --------------------------------------------------------------------- the transcript
# `c` runs the claude preset; its screen shows nothing, its transcript's last record tells.

def test_a_usage_limit_in_the_transcript_holds_with_its_reset_time(sim: Sim) -> None:
    reset = datetime.fromtimestamp(sim.wall + 7200, UTC)
    sim.run("c", "claude", "nothing on screen")
    sim.tick()
    text = f"You've hit your session limit · resets {reset.strftime('%-I:%M%p').lower()} (UTC)"
    sim.api_errors["c"] = ApiError(sim.wall, 429, "rate_limit", text)
    sim.signals["c"] = SignalRecord(Signal("claude", "Stop", "idle", True), sim.wall, 1)
    sim.tick(light=False)  # the Stop hook's wake-up: judged on the agent's own word
    held = [e for e in sim.events if e.agent == "c" and e.event == "limit"]
    assert held and "the CLI's own report" in held[0].reason
    assert sim.memory.agent("c").limit_reset_wall == pytest.approx(
        reset.replace(second=0, microsecond=0).timestamp())
    for _ in range(70):  # over an hour of looks: held, never rebooted, never typed into
        sim.advance(60)
        sim.tick()
    assert "stall-reboot" not in sim.kinds("c") and sim.typed == []
    sim.advance(3600)
    sim.tick()
    assert sim.kinds("c")[-1] == "limit-nudge"
    sim.signals["c"] = SignalRecord(Signal("claude", "UserPromptSubmit", "active"), sim.wall, 1)
    sim.advance(10)
    sim.tick()
    assert sim.kinds("c")[-1] == "limit-over"


def test_an_overload_in_the_transcript_counts_as_retrying(sim: Sim) -> None:
    sim.run("c", "claude", "nothing on screen")
    sim.tick()
    for _ in range(45):  # it keeps retrying by itself: 450 s of a still screen
        sim.api_errors["c"] = ApiError(sim.wall, 529, "overloaded_error",
                                       "API Error: 529 Overloaded · retrying")
        sim.advance(10)
        sim.tick()
    assert "stall-reboot" not in sim.kinds("c")
    assert sim.memory.agent("c").state_source == "transcript"


CAPTURED = Path(__file__).parent / "fixtures" / "screens-captured" / "claude-2.1.332"


def test_a_cli_that_continues_by_itself_is_held_untouched_then_checked(sim: Sim) -> None:
    """Claude Code 2.1.332 offers to continue by itself at the reset: the window is held
    without a nudge; once it is over the CLI gets AUTO_RESUME_GRACE to resume on its own;
    only if it did not is it nudged (once)."""
    from agent_orchestrator.core.screenrules import AUTO_RESUME_GRACE
    limited = (CAPTURED / "usage_limit.txt").read_text()
    sim.run("c", "claude", limited)
    sim.tick()
    assert sim.kinds("c")[-1] == "limit"
    assert "continues by itself" in [e.reason for e in sim.events if e.agent == "c"][-1]
    window = sim.memory.agent("c").limit_until - sim.mono
    sim.advance(window + 1)
    sim.tick()
    assert sim.kinds("c")[-1] == "limit-waiting" and sim.typed == []
    sim.advance(AUTO_RESUME_GRACE - 10)
    sim.tick()
    assert sim.typed == []
    sim.advance(20)
    sim.tick()  # it did not resume: now the one nudge
    assert sim.kinds("c")[-1] == "limit-nudge" and len(sim.typed) == 1


def test_a_cli_that_did_continue_by_itself_is_never_typed_into(sim: Sim) -> None:
    sim.run("c", "claude", (CAPTURED / "usage_limit.txt").read_text())
    sim.tick()
    sim.advance(sim.memory.agent("c").limit_until - sim.mono + 1)
    sim.tick()
    sim.advance(30)
    sim.show("c", (CAPTURED / "busy.txt").read_text())  # it resumed on its own
    sim.tick()
    assert sim.kinds("c")[-1] == "limit-over" and sim.typed == []


def test_a_failed_turn_hook_with_a_limit_holds_before_the_transcript_says_so(sim: Sim) -> None:
    """Claude Code runs StopFailure (with the banner) before writing its transcript: the
    hook alone is enough to hold the agent."""
    sim.run("c", "claude", "nothing on screen")
    sim.tick()
    reset = datetime.fromtimestamp(sim.wall + 3 * 3600, UTC)
    sim.signals["c"] = SignalRecord(Signal(
        "claude", "StopFailure", "idle", True,
        f"You've hit your 5-hour limit · resets {reset.strftime('%-I:%M%p').lower()} (UTC)",
        error="rate_limit"), sim.wall, 1)
    sim.tick(light=False)
    assert sim.kinds("c")[-1] == "limit"  # (adopted: its turns before were history)
    assert sim.memory.agent("c").limit_until is not None
