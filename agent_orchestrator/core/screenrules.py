"""The rules that read an agent's screen (SPEC §4): fatal, limit windows, dialogs, wake, stall.

Called by rules.decide for a watched agent whose pane is alive. A screen arrives only on
light ticks and only when the pane printed something since it was last read (tmux's
`window_activity`), or while the agent sits in a limit window; between captures the rules
work from what memory kept of the last one.

- fatal: `fatal_re` on a fresh capture → restart (a failure: it counts toward crash loops).
- limit: `limit_re` with no live spinner (one above the banner, or one that has not moved
  for FROZEN seconds, is frozen) → hold until the banner's reset time + slack (or
  `limit_probe_fallback` when none can be read): never reboot, never type. When the window
  ends, type one resume nudge; leave the window once the agent works or the banner is gone;
  still limited after the nudge → a new window (so never two nudges in a row).
- dialog (`prompt_re`): reported once, never typed into, never rebooted for a stall.
- inbox: a text queued for the agent (`agents send --when-idle`, a handoff ping, a verify
  failure, a wake text the screen refused) → typed at an idle look.
- wake: idle for `wake.interval` since the last wake/start → type the wake file's text.
- stall (`heal+stall`): "working" counts only while the screen still changes (a frozen
  spinner is not work) or, for `footer_ui`, while the session log is written within
  `log_grace`. Idle for `stall_idle` → reboot; a `WAITING-UNTIL: <time>` marker postpones
  the reboot to that time + `stall_grace`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from datetime import datetime

from agent_orchestrator.config import Agent, Config
from agent_orchestrator.core import resets, signalrules
from agent_orchestrator.core.decisions import Tick, Type, short
from agent_orchestrator.core.memory import FleetMemory
from agent_orchestrator.core.observed import Observed, Pane
from agent_orchestrator.core.redact import redact
from agent_orchestrator.core.restarts import fail
from agent_orchestrator.core.screen import ScreenView, classify
from agent_orchestrator.core.signals import Verdict, api_error

AUTO_RESUME_GRACE = 120.0  # seconds a CLI that resumes by itself gets past the window
LOOK_SLACK = 30.0  # seconds a light tick may come late before its look leaves a hole
FROZEN = 3.0  # seconds a spinner over a limit banner may stand still: live ones tick each second
NUDGE = "Your usage limit should have reset now. Please continue where you left off."


def screens_read(config: Config, observed: Observed, agents: list[Agent]) -> list[str]:
    """Sessions whose screen a rule reads: live panes of agents with a screen rule. On a
    light tick each is either captured or known unchanged: all of them are looked at."""
    return [agent.session for agent in agents
            if (pane := observed.panes.get(agent.session)) is not None and not pane.dead
            and _reads_screen(config, agent)]


def screens_wanted(config: Config, observed: Observed, memory: FleetMemory,
                   agents: list[Agent]) -> list[str]:
    """Sessions to capture on this light tick: those read that printed since their last
    capture, plus every agent in a limit window."""
    wanted = []
    by_session = {a.session: a for a in agents}
    for session in screens_read(config, observed, agents):
        pane, mem = observed.panes[session], memory.agent(by_session[session].name)
        # window_activity has 1 s resolution: output in the same second as the last
        # capture may be newer than it, so such a pane is read again.
        # A spinner last seen over a limit banner is read again though tmux saw no output:
        # a frozen one is a limit, not a retry (_read).
        if (mem.limit_until is not None or mem.captured_wall is None
                or mem.screen_state == "active" and mem.screen_limit
                or pane.activity >= math.floor(mem.captured_wall)):
            wanted.append(session)
    return wanted


def takes_queue(config: Config, agent: Agent) -> bool:
    """Whether texts for the agent can wait in its inbox: the rules look at it and so
    know its idle moments (an agent they never judge gets them typed at once)."""
    return agent.enabled and agent.watch != "none" and _reads_screen(config, agent)


def _reads_screen(config: Config, agent: Agent) -> bool:
    backend = config.backend(agent.backend)
    return (agent.watch == "heal+stall" or agent.wake is not None
            or any(r is not None for r in (backend.fatal_re, backend.limit_re,
                                           backend.prompt_re)))


def look_gap(config: Config) -> float:
    """Looks further apart than this leave a hole in what we saw (the watchdog was down or
    held up): the idle clock starts again at the next look instead of counting the hole."""
    return 2 * config.watchdog.signal_interval + LOOK_SLACK


def apply(tick: Tick, agent: Agent, pane: Pane) -> None:
    if not tick.observed.looked(agent.session) and not signalrules.news(tick, agent):
        return  # nothing seen of it in this pass: no verdict (memory stands until a look)
    view = _read(tick, agent, pane)
    judged = signalrules.judge(tick, agent, view)
    if view is not None and view.state == "fatal":
        fail(tick, agent, f"fatal: {short(view.fatal_line or '')}", live=True)
        return
    if _limit(tick, agent, view, judged):
        return
    if judged.state == "dialog":
        return
    if _inbox(tick, agent, judged):
        return
    if _wake(tick, agent):
        return
    if agent.watch == "heal+stall":
        _stall(tick, agent)


def _read(tick: Tick, agent: Agent, pane: Pane) -> ScreenView | None:
    """Classify this tick's capture (if any) and update the screen memory."""
    now, name = tick.now, agent.name
    backend = tick.config.backend(agent.backend)
    mem = tick.agents[name]
    if mem.looked_at is None or now.mono - mem.looked_at > look_gap(tick.config):
        # The first look after a hole (the watchdog was down or held up, or adopted the
        # agent from an older memory): idle time starts here, since nobody saw what the
        # agent did in the hole (a verdict needs a look, not a guess).
        mem = replace(mem, looked_at=now.mono, active_at=now.mono, screen_changed_at=now.mono)
    else:
        mem = replace(mem, looked_at=now.mono)
    view = None
    screen = tick.observed.screens.get(agent.session)
    if screen is not None:
        view = classify(screen, backend, datetime.fromtimestamp(now.wall, now.tz))
        digest = hashlib.sha1(screen.encode("utf-8", "replace")).hexdigest()
        changed = digest != mem.screen_hash
        if view.state == "active" and view.limit_line is not None and not changed and \
                mem.screen_changed_at is not None and \
                now.mono - mem.screen_changed_at >= FROZEN:
            # A retrying CLI's spinner under the banner moves; this one froze: the limit
            # ended the turn, and holding beats a stall reboot into the same limit.
            view = replace(view, state="limited", active_line=None)
        mem = replace(
            mem, captured_wall=now.wall, screen_hash=digest, screen_state=view.state,
            screen_limit=view.limit_line is not None,
            screen_changed_at=now.mono if changed else mem.screen_changed_at,
            waiting_until_wall=view.waiting_until.timestamp() if view.waiting_until else None,
            # "working" only while the screen moves: a frozen spinner is not work
            active_at=now.mono if view.state == "active" and changed else mem.active_at)
        # A dialog the agent's hook told (and announced) is the hook's to end: the screen
        # neither announces it again in its own words nor clears it (a redrawn screen with
        # no prompt_re match is not an answer).
        hooked = mem.state == "dialog" and mem.state_source not in (None, "screen")
        if view.state == "dialog" and not hooked and \
                redact(view.dialog_line or "") != mem.dialog_line:
            tick.agents[name] = mem
            tick.event(name, "dialog", f"waiting at a dialog: {short(view.dialog_line or '')}"
                       " (not typing into it; answer it with `tmux attach`)")
            mem = tick.agents[name]
        if not hooked:  # the only screen text kept in state: redacted like every file
            mem = replace(mem, dialog_line=redact(view.dialog_line)
                          if view.state == "dialog" and view.dialog_line else None)
    if backend.footer_ui:
        written = tick.observed.log_written.get(agent.session)
        if written is not None and now.wall - written <= backend.log_grace:
            mem = replace(mem, active_at=now.mono)
    tick.agents[name] = mem
    return view


