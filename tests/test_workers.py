"""runtime/workers.py: slow work in threads, per-key order, per-kind limits, coalescing,
cancellation; results come back as data and wake the loop."""

from __future__ import annotations

import threading
from collections.abc import Callable

from conftest import wait_until

from agent_orchestrator.runtime.workers import Done, Workers


class Wakes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def blocker() -> tuple[threading.Event, Callable[[threading.Event], str]]:
    """A job that runs until released or cancelled."""
    release = threading.Event()

    def job(cancel: threading.Event) -> str:
        while not (release.is_set() or cancel.is_set()):
            release.wait(0.01)
        return "cancelled" if cancel.is_set() else "released"
    return release, job


def drain(pool: Workers, n: int) -> list[Done]:
    got: list[Done] = []

    def enough() -> bool:
        got.extend(pool.results())
        return len(got) >= n
    wait_until(enough, timeout=10)
    return got


def test_result_comes_back_and_wakes_the_loop() -> None:
    wakes = Wakes()
    pool = Workers(wakes)
    assert pool.submit("git", "fetch", lambda _c: 42)
    (done,) = drain(pool, 1)
    assert (done.kind, done.key, done.result, done.error, done.cancelled) == \
        ("git", "fetch", 42, None, False)
    assert wakes.count >= 1 and done.started is not None and done.ended >= done.started
    pool.close()


def test_an_exception_is_a_result_not_a_crash() -> None:
    pool = Workers(Wakes())

    def boom(_c: threading.Event) -> None:
        raise RuntimeError("git exploded")
    pool.submit("git", "fetch", boom)
    (done,) = drain(pool, 1)
    assert isinstance(done.error, RuntimeError) and "exploded" in str(done.error)
    pool.close()


def test_same_key_runs_in_order_one_at_a_time() -> None:
    """Deliveries to one agent: typed in order, never two at once."""
    pool = Workers(Wakes())
    order: list[int] = []
    inside = threading.Semaphore(1)
    overlaps: list[int] = []

    def typing(n: int) -> Callable[[threading.Event], int]:
        def job(_c: threading.Event) -> int:
            if not inside.acquire(blocking=False):
                overlaps.append(n)
                return n
            threading.Event().wait(0.01)
            order.append(n)
            inside.release()
            return n
        return job
    for n in range(6):
        pool.submit("deliver", "alpha", typing(n))
    drain(pool, 6)
    assert order == list(range(6)) and overlaps == []
    pool.close()


def test_kind_limit_bounds_concurrency_and_other_kinds_go_on() -> None:
    """A hung verify gate holds its slot; another verify waits; a delivery still runs."""
    pool = Workers(Wakes(), limits={"verify": 1, "deliver": 2})
    release, hung = blocker()
    pool.submit("verify", "phase-1", hung)
    pool.submit("verify", "phase-2", lambda _c: "second")
    pool.submit("deliver", "alpha", lambda _c: "typed")
    (done,) = drain(pool, 1)
    assert (done.kind, done.result) == ("deliver", "typed")
    assert pool.busy("verify", "phase-2")  # still queued behind the hung one
    release.set()
    results = drain(pool, 2)
    assert [d.key for d in results] == ["phase-1", "phase-2"]
    pool.close()


def test_coalesce_drops_a_repeat_while_one_is_pending() -> None:
    pool = Workers(Wakes())
    release, hung = blocker()
    assert pool.submit("git", "fetch", hung, coalesce=True)
    assert not pool.submit("git", "fetch", hung, coalesce=True)
    assert pool.submit("git", "other", lambda _c: 1, coalesce=True)  # another key queues
    release.set()
    drain(pool, 2)
    assert pool.submit("git", "fetch", lambda _c: 2, coalesce=True)  # free again
    pool.close()


def test_cancel_stops_running_and_reports_dropped() -> None:
    pool = Workers(Wakes())
    _release, hung = blocker()
    pool.submit("deliver", "alpha", hung)
    pool.submit("deliver", "alpha", lambda _c: "never")
    pool.submit("deliver", "beta", lambda _c: "kept")
    wait_until(lambda: not pool.busy("deliver", "beta"), timeout=10)
    pool.cancel("deliver", "alpha")
    results = {(d.key, d.result, d.cancelled) for d in drain(pool, 3)}
    assert ("alpha", "cancelled", True) in results  # the running one saw its event
    assert ("alpha", None, True) in results  # the queued one was dropped, and said so
    assert ("beta", "kept", False) in results
    pool.close()


def test_close_cancels_everything_and_refuses_more() -> None:
    pool = Workers(Wakes())
    _release, hung = blocker()
    pool.submit("verify", "x", hung)
    pool.close(timeout=5)
    assert not pool.submit("git", "fetch", lambda _c: 1)
    assert any(d.cancelled for d in pool.results())
    assert not [t for t in threading.enumerate() if t.name.startswith("worker-verify")]


def test_settled_only_once_the_result_was_taken() -> None:
    """A queued text's delivery is offered again only when the loop has heard how the
    last one ended (its file is removed then): running, ended-but-untaken are not settled."""
    pool = Workers(Wakes())
    assert pool.settled("deliver", "s")
    release, job = blocker()
    pool.submit("deliver", "s", job)
    assert not pool.settled("deliver", "s") and pool.settled("deliver", "other")
    release.set()
    wait_until(lambda: not pool.busy("deliver", "s"), timeout=10)
    assert not pool.settled("deliver", "s")  # ended, its result not taken yet
    assert [d.result for d in pool.results(("deliver",))] == ["released"]
    assert pool.settled("deliver", "s")
    pool.close()
