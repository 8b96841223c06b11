"""Texts queued with `agents send --when-idle`: typed by the watchdog at the agent's next
idle look (never while it works, is limited or at a dialog), the file removed only once the
typing landed. Scripted histories on a fake clock through the real decide() and applier,
reading the real queue files; then end to end on a private tmux server."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import holds_for, wait_until, write_config
from harness import demo_agent
from simulate import Sim

from agent_orchestrator import config as config_mod
from agent_orchestrator.core import looprules
from agent_orchestrator.core.decisions import Queue, Unqueue
from agent_orchestrator.doors import inbox
from agent_orchestrator.runtime import apply

RULE = "─" * 60
IDLE = f"❯ do it\n● Done: do it\n✻ Worked for 3s\n{RULE}\n❯\xa0\n{RULE}\n  ? for shortcuts"
BUSY = f"❯ do it\n✢ Warping… ({{n}}s · esc to interrupt)\n{RULE}\n❯\xa0\n{RULE}\n  esc to interrupt"
DIALOG = " Bash command\n   npm test\n Do you want to proceed?\n ❯ 1. Yes\n   2. No"
LIMIT = (f"❯ do it\n  ⎿\xa0You've hit your session limit · resets {{reset}}\n{RULE}\n❯\xa0\n"
         f"{RULE}\n  ? for shortcuts")
TEXT = "review the diff; then say `done` — $(not a shell) \"quoted\"\nsecond line"


@pytest.fixture
def sim(tmp_path: Path) -> Sim:
    sim = Sim(config_mod.load(write_config(tmp_path, """
        [watchdog]
        signal_interval = 10

        [[agent]]
        name = "a"
        backend = "demo"
        watch = "heal"
    """)))
    sim.run("a", "python3.11", IDLE)
    sim.tick()
    return sim


def queued(sim: Sim) -> list[str]:
    return inbox.queued(sim.config.state_dir, "a")


def test_an_idle_agent_gets_the_queued_texts_one_per_look_in_order(sim: Sim) -> None:
    first = inbox.enqueue(sim.config.state_dir, "a", TEXT)
    inbox.enqueue(sim.config.state_dir, "a", "the second one")
    sim.tick(light=False)  # a pass that looked at nobody judges nobody
    assert sim.typed == [] and len(queued(sim)) == 2
    sim.advance(10)
    sim.show("a", IDLE + " ")
    sim.tick()
    assert sim.typed == [("a", TEXT)]
    assert sim.kinds("a")[-2:] == ["send-typing", "send-delivered"]
    assert first.id in sim.events[-1].reason
    assert len(queued(sim)) == 1
    sim.advance(10)
    sim.show("a", IDLE)
    sim.tick()
    assert sim.typed == [("a", TEXT), ("a", "the second one")] and queued(sim) == []
    sim.advance(10)
    sim.show("a", IDLE + " ")
    sim.tick()
    assert len(sim.typed) == 2


@pytest.mark.parametrize("screen", ["busy", "dialog", "limited"])
def test_an_agent_that_works_is_limited_or_at_a_dialog_keeps_it_queued(
        sim: Sim, screen: str) -> None:
    inbox.enqueue(sim.config.state_dir, "a", TEXT)
    reset = datetime.fromtimestamp(sim.wall + 7200, UTC).strftime("%-I%p").lower()
    for n in range(1, 5):
        sim.advance(10)
        sim.show("a", {"busy": BUSY.format(n=n), "dialog": DIALOG,
                       "limited": LIMIT.format(reset=reset + " (UTC)")}[screen])
        sim.tick()
    assert sim.typed == [] and len(queued(sim)) == 1
    assert "send-typing" not in sim.kinds("a")
    sim.advance(10)
    sim.show("a", IDLE)  # idle again (the banner gone, the dialog answered, the turn over)
    sim.tick()
    assert sim.typed == [("a", TEXT)] and queued(sim) == []


def test_a_failed_delivery_keeps_the_text_for_the_next_idle_moment(sim: Sim) -> None:
    inbox.enqueue(sim.config.state_dir, "a", TEXT)
    sim.undeliverable = True
    sim.advance(10)
    sim.show("a", IDLE + " ")
    sim.tick()
    assert sim.kinds("a")[-2:] == ["send-typing", "delivery-failed"]
    assert "kept for the next idle moment" in sim.events[-1].reason
    assert len(queued(sim)) == 1
    sim.undeliverable = False
    sim.advance(10)
    sim.show("a", IDLE)
    sim.tick()
    assert sim.kinds("a")[-1] == "send-delivered" and queued(sim) == []


def test_queue_files_are_private_ordered_and_bounded(tmp_path: Path) -> None:
    ids = [inbox.enqueue(tmp_path, "a", f"text {n}").id for n in range(3)]
    assert inbox.queued(tmp_path, "a") == ids
    folder = inbox.inbox_dir(tmp_path, "a")
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all((folder / i).stat().st_mode & 0o777 == 0o600 for i in ids)
    (folder / f".{ids[0]}.123.xyz.tmp").write_text("half written")
    oldest = inbox.oldest(tmp_path, "a")
    assert oldest is not None and oldest.text == "text 0"
    with pytest.raises(ValueError, match="at most"):
        inbox.enqueue(tmp_path, "a", "x" * (inbox.MAX_BYTES + 1))
    with pytest.raises(ValueError):
        inbox.inbox_dir(tmp_path, "../b")


def test_a_phase_change_drops_the_watchdogs_stale_texts_not_the_operators(sim: Sim) -> None:
    """looprules queues pings and gate failures with their reason and drops them when the
    phase changes (Unqueue); what the operator queued (`agents send`) stays, in order."""
    state, events = sim.config.state_dir, []
    mine = inbox.enqueue(state, "a", "from the operator")
    for action in (Queue("a", "handoff", "New claim abc"), Queue("a", "verify failed", "fix"),
                   Unqueue("a", looprules.STALE_ON_PHASE_CHANGE)):
        apply.apply_one(None, sim.config, action, events.extend)  # type: ignore[arg-type]
    assert events == [] and inbox.queued(state, "a") == [mine.id]
    later = inbox.enqueue(state, "a", "New review def", reason="handoff")
    assert later.id.endswith("-handoff.txt") and inbox.queued(state, "a") == [mine.id, later.id]
    assert inbox.drop(state, "a", ("verify failed",)) == 0
    assert inbox.drop(state, "a", ("handoff",)) == 1 and inbox.queued(state, "a") == [mine.id]


# ------------------------------------------------------------------------- end to end


def test_send_types_byte_exact_now_and_reports_json(make_fleet, tmp_path: Path) -> None:
    fleet = make_fleet(demo_agent("a", tmp_path, busy=0.5))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    wait_until(lambda: any(r["event"] == "start" for r in fleet.records("a")),
               what="the agent")
    result = fleet.agents("send", "a", TEXT, "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["delivered"] is True and body["queued"] is None and body["agent"] == "a"
    typed = [r["text"] for r in fleet.records("a") if r["event"] == "input"]
    assert typed[-1] == TEXT
    sent = fleet.events("a", "send")
    assert len(sent) == 1 and "typed" in sent[0]["reason"] and "operator: pid" in sent[0]["reason"]
    # status names the newest event of the agent, the operator's `send` included (the
    # watchdog's memory never holds the events of other processes)
    newest = fleet.events("a")[-1]["event"]
    row = next(r for r in json.loads(fleet.agents("status", "--json").stdout)["agents"]
               if r["agent"] == "a")
    assert row["last_event"] in (newest, fleet.events("a")[-1]["event"])
    assert row["last_event"] not in ("adopt", "start")  # the memory's last one
    # From stdin, its one final newline dropped (the submit key ends it), no other.
    for piped_in, typed_text in (("from stdin\n", "from stdin"), ("x\n\n", "x\n")):
        piped = subprocess.run([sys.executable, "-m", "agent_orchestrator", "send", "a", "-",
                                "--config", str(fleet.path)], input=piped_in, text=True,
                               capture_output=True, timeout=30, check=False)
        assert piped.returncode == 0 and piped.stdout.startswith("delivered to a"), piped
        assert [r["text"] for r in fleet.records("a") if r["event"] == "input"][-1] == \
            typed_text
    # The errors.
    assert fleet.agents("send", "nope", "x").returncode == 2  # an unknown name: bad usage
    assert fleet.agents("send", "a").returncode == 2
    assert fleet.agents("send", "a", "  ").returncode == 1
    assert fleet.agents("down", "a").returncode == 0
    stopped = fleet.agents("send", "a", "x")
    assert stopped.returncode == 1 and "not running" in stopped.stderr


def test_send_when_idle_is_delivered_by_the_watchdog_once_idle(make_fleet,
                                                               tmp_path: Path) -> None:
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" +
                       demo_agent("a", tmp_path, busy=0.3))
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "adopt")
    fleet.control("a", "busy 4")
    wait_until(lambda: any(r.get("command") == "busy 4" for r in fleet.records("a")),
               what="the agent busy")
    result = fleet.agents("send", "a", TEXT, "--when-idle", "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["queued"] and body["delivered"] is None
    state = fleet.folder / "logs" / "state" / "inbox" / "a"
    assert (state / body["queued"]).read_text() == TEXT
    assert "queued" in fleet.events("a", "send")[0]["reason"]
    inputs = len([r for r in fleet.records("a") if r["event"] == "input"])
    holds_for(lambda: len([r for r in fleet.records("a") if r["event"] == "input"])
              == inputs, 2, what="nothing typed while it works")
    delivered = fleet.wait_event("a", "send-delivered", timeout=20)
    assert body["queued"] in delivered["reason"]
    assert [r["text"] for r in fleet.records("a") if r["event"] == "input"][-1] == TEXT
    assert not (state / body["queued"]).exists()
    holds_for(lambda: len(fleet.events("a", "send-typing")) == 1, 1, what="typed once")
    assert [r["text"] for r in fleet.records("a") if r["event"] == "input"].count(TEXT) == 1


def test_send_when_idle_to_an_unwatched_agent_is_refused(make_fleet, tmp_path: Path) -> None:
    """Only a watched agent has idle moments the watchdog sees: queued for one with
    watch = "none", a text waited for ever while `send` said it would be typed."""
    fleet = make_fleet(demo_agent("a", tmp_path, watch="none"))
    result = fleet.agents("send", "a", "later", "--when-idle")
    assert result.returncode == 1
    assert "'a' is not watched (watch = \"none\")" in result.stderr
    assert "without --when-idle" in result.stderr
    assert not (fleet.folder / "logs" / "state" / "inbox" / "a").exists()  # nothing queued