def _limit(tick: Tick, agent: Agent, view: ScreenView | None, judged: Verdict) -> bool:
    """The limit window; True while it holds the agent (no other screen rule applies).
    Entered on a limit banner, or an API error in the agent's transcript; left when the
    judged state is work, or whatever showed the limit no longer does."""
    mem, now, name = tick.agents[agent.name], tick.now, agent.name
    if mem.limit_until is None:
        if judged.state == "limited":
            _enter_limit(tick, agent, view, judged.source)
            return True
        return False
    working = judged.state == "active"
    gone = (judged.state != "limited" and mem.limit_source == "transcript") or (
        mem.limit_source != "transcript" and view is not None and view.limit_line is None)
    if working or gone:
        tick.agents[name] = replace(mem, limit_until=None, limit_reset_wall=None,
                                    limit_nudged=False, limit_source=None, limit_auto=False,
                                    active_at=now.mono)
        tick.event(name, "limit-over", "working again" if working
                   else "the limit banner is gone" if mem.limit_source != "transcript"
                   else "the transcript's limit error is past")
        return False
    if now.mono < mem.limit_until:
        return True
    if mem.limit_auto:
        # It said it continues by itself at the reset: give it the chance, untouched.
        tick.agents[name] = replace(mem, limit_auto=False,
                                    limit_until=now.mono + AUTO_RESUME_GRACE)
        tick.event(name, "limit-waiting", f"limit window over; the CLI said it continues "
                   f"by itself: waiting {AUTO_RESUME_GRACE:g}s for it before a nudge")
        return True
    if not mem.limit_nudged:
        tick.agents[name] = replace(mem, limit_nudged=True)
        tick.actions.append(Type(name, "limit window over", text=NUDGE, into_limit=True))
        tick.event(name, "limit-nudge", "limit window over: typed a resume nudge")
    elif judged.state == "limited":  # still limited after the nudge: a new window
        _enter_limit(tick, agent, view, judged.source)
    return True


