"""What `agents status NAME` shows, as data: one agent in detail. `to_json` is its `--json`.

The table's row (status.py) plus what the watchdog's memory knows of the agent (the state
judged, where from and how long ago; the limit window; the back-off; the crash loop), its
process tree's CPU and memory (read from /proc), its restarts with their reasons and its
last events (events.jsonl), and the last lines of its screen.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from agent_orchestrator.cli.status import JSON_VERSION, StatusRow, status
from agent_orchestrator.config import Agent, Config
from agent_orchestrator.doors import eventlog, memorystore, proctree
from agent_orchestrator.doors.tmux import Tmux, TmuxError
from agent_orchestrator.runtime.fleet import OPERATOR_MARK

LAST_EVENTS = 10
SCREEN_LINES = 15
RESTART_KINDS = frozenset({"restart", "stall-reboot", "crash-loop", "backoff"})


@dataclass(frozen=True)
class AgentDetail:
    """One agent. Seconds and walls (epoch) are None when unknown or not in force."""

    row: StatusRow
    pid: int | None
    cpu_pct: float | None
    rss_bytes: int | None
    processes: int | None
    judged_state: str | None  # the watchdog's verdict at its last look
    judged_source: str | None
    judged_age_s: float | None
    limit_reset: float | None  # the reset time read from the banner (epoch)
    limit_left_s: float | None  # how long the limit window still holds it
    limit_source: str | None
    backoff_left_s: float | None  # a held-back restart is due in
    failures: int
    crash_looping_since: float | None
    restarts: tuple[dict[str, object], ...]  # the watchdog's restart events, newest last
    events: tuple[dict[str, object], ...]  # its last LAST_EVENTS events
    screen: str | None

    def to_json(self) -> dict[str, object]:
        """The row's fields (status --json) with the detail's, which are measured here."""
        body = asdict(self)
        return {"version": JSON_VERSION, **body.pop("row"), **body}


def detail(config: Config, tmux: Tmux, agent: Agent) -> AgentDetail:
    fleet = status(config, tmux)
    row = next(r for r in fleet.rows if r.agent == agent.name)
    memory, _ = memorystore.load_memory(config, quarantine=False)
    mem = memory.agent(agent.name)
    mono = time.monotonic()
    pane = tmux.snapshot().pane(agent.session) if fleet.server_running else None
    alive = pane is not None and not pane.dead
    cpu = rss = count = None
    screen = None
    if pane is not None and alive:
        if pane.host is None:  # another host's pane pid is no process here: no figures
            tag = proctree.launch_tag(config.tmux_socket, agent.session)
            pids = {pane.pid} | {pid for pid, _ in proctree.tagged(tag)}
            cpu, rss, count = proctree.usage(pids)
        try:
            screen = tmux.capture(agent.session, SCREEN_LINES).rstrip()
        except TmuxError:
            screen = None
    mine = [r for r in eventlog.read(config.log_dir) if r.get("agent") == agent.name]
    return AgentDetail(
        row, pane.pid if pane is not None and alive else None, cpu, rss, count,
        mem.state if alive else None, mem.state_source if alive else None,
        round(row.seen_age_s, 1) if row.seen_age_s is not None else None,
        mem.limit_reset_wall if mem.limit_until is not None else None,
        max(mem.limit_until - mono, 0.0) if mem.limit_until is not None else None,
        mem.limit_source if mem.limit_until is not None else None,
        max(mem.restart_due_at - mono, 0.0) if mem.restart_due_at is not None else None,
        mem.failures, mem.crash_looping_wall,
        # the watchdog's, as the counts are (an operator's restart is among the events)
        tuple(r for r in mine if r.get("event") in RESTART_KINDS
              and OPERATOR_MARK not in str(r.get("reason"))),
        tuple(mine[-LAST_EVENTS:]), screen)
