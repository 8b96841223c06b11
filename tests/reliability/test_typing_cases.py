"""Issue #14 items 9 and 10 (T56–T59): what the watchdog types into an agent, and when.

- T56: a handoff ping for an agent held at a usage limit (or at a dialog, or working) waits
  in its inbox and is typed at its next idle moment, also across a watchdog restart —
  scripted on the fake clock, and end to end with the demo agent limited on a private tmux
  server while a real git relay pings it.
- T57: a text refused at the screen (a limit banner came up between the look and the
  typing) is queued, not lost; the resume nudge alone is typed under a banner; so is an
  operator's `agents send` (and a lead agent's MCP `send`) into a limited agent.
- T58: a frozen working line above a limit banner (real captured screens) reads limited.
- T59: a spinner under a banner that stops moving is a limit, held, never stall-rebooted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import clone_repo, git, holds_for, sessions, tmux_cmd, wait_until, write_config
from harness import Fleet
from simulate import Sim

from agent_orchestrator import config as config_mod
from agent_orchestrator.config.loader import builtin_backend
from agent_orchestrator.core import screen
from agent_orchestrator.core.decisions import Queue, Type
from agent_orchestrator.core.handoff import Ping
from agent_orchestrator.core.memory import FleetMemory
from agent_orchestrator.core.observed import LoopSeen
from agent_orchestrator.core.screen import classify
from agent_orchestrator.core.screenrules import NUDGE
from agent_orchestrator.doors import inbox
from agent_orchestrator.doors.tmux import Tmux
from agent_orchestrator.runtime import apply, delivery

CAPTURED = Path(__file__).parents[1] / "fixtures" / "screens-captured"
NOW = datetime(2026, 12, 4, 17, 21, tzinfo=UTC)  # the captures were taken 17:14-17:21 UTC
RULE = "─" * 60
BOX = f"{RULE}\n❯\xa0\n{RULE}"
IDLE = f"❯ do it\n● Done: do it\n✻ Worked for 3s\n{BOX}\n  ? for shortcuts"
BANNER = "  ⎿\xa0You've hit your session limit · resets 3pm (UTC)"
LIMITED = f"❯ do it\n{BANNER}\n{BOX}\n  ? for shortcuts"
DIALOG = (f"❯ do it\n Bash command\n   npm test\n Do you want to proceed?\n ❯ 1. Yes\n"
          f"   2. No\n{BOX}\n  ? for shortcuts")
BUSY = f"❯ do it\n✢ Warping… ({{n}}s · esc to interrupt)\n{BOX}\n  esc to interrupt"
SHA = "c0ffee" * 6 + "abcd"
PING = f"New claim on origin/main: {SHA[:12]} 'claim: gate A'. Pull and verify."

LOOP = """
    [watchdog]
    signal_interval = 10
    limit_reset_slack = 45

    [[agent]]
    name = "builder"
    kind = "loop"
    role = "builder"
    backend = "demo"
    watch = "heal"

    [[agent]]
    name = "adversary"
    kind = "loop"
    role = "adversary"
    backend = "demo"
    watch = "heal"

    [loop]
    roles_dir = "."
    handoff = { repo = "watch", state_subdir = "" }

    [[loop.phases]]
    id = "one"
    status = "S.md"
