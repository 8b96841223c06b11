"""Restart bookkeeping shared by every rule that restarts an agent.

A failure (death, fatal screen, wrong process, stall) is recorded with `fail`: the first
restart is immediate, then back-off doubles from `restart_backoff` up to
`restart_backoff_max`, each delay shortened by a deterministic jitter of up to 20% (so agents
that fail together come back spread out, and a replayed history gives the same delays); a run
longer than `restart_stable` resets it; `crash_limit` failures inside `crash_window` mark the
agent crash-looping (FATAL). There is no cool-down out of that state on purpose: only a
config change for the agent or `agents up NAME` brings it back. Every (re)start goes through
`start`, which enforces `fleet_restart_limit` (re)starts a minute across the fleet.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from agent_orchestrator.config import Agent, Service
from agent_orchestrator.core.decisions import Restart, Start, Stop, Tick
from agent_orchestrator.core.memory import RESTART_RECORD, AgentMemory
from agent_orchestrator.core.observed import Now

FLEET_WINDOW = 60.0  # seconds over which fleet_restart_limit counts
LONGEST_LIMIT = 8 * 86400.0  # a limit window never lasts longer (weekly limits + slack)
JITTER = 0.2  # a back-off delay is shortened by up to this fraction


def fail(tick: Tick, agent: Agent | Service, reason: str, live: bool,
         kind: str = "restart", dead_pane: bool = False) -> None:
    """Record a failure (death, fatal screen, wrong process, stall) and restart with
    back-off, or mark the agent crash-looping. `live`: the session still runs and must be
    killed first; `dead_pane`: a dead pane kept by remain-on-exit must be cleared before a
    start; `kind` names the event of an immediate restart (`stall-reboot`)."""
    wd, now = tick.config.watchdog, tick.now
    mem = tick.agents[agent.name]
    ran = now.mono - mem.started_at if mem.started_at is not None else None
    stable = ran is None or ran >= wd.restart_stable
    deaths = tuple(t for t in mem.deaths if now.mono - t < wd.crash_window) + (now.mono,)
    # A stable run resets the back-off, never the sliding window: an agent that always dies
    # a few minutes after starting is still a crash loop.
    failures = 1 if stable else mem.failures + 1
    if len(deaths) >= wd.crash_limit:
        tick.agents[agent.name] = replace(mem, deaths=deaths, failures=failures,
                                          crash_looping_wall=now.wall, restart_due_at=None)
        if live:
            tick.actions.append(Stop(agent.name, reason))
        tick.event(agent.name, "crash-loop", f"{reason}; {len(deaths)} failures in "
                   f"{wd.crash_window:g}s: not restarting until its config changes or "
                   f"`agents up {agent.name}`")
        return
    delay = backoff(failures, wd.restart_backoff, wd.restart_backoff_max, agent.name)
    tick.agents[agent.name] = replace(mem, deaths=deaths, failures=failures,
                                      restart_due_at=now.mono + delay)
    if delay > 0:
        if live:
            tick.actions.append(Stop(agent.name, reason))
        tick.event(agent.name, "backoff", f"{reason}; restarting in {round(delay, 1):g}s "
                   f"(failure {len(deaths)} of {wd.crash_limit} in {wd.crash_window:g}s)")
        return
    start(tick, agent, kind, reason, restart=live or dead_pane)


def backoff(failures: int, base: float, cap: float, key: str = "") -> float:
    """Seconds to wait before restarting after the `failures`-th consecutive failure: the
    first restart is immediate, then base, 2×base, 4×base, ... up to cap, each shortened by
    `jitter(key, failures)` (never longer than the series, so `cap` stays the longest wait)."""
    if failures <= 1:
        return 0.0
    return float(min(base * 2 ** min(failures - 2, 64), cap)) * (1 - jitter(key, failures))


def jitter(key: str, failures: int) -> float:
    """A fraction in [0, JITTER), fixed by the agent's name and failure count: pure (tests
    and replays see the same delays) yet different between agents that fail together."""
    digest = hashlib.blake2b(f"{key}\0{failures}".encode(), digest_size=8).digest()
    return JITTER * int.from_bytes(digest, "big") / 2 ** 64


def start(tick: Tick, agent: Agent | Service, kind: str, reason: str, restart: bool) -> None:
    limit = tick.config.watchdog.fleet_restart_limit
    if len(tick.fleet_starts) >= limit:
        tick.throttled = True
        return  # stays due; the next tick tries again
    mem, now = tick.agents[agent.name], tick.now
    tick.fleet_starts.append(now.mono)
    tick.agents[agent.name] = replace(
        new_run(mem, now.mono), starts=mem.starts + 1, signal_turns=0,
        restarts=mem.restarts + (mem.starts > 0), restart_walls=tuple(
            t for t in mem.restart_walls if now.wall - t < RESTART_RECORD) + (
            (now.wall,) if mem.starts > 0 else ()), restart_due_at=None, pane_pid=None,
        limit_until=None, limit_reset_wall=None, limit_nudged=False, limit_source=None,
        limit_auto=False)
    tick.actions.append((Restart if restart else Start)(agent.name, reason))
    tick.event(agent.name, kind, reason)


def new_run(mem: AgentMemory, mono: float) -> AgentMemory:
    """Memory of an agent whose process (re)started at `mono`: its clocks start now (as if
    looked at then) and nothing seen of the previous run's screen carries over."""
    return replace(mem, started_at=mono, screen_changed_at=mono, active_at=mono,
                   looked_at=mono, captured_wall=None, screen_hash=None, screen_state=None,
                   state=None, state_source=None, signal_turns=None, disagreed_wall=None,
                   signal_wall=None,
                   waiting_until_wall=None, dialog_line=None, woken_at=None)


def clamp(mem: AgentMemory, now: Now, backoff_max: float) -> tuple[AgentMemory, bool]:
    """Repair stamps from the future and say whether a monotonic one was (memory saved
    before a reboot reset the monotonic clock: worth reporting). Past events are treated as
    now, so they stall nothing; deadlines are capped at their longest legitimate distance,
    so they hold nothing back for ever. The last capture's wall time is brought back to
    now too (the wall clock was set back): compared with tmux's activity times, a future one
    would stop every screen read and let a working agent look stalled."""
    mono = now.mono
    changes: dict[str, object] = {
        f: mono for f in ("started_at", "screen_changed_at", "active_at", "woken_at",
                          "looked_at")
        if (v := getattr(mem, f)) is not None and v > mono}
    caps = {"restart_due_at": backoff_max, "limit_until": LONGEST_LIMIT}
    for name, cap in caps.items():
        if (v := getattr(mem, name)) is not None and v > mono + cap:
            changes[name] = mono + cap
    if any(t > mono for t in mem.deaths):
        changes["deaths"] = tuple(min(t, mono) for t in mem.deaths)
    future = bool(changes)
    if mem.captured_wall is not None and mem.captured_wall > now.wall:
        changes["captured_wall"] = now.wall
    return (replace(mem, **changes) if changes else mem), future  # type: ignore[arg-type]
