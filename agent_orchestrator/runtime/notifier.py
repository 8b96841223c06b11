"""Telling the operator: the watchdog's events become notifications, delivered by workers.

The watchdog hands every event it records to `offer`; at the end of each pass `flush`
plans the pass's notifications (core/notify.py: one per kind, agents grouped, rate-limited
per agent) and submits one job per notification and sink (`notify` kind: its own limit in
workers.py; jobs of one sink go one at a time, in order, so a hanging sink holds back only
its own later messages). The loop never waits on them: a delivery's end comes back as a
`Done` at a later pass, and `outcomes` turns a failed one into a `notify-failed` event
naming the sink without its secrets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial

from agent_orchestrator.config.model import Notify
from agent_orchestrator.core import notify
from agent_orchestrator.core.events import Event
from agent_orchestrator.doors.notify import Delivery, deliver, shown
from agent_orchestrator.runtime.workers import Done, Workers

KIND = "notify"  # the workers' job kind


class Notifier:
    """Buffers one pass's events and hands their notifications to `workers`."""

    def __init__(self, workers: Workers) -> None:
        self.workers = workers
        self.pending: list[Event] = []
        self.last_sent: dict[str, float] = {}  # `agent/kind` → when it was last told

    def offer(self, events: Iterable[Event]) -> None:
        self.pending.extend(events)

    def flush(self, settings: Notify | None, now: float) -> int:
        """Submit the pending events' notifications; returns how many jobs were submitted."""
        events, self.pending = self.pending, []
        if settings is None or not settings.sinks or not events:
            return 0
        notes, self.last_sent = notify.plan(events, notify.wanted_kinds(settings.on),
                                            self.last_sent, now, settings.min_gap)
        submitted = 0
        for note in notes:
            for index, sink in enumerate(settings.sinks):
                # the job's one argument is the cancel event: deliver's third
                job = partial(deliver, sink, note, attempts=settings.attempts,
                              backoff=settings.backoff, timeout=settings.timeout)
                submitted += self.workers.submit(KIND, f"{index}:{shown(sink)}", job)
        return submitted

    def outcomes(self, done: Sequence[Done], now: float) -> list[Event]:
        """The events of deliveries that failed (a cancelled one, at shutdown or a config
        change, is no failure)."""
        events = []
        for item in done:
            result = item.result
            if item.error is not None:  # a bug in delivery: said, never raised on the loop
                events.append(Event(now, None, "notify-failed",
                                    f"{item.key.partition(':')[2]}: "
                                    f"{type(item.error).__name__}"))
            elif isinstance(result, Delivery) and not result.ok and \
                    result.error != "cancelled" and not item.cancelled:
                events.append(Event(now, None, "notify-failed",
                                    f"{result.sink}: {result.error} (after {result.attempts} "
                                    f"attempt{'s' if result.attempts != 1 else ''})"))
        return events