"""


def loop_sim(tmp_path: Path) -> Sim:
    for name in ("builder.md", "adversary.md"):
        (tmp_path / name).write_text("work\n")
    (tmp_path / "watch").mkdir()
    sim = Sim(config_mod.load(write_config(tmp_path, LOOP)))
    sim.run("builder", "python3.11", IDLE)
    sim.run("adversary", "python3.11", IDLE)
    sim.loop = LoopSeen(0)
    sim.tick()  # adopted
    return sim


def ping_once(sim: Sim) -> None:
    """One pass in which the relay found a claim for the adversary."""
    sim.advance(10)
    sim.loop = LoopSeen(0, head=SHA, pings=(Ping("adversary", PING, SHA),))
    sim.tick()
    sim.loop = LoopSeen(0, head=SHA)


def typed_to(sim: Sim, name: str) -> list[str]:
    return [text for agent, text in sim.typed if agent == name]


@pytest.mark.parametrize("held", [LIMITED, DIALOG, BUSY.format(n=1)],
                         ids=["limited", "dialog", "working"])
def test_t56_a_ping_waits_in_the_inbox_until_the_agent_is_idle(tmp_path: Path,
                                                               held: str) -> None:
    """FAULT: a claim is relayed to an agent held at a usage limit (or sitting at a dialog,
    or working); the watchdog then restarts with its memory lost.
    EXPECTED: no text is typed into it while it is held (today the ping was typed at once:
    into Claude Code's limit menu, lost); the ping sits in its inbox through the restart
    and is typed once, at its first idle look, then removed."""
    sim = loop_sim(tmp_path)
    sim.advance(10)
    sim.show("adversary", held)
    sim.tick()
    ping_once(sim)
    assert "handoff-ping" in sim.kinds("adversary")
    assert not [a for a in sim.actions if isinstance(a, Type) and a.agent == "adversary"]
    assert [a.text for a in sim.actions if isinstance(a, Queue)] == [PING]
    assert len(inbox.queued(sim.config.state_dir, "adversary")) == 1
    for n in range(12):  # two fake minutes held (a working agent keeps printing)
        sim.advance(10)
        if held.startswith("❯ do it\n✢"):
            sim.show("adversary", BUSY.format(n=n + 2))
        sim.tick()
    sim.memory = FleetMemory()  # the watchdog restarted: memory gone, the inbox is not
    sim.advance(10)
    sim.tick()
    assert typed_to(sim, "adversary") == []
    sim.advance(10)
    sim.show("adversary", IDLE)
    sim.tick()
    assert typed_to(sim, "adversary") == [PING]
    assert inbox.queued(sim.config.state_dir, "adversary") == []
    assert "send-delivered" in sim.kinds("adversary")
    for _ in range(3):  # delivered once
        sim.advance(10)
        sim.tick()
    assert typed_to(sim, "adversary") == [PING]


def test_t56_a_ping_for_an_idle_agent_goes_at_its_next_look(tmp_path: Path) -> None:
    """Control: an idle agent gets its ping at the next pass's look (one signal_interval)."""
    sim = loop_sim(tmp_path)
    ping_once(sim)
    sim.advance(10)
    sim.tick()
    assert typed_to(sim, "adversary") == [PING]
    assert typed_to(sim, "builder") == []


def test_t56_verify_failure_waits_out_a_limit_too(tmp_path: Path) -> None:
    """The builder told about a failed verify gate is told through its inbox as well."""
    from agent_orchestrator.core.handoff import VerifyResult

    sim = loop_sim(tmp_path)
    config = sim.config
    raw = (tmp_path / "agents.toml").read_text()
    (tmp_path / "agents.toml").write_text(raw.replace(
        'status = "S.md"', 'status = "S.md"\nverify = ["false"]').replace(
        '[loop]', '[loop]\nauto_advance = true'))
    sim.config = config = config_mod.load(tmp_path / "agents.toml")
    sim.advance(10)
    sim.show("builder", LIMITED)
    sim.loop = LoopSeen(0, head=SHA, done_sha=SHA, done_checked=True,
                        verify=VerifyResult(False, SHA, "false", 1, "boom"))
    sim.tick()
    assert "verify-failed" in sim.kinds()
    assert typed_to(sim, "builder") == []
    assert len(inbox.queued(config.state_dir, "builder")) == 1
    sim.advance(10)
    sim.show("builder", IDLE)
    sim.tick()
    assert [t for t in typed_to(sim, "builder") if "verify gates" in t]


# ------------------------------------------------------------------- T56 end to end


def records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def inputs(path: Path) -> list[str]:
    return [r["text"] for r in records(path) if r["event"] == "input"]


def push(repo: Path, subject: str) -> str:
    git(repo, "commit", "-q", "--allow-empty", "-m", subject)
    git(repo, "pull", "-q", "--rebase")
    git(repo, "push", "-q", "origin", "HEAD:main")
    return git(repo, "rev-parse", "HEAD")


@pytest.mark.tmux
@pytest.mark.slow
def test_t56_limited_demo_agent_gets_the_ping_only_after_its_limit(
        tmp_path: Path, tmux_socket: str) -> None:
    """FAULT: the adversary (the demo agent) shows a usage-limit banner; the builder pushes
    a claim, which the real relay turns into a ping for it.
    EXPECTED: the ping is queued (`handoff-ping ... queued`), nothing is typed into the
    limited agent, and the queued ping outlives a watchdog restart; when the window ends the
    resume nudge is the first text it gets, and the ping is typed only after it, once the
    agent is idle again."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    seed = clone_repo(origin, tmp_path / "seed")
    git(seed, "commit", "-q", "--allow-empty", "-m", "initial")
    git(seed, "push", "-q", "origin", "HEAD:main")
    builder = clone_repo(origin, tmp_path / "b")
    clone_repo(origin, tmp_path / "a")
    clone_repo(origin, tmp_path / "watch")
    (tmp_path / "kickoff.md").write_text("Phase {phase_id} as {role}.\n")
    (tmp_path / "prompts").mkdir()
    for name in ("builder", "adversary"):
        (tmp_path / "prompts" / f"{name}.md").write_text("Work.\n")
    agents = "".join(textwrap.dedent(f"""
        [[agent]]
        name = "{name}"
        kind = "loop"
        role = "{name}"
        dir = "{name[0]}"
        backend = "demo{name}"

        [backend.demo{name}]
        bin = "{{python}} -m agent_orchestrator.fakeagent"
        flags = "--busy 0.3 --control {tmp_path}/ctl-{name} --record {tmp_path}/rec-{name}"
        process_name = "python"
        active_re = "esc to interrupt"
        limit_re = "You've hit your (?:\\\\w+ )?limit"
        prompt_re = "Do you want to proceed\\\\?"
    """) for name in ("builder", "adversary"))
    fleet = Fleet(tmp_path, tmux_socket, f"""
        [watchdog]
        signal_interval = 0.3
        heavy_interval = 0.3
        limit_probe_fallback = 8
        {agents}
        [loop]
        kickoff_template = "kickoff.md"
        handoff = {{ repo = "watch", state_subdir = "" }}

        [[loop.phases]]
        id = "one"
        status = "STATUS.md"
    """, defaults='watch = "heal"\n')
    rec = tmp_path / "rec-adversary"
    memory = tmp_path / "logs" / "state" / "watchdog.json"
    try:
        assert fleet.agents("up").returncode == 0
        wait_until(lambda: memory.exists() and json.loads(memory.read_text())
                   .get("loop", {}).get("seen_sha"), what="a git baseline")
        wait_until(lambda: inputs(rec) == [] and records(rec), what="the adversary")
        fleet.control("adversary", "limit soon")  # no readable reset: probe in 8 s
        fleet.wait_event("adversary", "limit")
        claim = push(builder, "claim: gate A works")
        ping = fleet.wait_event("adversary", "handoff-ping")
        assert claim[:12] in ping["reason"]
        holds_for(lambda: inputs(rec) == [], 1.0, what="nothing typed into the limit")
        assert "queued" in ping["reason"]
        # The watchdog restarts while the ping waits: its inbox file carries it over.
        assert fleet.agents("down", "watchdog").returncode == 0
        wait_until(lambda: "e-watchdog" not in sessions(tmux_socket), what="no watchdog")
        assert len(inbox.queued(tmp_path / "logs" / "state", "adversary")) == 1
        assert fleet.agents("up", "watchdog").returncode == 0
        got = wait_until(lambda: [t for t in inputs(rec) if claim[:12] in t] and inputs(rec),
                         timeout=40, what="the ping after the limit")
        assert got[0] == NUDGE  # the first text it got: the nudge, after the window
        assert [t for t in got if claim[:12] in t] == [got[-1]] and len(got) == 2
        fleet.wait_event("adversary", "send-delivered")
        assert inbox.queued(tmp_path / "logs" / "state", "adversary") == []
    finally:
        fleet.close()


# ------------------------------------------------------------------------------- T57


def limited_demo_agent(tmp_path: Path, tmux_socket: str) -> tuple[Tmux, Path, Path]:
    """Demo agent `w` (session t-w) started on a private server, then showing a usage-limit
    banner; its tmux door, config path and input record."""
    from agent_orchestrator.runtime import launch

    tmux = Tmux(tmux_socket)
    rec, ctl = tmp_path / "rec.jsonl", tmp_path / "ctl"
    path = write_config(tmp_path, f"""
        [[agent]]
        name = "w"
        backend = "demo"
        watch = "heal"
        [backend.demo]
        flags = "--busy 0.2 --record {rec} --control {ctl}"
    """, socket=tmux_socket)
    config = config_mod.load(path)
    launch.start(tmux, config, launch.plan_for(config, config.agents[0]), swept=False)
    wait_until(lambda: records(rec), what="the demo agent")
    (ctl.with_suffix(".tmp")).write_text("limit 3pm (UTC)\n")
    (ctl.with_suffix(".tmp")).rename(ctl)
    wait_until(lambda: screen.limit_line(tmux.capture("t-w"), config.backend("demo")),
               what="the banner")
    return tmux, path, rec


@pytest.mark.tmux
def test_t57_delivery_refuses_a_limit_banner_and_the_text_waits(
        tmp_path: Path, tmux_socket: str) -> None:
    """FAULT: a wake text is to be typed (decided at an idle look), but by the time the
    worker types it the demo agent shows a usage-limit banner.
    EXPECTED: nothing is typed; the text goes to the agent's inbox (`delivery-deferred`),
    to be typed at its next idle look. The resume nudge (`into_limit`) is still typed."""
    tmux, path, rec = limited_demo_agent(tmp_path, tmux_socket)
    config = config_mod.load(path)
    backend = config.backend("demo")

    result = delivery.deliver(tmux, "t-w", "wake up", dialog_re=backend.prompt_re,
                              active_re=backend.active_re, limits=backend)
    assert (result.delivered, result.blocked) == (False, True)
    assert "usage limit" in result.detail
    events = apply.defer(config, apply.Delivered("w", "wake", result, text="wake up"), 0.0)
    assert [e.event for e in events] == ["delivery-deferred"]
    queued = inbox.oldest(config.state_dir, "w")
    assert queued is not None and queued.text == "wake up"
    holds_for(lambda: inputs(rec) == [], 0.5, what="nothing typed")

    nudge = delivery.deliver(tmux, "t-w", NUDGE, dialog_re=backend.prompt_re,
                             active_re=backend.active_re, limits=None)
    assert nudge.delivered and inputs(rec) == [NUDGE]


@pytest.mark.tmux
def test_t57_agents_send_into_a_limited_agent_is_queued_not_typed(
        tmp_path: Path, tmux_socket: str) -> None:
    """FAULT: the operator's `agents send w TEXT` (no --when-idle), and a lead agent's MCP
    `send`, while the demo agent shows a usage-limit banner (in Claude Code, the limit menu:
    Enter would pick one of its items).
    EXPECTED: nothing is typed; each text is queued in the agent's inbox for its next idle
    moment, and the result says so: `delivered` false, `queued` its id, `detail` naming
    the limit (--json), "not typed ... queued" (text); exit 0 (the text is safe, as with
    --when-idle); a `send` event records it (was: typed into the limit menu, lost)."""
    import sys

    from agent_orchestrator.cli import mcptools

    _, path, rec = limited_demo_agent(tmp_path, tmux_socket)
    config = config_mod.load(path)

    def send(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agent_orchestrator", "send", "w",
                               *extra, "--config", str(path)], capture_output=True,
                              text=True, timeout=30, check=False)

    done = send("run the tests", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["delivered"] is False and result["queued"]
    assert "not typed: a usage limit is on screen" in result["detail"]
    assert result["detail"].endswith("queued for its next idle moment")
    shown = send("and lint")
    assert shown.returncode == 0, shown.stderr
    assert "not typed: a usage limit is on screen" in shown.stdout
    assert "queued for w as " in shown.stdout
    lead = mcptools.send(path, "w", "from the lead", False)
    assert lead["delivered"] is False and lead["queued"]
    holds_for(lambda: inputs(rec) == [], 0.5, what="nothing typed into the limit")
    box = inbox.inbox_dir(config.state_dir, "w")
    assert [(box / q).read_text() for q in inbox.queued(config.state_dir, "w")] == [
        "run the tests", "and lint", "from the lead"]
    sends = [json.loads(x) for x in (tmp_path / "logs" / "events.jsonl").read_text()
             .splitlines() if json.loads(x)["event"] == "send"]
    assert len(sends) == 3 and all("usage limit" in e["reason"] and "queued" in e["reason"]
                                   for e in sends)


def test_t57_a_refused_text_for_an_agent_no_rule_judges_is_reported(tmp_path: Path) -> None:
    """An agent the rules never look at (`watch = "none"`) has no idle moment to wait for:
    its refused text is a `delivery-failed` event, not a file left in its inbox for ever."""
    config = config_mod.load(write_config(tmp_path, """
        [[agent]]
        name = "n"
        backend = "demo"
    """))
    refused = delivery.Delivery(False, "not typed: a usage limit is on screen", True)
    events = apply.defer(config, apply.Delivered("n", "wake", refused, text="hi"), 0.0)
    assert [e.event for e in events] == ["delivery-failed"]
    assert inbox.queued(config.state_dir, "n") == []


# ------------------------------------------------------------------------------- T58


def codex_screen(version: str, spinner_first: bool) -> str:
    """Codex's real screens put together: the captured usage-limit turn (echo, banner),
    the idle composer and footer below it, and Codex's own working line from its captured
    busy screen, left frozen above the banner (`spinner_first`: the turn the limit ended)
    or drawn below it (a retry in flight)."""
    backend = builtin_backend("codex")
    assert backend.active_re is not None
    busy = (CAPTURED / version / "busy.txt").read_text().split("\n")
    spinner = next(line for line in busy if backend.active_re.search(line))
    rows = (CAPTURED / version / "usage_limit.txt").read_text().split("\n")
    echo = max(i for i, line in enumerate(rows) if "usage limit please" in line)
    banner = [line for line in rows[echo + 1:echo + 5] if line.strip()]
    idle = [line for line in (CAPTURED / version / "idle.txt").read_text().split("\n")
            if line.strip()][-3:]
    turn = [spinner, "", *banner] if spinner_first else [*banner, "", spinner]
    return "\n".join([*rows[:echo + 1], "", *turn, "", *idle])


@pytest.mark.parametrize("version", ["codex-0.169.0", "codex-0.171.0"])
def test_t58_frozen_working_line_above_a_real_banner_reads_limited(version: str) -> None:
    """FAULT: Codex was working (its real `• Working (1s • esc to interrupt)` line) and hit
    its usage limit; the working line stays frozen above the real banner.
    EXPECTED: limited, with the banner's reset time (was: active, so never held, and
    rebooted by the stall rule into the same limit)."""
    view = classify(codex_screen(version, spinner_first=True), builtin_backend("codex"), NOW)
    assert (view.state, view.active_line) == ("limited", None)
    assert view.reset_at is not None and (view.reset_at.hour, view.reset_at.minute) == (19, 24)


@pytest.mark.parametrize("version", ["codex-0.169.0", "codex-0.171.0"])
def test_t58_a_working_line_under_a_banner_is_still_a_retry(version: str) -> None:
    """Control: the working line BELOW the banner is a CLI retrying: active (screenrules
    holds it as a limit only once it stops moving: T59)."""
    view = classify(codex_screen(version, spinner_first=False), builtin_backend("codex"), NOW)
    assert view.state == "active" and view.limit_line is not None


# ------------------------------------------------------------------------------- T59


@pytest.fixture
def stall_sim(tmp_path: Path) -> Sim:
    path = write_config(tmp_path, """
        [watchdog]
        signal_interval = 10
        limit_reset_slack = 45

        [backend.demo]
        stall_idle = 300

        [[agent]]
        name = "s"
        backend = "demo"
        watch = "heal+stall"
    """)
    sim = Sim(config_mod.load(path))
    sim.run("s", "python3.11", BUSY.format(n=1))
    sim.tick()
    for n in range(2, 5):  # working: the spinner ticks
        sim.advance(10)
        sim.show("s", BUSY.format(n=n * 10))
        sim.tick()
    return sim


@pytest.mark.parametrize("frozen", [
    f"❯ do it\n{BANNER}\n✢ Warping… (41s · esc to interrupt)\n{BOX}\n  esc to interrupt",
    f"❯ do it\n✢ Warping… (41s · esc to interrupt)\n{BANNER}\n{BOX}\n  ? for shortcuts",
], ids=["spinner-under-banner", "spinner-above-banner"])
def test_t59_a_frozen_spinner_with_a_banner_is_held_not_rebooted(stall_sim: Sim,
                                                                 frozen: str) -> None:
    """FAULT: the agent was working and hit its limit; its working line froze on screen
    next to the banner, and the pane prints nothing more for 10 fake minutes.
    EXPECTED: the limit is entered (held until 3pm + slack), no stall reboot, nothing
    typed (was: read as working, never limited, rebooted by the stall rule at 300 s)."""
    sim = stall_sim
    sim.advance(10)
    sim.show("s", frozen)
    for _ in range(60):
        sim.tick()
        sim.advance(10)
    assert "limit" in sim.kinds("s")
    assert "stall-reboot" not in sim.kinds("s") and sim.starts("s") == 0
    assert sim.typed == []


def test_t59_a_moving_spinner_under_a_banner_is_work(stall_sim: Sim) -> None:
    """Control: a CLI retrying under a banner redraws its spinner: working, no limit."""
    sim = stall_sim
    for n in range(30):
        sim.advance(10)
        sim.show("s", f"❯ do it\n{BANNER}\n✢ Retrying… ({n}s · esc to interrupt)\n{BOX}\n"
                      "  esc to interrupt")
        sim.tick()
    assert "limit" not in sim.kinds("s") and "stall-reboot" not in sim.kinds("s")


def claude_frozen(version: str) -> str:
    """Claude Code's captured busy screen (its footer: `esc to interrupt`) with the banner of
    its captured usage-limit screen in the turn: the footer froze when the limit hit."""
    busy = (CAPTURED / version / "busy.txt").read_text().split("\n")
    banner = next(line for line in (CAPTURED / version / "usage_limit.txt").read_text()
                  .split("\n") if "You've hit your" in line)
    echo = max(i for i, line in enumerate(busy) if line.startswith("❯ Say hello"))
    return "\n".join([*busy[:echo + 1], banner, *busy[echo + 1:]])


@pytest.mark.parametrize("version", ["claude-2.1.197", "claude-2.1.332"])
def test_t59_claude_footer_frozen_under_a_real_banner_is_held(tmp_path: Path,
                                                              version: str) -> None:
    """FAULT: Claude Code's real busy screen froze (footer still `esc to interrupt`) with
    its real limit banner in the turn; nothing is printed for 10 fake minutes.
    EXPECTED: read as a retry at first, then, standing still, as the limit: held, never
    stall-rebooted (was: working until the stall rule rebooted it)."""
    path = write_config(tmp_path, """
        [watchdog]
        signal_interval = 10
        [[agent]]
        name = "c"
        backend = "claude"
        watch = "heal+stall"
    """)
    sim = Sim(config_mod.load(path))
    busy = (CAPTURED / version / "busy.txt").read_text()
    sim.run("c", "claude", busy)
    sim.tick()
    sim.advance(10)
    sim.show("c", claude_frozen(version))
    for _ in range(60):
        sim.tick()
        sim.advance(10)
    assert "limit" in sim.kinds("c")
    assert "stall-reboot" not in sim.kinds("c") and sim.starts("c") == 0



# ------------------------------------------------------------------------------- T60

BACKTRACKING = """
import sys, time
line = ("usage limit " * 200)[:2000]  # 'usage' and 'limit' everywhere, never 'reached'
while True:
    sys.stdout.write("\\x1b[H\\x1b[2J" + line + "\\n")
    sys.stdout.flush()
    time.sleep(0.2)