def _enter_limit(tick: Tick, agent: Agent, view: ScreenView | None, source: str) -> None:
    wd, now = tick.config.watchdog, tick.now
    if source == "transcript":
        error = api_error(tick.observed.api_errors.get(agent.name),
                          tick.observed.signals.get(agent.name))
        assert error is not None  # the verdict came from it
        line = short(error.text)
        reset_at = resets.parse_reset(error.text, datetime.fromtimestamp(now.wall, now.tz))
    else:
        assert view is not None
        line, reset_at = short(view.limit_line or ""), view.reset_at
    if reset_at is not None:
        wait = max(reset_at.timestamp() - now.wall, 0.0) + wd.limit_reset_slack
        reset_wall: float | None = reset_at.timestamp()
        when = reset_at.astimezone(now.tz).strftime("%Y-%m-%d %H:%M %Z")
        reason = f"{line}; holding until {when} + {wd.limit_reset_slack:g}s"
        if resets.suspicious(reset_at, datetime.fromtimestamp(now.wall, now.tz)):
            tick.event(agent.name, "limit-suspicious", f"reset time {when} is more than "
                       "a week away or in the past; holding anyway")
    else:
        wait, reset_wall = wd.limit_probe_fallback, None
        reason = f"{line}; reset time unreadable, probing in {wait:g}s"
    if source == "transcript":
        reason += " (the CLI's own report: its hook or transcript)"
    auto = source == "screen" and view is not None and view.auto_resume
    if auto:
        reason += "; it continues by itself at the reset"
    tick.agents[agent.name] = replace(tick.agents[agent.name], limit_until=now.mono + wait,
                                      limit_reset_wall=reset_wall, limit_nudged=False,
                                      limit_source=source, limit_auto=auto)
    tick.event(agent.name, "limit", reason)


def _inbox(tick: Tick, agent: Agent, judged: Verdict) -> bool:
    """An operator's queued text is typed at the agent's first idle look (never while it
    works, is limited or sits at a dialog); one per look, oldest first."""
    queued = tick.observed.inbox.get(agent.name)
    if queued is None or judged.state != "idle":
        return False
    tick.actions.append(Type(agent.name, "queued text", text=queued.text, queued=queued.id))
    tick.event(agent.name, "send-typing", f"idle: typing the queued text {queued.id} "
               f"({len(queued.text)} characters)")
    return True


def _wake(tick: Tick, agent: Agent) -> bool:
    mem, now = tick.agents[agent.name], tick.now
    if agent.wake is None or mem.state != "idle":
        return False
    last = mem.woken_at or mem.active_at or mem.started_at or now.mono
    if now.mono - last < agent.wake.interval:
        return False
    tick.agents[agent.name] = replace(mem, woken_at=now.mono)
    tick.actions.append(Type(agent.name, "wake", file=agent.wake.prompt_file))
    tick.event(agent.name, "wake", f"idle: typed {agent.wake.prompt_file.name}")
    return True


def _stall(tick: Tick, agent: Agent) -> None:
    mem, now, wd = tick.agents[agent.name], tick.now, tick.config.watchdog
    if mem.waiting_until_wall is not None:
        if now.wall > mem.waiting_until_wall + wd.stall_grace:
            until = datetime.fromtimestamp(mem.waiting_until_wall, now.tz).strftime("%H:%M")
            fail(tick, agent, f"stalled: WAITING-UNTIL {until} + {wd.stall_grace:g}s passed",
                 live=True, kind="stall-reboot")
        return
    idle_since = max(t for t in (mem.active_at, mem.started_at, 0.0) if t is not None)
    idle = now.mono - idle_since
    if idle >= tick.config.backend(agent.backend).stall_idle:
        fail(tick, agent, f"stalled: no work seen for {idle:.0f}s", live=True,
             kind="stall-reboot")
