"""Slow work off the watchdog's loop: jobs run in threads, results come back as data.

The loop must never wait on a git fetch, a verify gate or typing into a TUI: it submits
such work here and goes on healing. A job is a function of one argument, a
`threading.Event` set when the job is cancelled (it should check it, or pass it to a
subprocess runner that kills the process when set). When the job ends its `Done` is queued
and the loop is woken (`wake`); the loop drains `results()` at its next pass and turns them
into observations.

Ordering and bounds:
- jobs with the same (kind, key) run one at a time, in submission order (one delivery in
  flight per agent, typed in order);
- each kind has a limit on jobs running at once (`limits`; one git fetch, one verify gate);
- `coalesce=True` drops a submission while one of the same (kind, key) is already queued or
  running (a fetch asked for every tick while the last one still hangs);
- `cancel(...)` and `close()` set the cancel event of running jobs and drop queued ones
  (dropped jobs come back as a `Done` with `cancelled=True`, so nothing vanishes silently).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Job = Callable[[threading.Event], Any]
# "host": starts and stops on other hosts, one at a time per host (keyed by host name).
DEFAULT_LIMITS = {"git": 1, "verify": 1, "deliver": 8, "notify": 4, "host": 8}


@dataclass(frozen=True)
class Done:
    """A finished (or dropped) job: its result, or the exception it raised."""

    kind: str
    key: str
    result: Any = None
    error: BaseException | None = None
    cancelled: bool = False
    started: float | None = None  # monotonic; None when it never ran
    ended: float = 0.0


@dataclass
class _Entry:
    kind: str
    key: str
    fn: Job
    cancel: threading.Event = field(default_factory=threading.Event)


class Workers:
    """A small pool with per-key order and per-kind limits. Thread-safe."""

    def __init__(self, wake: Callable[[], None],
                 limits: Mapping[str, int] | None = None) -> None:
        self._wake = wake
        self._limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self._lock = threading.Lock()
        self._queued: deque[_Entry] = deque()
        self._running: dict[tuple[str, str], _Entry] = {}
        self._done: list[Done] = []
        self._threads: set[threading.Thread] = set()
        self._closed = False

    def submit(self, kind: str, key: str, fn: Job, *, coalesce: bool = False) -> bool:
        """Queue `fn`; False when it was not queued (coalesced, or the pool is closed)."""
        with self._lock:
            if self._closed:
                return False
            if coalesce and self._pending(kind, key):
                return False
            self._queued.append(_Entry(kind, key, fn))
            self._start_ready()
        return True

    def busy(self, kind: str, key: str | None = None) -> bool:
        """Whether a job of that kind (and key) is queued or running."""
        with self._lock:
            return self._pending(kind, key)

    def settled(self, kind: str, key: str) -> bool:
        """Whether no job of (kind, key) is queued, running, or ended with its result not
        yet taken by `results()` (the loop has not heard how it ended)."""
        with self._lock:
            return not self._pending(kind, key) and not any(
                d.kind == kind and d.key == key for d in self._done)

    def results(self, kinds: Iterable[str] | None = None) -> list[Done]:
        """The jobs (of `kinds`, else all) that ended since the last call, in the order
        they ended; each is handed out once."""
        wanted = None if kinds is None else frozenset(kinds)
        with self._lock:
            done = [d for d in self._done if wanted is None or d.kind in wanted]
            self._done = [d for d in self._done if wanted is not None and d.kind not in wanted]
        return done

    def cancel(self, kind: str | None = None, key: str | None = None) -> None:
        """Cancel running jobs and drop queued ones that match (None matches all)."""
        with self._lock:
            self._cancel(kind, key)

    def close(self, timeout: float = 5.0) -> None:
        """Cancel everything and wait up to `timeout` seconds for the threads to end."""
        with self._lock:
            self._closed = True
            self._cancel(None, None)
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))

    # -------------------------------------------------------------- under the lock

    def _pending(self, kind: str, key: str | None) -> bool:
        return any(e.kind == kind and (key is None or e.key == key)
                   for e in (*self._queued, *self._running.values()))

    def _cancel(self, kind: str | None, key: str | None) -> None:
        def matches(entry: _Entry) -> bool:
            return (kind is None or entry.kind == kind) and (key is None or entry.key == key)
        for entry in self._running.values():
            if matches(entry):
                entry.cancel.set()
        dropped = [e for e in self._queued if matches(e)]
        for entry in dropped:
            self._queued.remove(entry)
            self._done.append(Done(entry.kind, entry.key, cancelled=True,
                                   ended=time.monotonic()))
        if dropped:
            self._wake()

    def _start_ready(self) -> None:
        running_kinds: dict[str, int] = {}
        for entry in self._running.values():
            running_kinds[entry.kind] = running_kinds.get(entry.kind, 0) + 1
        waiting: set[tuple[str, str]] = set()  # keys with an earlier job still queued
        for entry in list(self._queued):
            slot = (entry.kind, entry.key)
            if slot in self._running or slot in waiting or \
                    running_kinds.get(entry.kind, 0) >= self._limits.get(entry.kind, 1):
                waiting.add(slot)  # that key's earlier job goes first
                continue
            self._queued.remove(entry)
            self._running[slot] = entry
            running_kinds[entry.kind] = running_kinds.get(entry.kind, 0) + 1
            thread = threading.Thread(target=self._run, args=(entry,), daemon=True,
                                      name=f"worker-{entry.kind}-{entry.key}")
            self._threads.add(thread)
            thread.start()

    # -------------------------------------------------------------- in the worker

    def _run(self, entry: _Entry) -> None:
        started = time.monotonic()
        result: Any = None
        error: BaseException | None = None
        try:
            result = entry.fn(entry.cancel)
        except BaseException as exc:  # noqa: BLE001 - it is reported as the job's result
            error = exc
        with self._lock:
            self._running.pop((entry.kind, entry.key), None)
            self._done.append(Done(entry.kind, entry.key, result, error,
                                   entry.cancel.is_set(), started, time.monotonic()))
            self._threads.discard(threading.current_thread())
            if not self._closed:
                self._start_ready()
        self._wake()
