"""Applying an edited config to a running fleet as a diff (pure, like rules.decide).

supervisord's vocabulary: agents (and `[[service]]` entries, alike) are added, changed or
removed; unchanged ones are not touched (their sessions, uptime and counters stay). An agent
counts as changed when its `[[agent]]` entry or its backend differs in anything (a service:
its entry); a changed one's memory starts afresh, which also lifts a crash loop.

Removals are debounced (`hold`): a writer that truncates the file and writes it again in
pieces can show a reader a valid file holding only the first agents; stopping the others on
that read would kill agents that are about to reappear. So an edit that removes agents is
applied only once the same content (by digest) has been seen again `REMOVAL_SETTLE` seconds
later. Edits that only add or change agents apply at once. The held edit is applied whole, so
the config in force is always a file that really was on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agent_orchestrator.config import Agent, Config, Service
from agent_orchestrator.core.decisions import Decisions, Restart, Start, Stop
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.memory import AgentMemory, FleetMemory
from agent_orchestrator.core.observed import Now, Observed

REMOVAL_SETTLE = 1.0  # seconds a file removing agents must stay the same before it applies


@dataclass(frozen=True)
class Held:
    """An edit removing agents, waiting for the file to settle."""

    digest: str  # the content seen
    since: float  # monotonic time it was first seen
    removed: tuple[str, ...]

    @property
    def due(self) -> float:
        return self.since + REMOVAL_SETTLE


def removed(old: Config, new: Config) -> tuple[str, ...]:
    """Names of `old`'s agents and services that `new` no longer has."""
    kept = {a.name for a in new.agents} | {s.name for s in new.services}
    return tuple(a.name for a in (*old.agents, *old.services) if a.name not in kept)


def hold(old: Config, new: Config, held: Held | None, mono: float) -> Held | None:
    """None: apply `new` now. Otherwise the edit waits: the Held to keep until next time.

    The first read of a content that removes agents starts the wait; a read of the same
    content at least REMOVAL_SETTLE seconds later applies it; any other content starts
    afresh (or applies at once when it removes nothing).
    """
    gone = removed(old, new)
    if not gone:
        return None
    if held is None or held.digest != new.digest:
        return Held(new.digest, mono, gone)
    return None if mono >= held.due else held


def _fingerprint(config: Config, agent: Agent) -> tuple[object, ...]:
    return (agent, config.backend(agent.backend))


def diff(old: Config, new: Config, observed: Observed, memory: FleetMemory,
         now: Now) -> Decisions:
    """Actions turning a fleet run under `old` into one run under `new`."""
    actions: list[Start | Restart | Stop] = []
    events: list[Event] = []
    agents = dict(memory.agents)
    old_agents = {a.name: a for a in old.agents}
    new_agents = {a.name: a for a in new.agents}

    def alive(agent: Agent) -> bool:
        pane = observed.panes.get(agent.session)
        return observed.server_running and pane is not None and not pane.dead

    for name, agent in old_agents.items():
        if name not in new_agents:
            agents.pop(name, None)
            events.append(Event(now.wall, name, "removed", "no longer in the config"))
            if alive(agent):
                actions.append(Stop(name, "removed from the config", session=agent.session))
    for name, agent in new_agents.items():
        before = old_agents.get(name)
        if before is None:
            events.append(Event(now.wall, name, "added", "new in the config"))
            if agent.enabled and name not in observed.stopped and not alive(agent):
                actions.append(Start(name, "added to the config"))
            continue
        if _fingerprint(old, before) == _fingerprint(new, agent):
            continue
        agents.pop(name, None)  # fresh counters; a crash loop is lifted
        events.append(Event(now.wall, name, "changed", "its config entry changed"))
        if before.session != agent.session and alive(before):
            actions.append(Stop(name, "session renamed", session=before.session))
        if not agent.enabled or name in observed.stopped:
            if alive(agent):
                actions.append(Stop(name, "disabled in the config"))
        elif alive(agent):
            actions.append(Restart(name, "config changed"))
        else:
            actions.append(Start(name, "config changed"))
    _services(old, new, observed, agents, actions, events, now)
    return Decisions(replace(memory, agents=agents), tuple(actions), tuple(events))


def _services(old: Config, new: Config, observed: Observed, agents: dict[str, AgentMemory],
              actions: list[Start | Restart | Stop], events: list[Event], now: Now) -> None:
    """The same diff for `[[service]]` entries (a service changes when any key does)."""
    before = {s.name: s for s in old.services}
    after = {s.name: s for s in new.services}

    def alive(service: Service) -> bool:
        pane = observed.panes.get(service.session)
        return observed.server_running and pane is not None and not pane.dead

    for name, service in before.items():
        if name not in after:
            agents.pop(name, None)
            events.append(Event(now.wall, name, "removed", "service no longer in the config"))
            if alive(service):
                actions.append(Stop(name, "removed from the config", session=service.session))
    for name, service in after.items():
        was = before.get(name)
        if was == service:
            continue
        agents.pop(name, None)  # fresh counters; a crash loop is lifted
        events.append(Event(now.wall, name, "added" if was is None else "changed",
                            "new service in the config" if was is None
                            else "its service entry changed"))
        if was is not None and was.session != service.session and alive(was):
            actions.append(Stop(name, "session renamed", session=was.session))
        if name in observed.stopped:
            continue
        if was is not None and alive(service):
            actions.append(Restart(name, "config changed"))
        elif not alive(service):
            actions.append(Start(name, "added to the config" if was is None
                                 else "config changed"))
