"""Which events become notifications: one per state change, grouped, rate-limited per agent.

The watchdog records events; this turns one pass's events into at most one notification
per kind (several agents that change together are one message naming them all), skipping
kinds the operator did not ask for (`[notify] on`) and any agent notified about the same
kind less than `min_gap` seconds ago (a flapping agent is one message, not fifty). Pure:
the runtime hands the result to workers that deliver it (doors/notify.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agent_orchestrator.config.model import Notify
from agent_orchestrator.core.events import Event

# The event kinds a notification can be asked for (README, Notifications), and a title each.
TITLES = {
    "crash-loop": "crash-looping",
    "crash-looping": "crash-looping",
    "limit": "held at a usage limit",
    "limited": "held at a usage limit",
    "dialog": "waiting at a dialog",
    "phase-advance": "phase advanced",
    "sequence-complete": "sequence complete",
    "fleet-degraded": "fleet degraded",
    "fleet-recovered": "fleet recovered",
    "turn-finished": "turn finished",
    "stall-reboot": "rebooted after a stall",
    "task-done": "task done",
    "task-failed": "task failed",
    "config-rejected": "config rejected",
}
# Operators say the state (`limited`); the event log says what happened (`limit`).
ALIASES = {"crash-looping": "crash-loop", "limited": "limit"}
DEFAULT_MIN_GAP = Notify.min_gap


@dataclass(frozen=True)
class Notification:
    """One message: `kind` (an event kind), the agents it concerns (empty: the fleet), a
    one-line `title`, and the events' reasons as `lines`."""

    kind: str
    title: str
    agents: tuple[str, ...]
    lines: tuple[str, ...]
    time: float

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "title": self.title, "agents": list(self.agents),
                "lines": list(self.lines), "time": self.time}


def wanted_kinds(on: Iterable[str]) -> frozenset[str]:
    """The event kinds asked for, aliases resolved; ValueError names an unknown one."""
    kinds = set()
    for name in on:
        if name not in TITLES:
            raise ValueError(f"unknown notification kind {name!r} "
                             f"(known: {', '.join(sorted(TITLES))})")
        kinds.add(ALIASES.get(name, name))
    return frozenset(kinds)


def plan(events: Iterable[Event], kinds: frozenset[str], last_sent: Mapping[str, float],
         now: float, min_gap: float = DEFAULT_MIN_GAP
         ) -> tuple[list[Notification], dict[str, float]]:
    """The notifications for one pass's `events`, and the updated `last_sent` (keyed
    `agent/kind`, `-/kind` for fleet events)."""
    sent = dict(last_sent)
    grouped: dict[str, list[Event]] = {}
    for event in events:
        if event.event not in kinds:
            continue
        key = f"{event.agent or '-'}/{event.event}"
        if key in sent and now - sent[key] < min_gap:
            continue
        sent[key] = now
        grouped.setdefault(event.event, []).append(event)
    out = []
    for kind, group in grouped.items():
        agents = tuple(dict.fromkeys(e.agent for e in group if e.agent))
        title = TITLES[kind]
        if agents:
            title = f"{', '.join(agents)}: {title}" if len(agents) <= 3 else \
                f"{len(agents)} agents {title}: {', '.join(agents[:3])}, ..."
        out.append(Notification(kind, title, agents,
                                tuple(f"{e.agent + ': ' if e.agent else ''}{e.reason}"
                                      for e in group), now))
    # forget keys long past their gap, so the map stays the size of the fleet
    return out, {k: t for k, t in sent.items() if now - t < 2 * min_gap}
