"""The rules that read an agent's own signals (hooks, notify programs) next to its screen.

Called by screenrules on every look: the state judged for the agent comes from
`signals.verdict` (a fresh signal of this run beats the screen, a limit or fatal screen
beats any signal). A signal saying "active" is work for the stall rule as a moving screen
is; a dialog a hook reported is a dialog; each finished turn is a `turn-finished` event
(distinct from idle: "done" is news, idle is a state); a settled disagreement between
signal and screen is reported once.
"""

from __future__ import annotations

from dataclasses import replace

from agent_orchestrator.config import Agent
from agent_orchestrator.core.decisions import Tick, short
from agent_orchestrator.core.memory import AgentMemory
from agent_orchestrator.core.redact import redact
from agent_orchestrator.core.screen import ScreenView
from agent_orchestrator.core.signals import (
    SOURCE_NAMES,
    SignalRecord,
    Verdict,
    api_error,
    from_transcript,
    verdict,
)


def news(tick: Tick, agent: Agent) -> bool:
    """Whether the agent's own signal or transcript says something not judged yet: a pass
    that read no screen may still judge the agent on that (it is a look of its own)."""
    newest = _newest(tick, agent.name)
    seen = tick.agents[agent.name].signal_wall
    return newest is not None and (seen is None or newest > seen)


def _newest(tick: Tick, name: str) -> float | None:
    walls = [x.wall for x in (tick.observed.signals.get(name),
                              tick.observed.api_errors.get(name)) if x is not None]
    return max(walls, default=None)


def judge(tick: Tick, agent: Agent, view: ScreenView | None) -> Verdict:
    """Judge the agent's state at this look and note it in memory (`state`, its source).
    The transcript's last API error comes first (a usage limit there holds the agent
    like a banner would), then the signal, then the screen (`signals.verdict`)."""
    now, name = tick.now, agent.name
    mem = tick.agents[name]
    record = tick.observed.signals.get(name)
    started = mem.started_at if mem.started_at is not None else now.mono
    run_start_wall = now.wall - (now.mono - started)
    screen_state = view.state if view is not None else mem.screen_state
    error = api_error(tick.observed.api_errors.get(name), record)
    limit_re = tick.config.backend(agent.backend).limit_re
    from_error = from_transcript(error, record, run_start_wall, now.wall,
                                 error is not None and limit_re is not None
                                 and limit_re.search(error.text) is not None)
    judged = verdict(screen_state, record, run_start_wall, now.wall)
    if from_error is not None and judged.state not in ("fatal", "limited"):
        judged = from_error
    signal_wall = _newest(tick, name) or mem.signal_wall
    if (mem.state, mem.state_source, mem.signal_wall) != (judged.state, judged.source,
                                                          signal_wall):
        mem = replace(mem, state=judged.state, state_source=judged.source,
                      signal_wall=signal_wall)
    if judged.source == "transcript" and judged.state == "active":
        mem = replace(mem, active_at=now.mono)  # the CLI retries by itself: that is work
    if judged.source in SOURCE_NAMES.values() and record is not None:
        if judged.state == "active":
            mem = replace(mem, active_at=now.mono)  # the CLI says it works: that is work
        line = record.signal.detail or f"{record.signal.source} {record.signal.event}"
        # One event per dialog: one the screen announced already (in its words: the
        # question, where the hook names the tool) is not news again.
        if judged.state == "dialog" and mem.dialog_line is None:
            tick.agents[name] = mem
            tick.event(name, "dialog", f"waiting at a dialog: {short(line)} (from its "
                       f"{record.signal.source} hook; not typing into it)")
            mem = tick.agents[name]
        mem = replace(mem, dialog_line=(mem.dialog_line or redact(line))
                      if judged.state == "dialog" else None)
        if judged.disagrees and mem.disagreed_wall != record.wall:
            tick.agents[name] = mem = replace(mem, disagreed_wall=record.wall)
            tick.event(name, "signal-disagrees", judged.disagrees)
            mem = tick.agents[name]
    tick.agents[name] = _count_turns(tick, name, mem, record, run_start_wall)
    return judged


def _count_turns(tick: Tick, name: str, mem: AgentMemory, record: SignalRecord | None,
                 run_start_wall: float) -> AgentMemory:
    """One `turn-finished` event per turn the signal counted since the last look."""
    if record is None or record.wall < run_start_wall:
        return mem
    if mem.signal_turns is None:  # not counted yet (an older memory): history, not news
        return replace(mem, signal_turns=record.turns)
    new = record.turns - mem.signal_turns
    if new <= 0:
        return replace(mem, signal_turns=record.turns) if new < 0 else mem
    tick.agents[name] = mem
    what = "a turn" if new == 1 else f"{new} turns"
    tick.event(name, "turn-finished", f"{what} finished ({record.signal.source} "
               f"{record.signal.event})")
    return replace(tick.agents[name], signal_turns=record.turns)