"""


@pytest.mark.tmux
@pytest.mark.slow
def test_t60_heal_is_prompt_while_a_backtracking_screen_is_read(make_fleet,
                                                                 tmp_path: Path) -> None:
    """FAULT: one agent redraws a 2,000-column paragraph of "usage ... limit ..." under the
    user limit_re `.*usage.*limit.*reached` (cubic for a backtracking engine), so every
    light tick (0.3 s) captures and classifies it; meanwhile another agent is killed.
    EXPECTED: the killed agent has a new pane within 5 s (the figure: bench/heal_latency.py
    --backtracking), and the paragraph is never taken for a limit."""
    script = tmp_path / "bt.py"
    script.write_text(BACKTRACKING)
    fleet = make_fleet(f"""
        [watchdog]
        signal_interval = 0.3

        [backend.bt]
        bin = "{{python}} {script}"
        process_name = "python"
        limit_re = '.*usage.*limit.*reached'

        [backend.quiet]
        bin = "sleep 100000"
        process_name = "sleep"

        [[agent]]
        name = "bt"
        backend = "bt"
        watch = "heal"

        [[agent]]
        name = "q"
        backend = "quiet"
        watch = "heal"
    """)
    assert fleet.agents("up").returncode == 0
    old = wait_until(lambda: fleet.pane_pid("e-q"), what="the quiet agent")
    wait_until(lambda: fleet.pane_pid("e-bt"), what="the backtracking agent")
    state = tmp_path / "logs" / "state" / "watchdog.json"

    def captured() -> float | None:
        agents = json.loads(state.read_text()).get("agents", {}) if state.exists() else {}
        return agents.get("bt", {}).get("captured_wall")

    first = wait_until(captured, what="a light tick to read the paragraph")
    wait_until(lambda: (captured() or 0) > first, what="another light tick to read it")
    t0 = time.monotonic()
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: (pid := fleet.pane_pid("e-q")) and pid != old, timeout=5,
               what="the killed agent's new pane")
    assert time.monotonic() - t0 < 5
    assert not fleet.events("bt", "limit")


# ------------------------------------------------------------ T56: the ping boot line


@pytest.mark.tmux
def test_t56_the_boot_line_waits_out_a_limit_on_screen(make_fleet, tmp_path: Path) -> None:
    """FAULT: a `prompt_delivery = "ping"` agent (aider's way) comes up showing its usage
    limit; its boot line (the kickoff) is typed by a helper in its pane, which checked no
    screen (before: typed and Enter pressed into the banner, up to ten times, the kickoff
    lost). EXPECTED: nothing is typed while the banner is the current turn; once the CLI
    moves on (its own continue line), the boot line is typed, exactly once."""
    fleet = make_fleet(f"""
        [[agent]]
        name = "p"
        backend = "pinged"
        watch = "none"
        prompt = "the kickoff"

        [backend.pinged]
        bin = "{{python}} -m agent_orchestrator.fakeagent --control {tmp_path}/ctl-p --record {tmp_path}/rec-p"
        attach = "{{bin}}"
        prompt_delivery = "ping"
        connect_delay = 2
        limit_re = "You've hit your (?:\\\\w+ )?limit"
        resumed_re = "limit is over"
    """)  # noqa: E501
    fleet.control("p", "limit")  # read by the demo agent as it starts: the banner is up
    assert fleet.agents("up", "p").returncode == 0
    wait_until(lambda: "hit your session limit" in tmux_cmd(
        fleet.socket, "capture-pane", "-p", "-t", "=e-p:").stdout, what="the banner")
    inputs = lambda: [r["text"] for r in fleet.records("p") if r.get("event") == "input"]  # noqa: E731
    holds_for(lambda: inputs() == [], 4.0, what="nothing typed into the banner")
    fleet.control("p", "say The limit is over, continuing")
    typed = wait_until(inputs, timeout=15, what="the boot line, once the banner is gone")
    assert len(typed) == 1 and "kickoff" in typed[0]
    holds_for(lambda: len(inputs()) == 1, 2.5, what="typed once")
