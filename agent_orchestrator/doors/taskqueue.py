"""The one-shot task queue: `state/tasks.db`, SQLite in WAL mode, one transaction per claim.

Durable across watchdog restarts and kill -9 (SQLite's journal), safe for concurrent
submitters and claimers (every write is one `BEGIN IMMEDIATE` transaction: two claimers
never take the same task, two submitters never get the same name). Each thread keeps its
own connection, so processes and threads share nothing but the file.

A task moves queued → running → done | failed; `cancel` ends a queued or running one;
`retry` puts a failed or cancelled one back in the queue. A queued task is claimable when
every task it waits for (`after`) is done; one whose dependency failed or was cancelled
fails too, naming it.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from agent_orchestrator.config.schema import NAME_RE
from agent_orchestrator.doors.files import private_dir

STATES = ("queued", "running", "done", "failed", "cancelled")
MAX_RETRIES = 100  # a task run more than this often is a loop, not a retry
BUSY_TIMEOUT = 30.0  # seconds a writer waits for another's transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    prompt TEXT NOT NULL,
    backend TEXT, model TEXT, verify TEXT,
    after TEXT NOT NULL DEFAULT '[]',
    retries INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'queued',
    created REAL NOT NULL, started REAL, finished REAL,
    claimed_by TEXT, branch TEXT, worktree TEXT, commits TEXT, diffstat TEXT,
    reason TEXT, output_tail TEXT
);
CREATE INDEX IF NOT EXISTS tasks_state ON tasks(state, seq);
"""


class TaskError(ValueError):
    """A request the queue refuses (unknown task, bad name, wrong state); the message is
    fit to show as is."""


@dataclass(frozen=True)
class Task:
    seq: int
    name: str
    prompt: str
    backend: str | None
    model: str | None
    verify: str | None
    after: tuple[str, ...]
    retries: int
    attempts: int
    state: str
    created: float
    started: float | None
    finished: float | None
    claimed_by: str | None
    branch: str | None
    worktree: str | None
    commits: str | None
    diffstat: str | None
    reason: str | None
    output_tail: str | None


_COLUMNS = [f.name for f in fields(Task)]
_UPDATABLE = {"branch", "worktree", "commits", "diffstat", "reason", "output_tail"}


def _task(row: sqlite3.Row) -> Task:
    values = dict(zip(_COLUMNS, (row[c] for c in _COLUMNS), strict=True))
    values["after"] = tuple(json.loads(values["after"]))
    return Task(**values)


class TaskQueue:
    """The queue in `path` (created 0600 in a 0700 folder on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()  # a connection per thread (sqlite3's rule)

    def _connect(self) -> sqlite3.Connection:
        """This thread's connection, opened (and the schema made) on first use."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            private_dir(self.path.parent)
            # Created private before SQLite opens it: its -wal and -shm files copy the mode.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600))
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None,
                                 check_same_thread=True)
            db.row_factory = sqlite3.Row
            _wal(db)
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never torn
            with self._write(db):
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
            self._local.db = db
        return db

    @staticmethod
    @contextmanager
    def _write(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        db.execute("BEGIN IMMEDIATE")  # the write lock first: read-then-write stays atomic
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One immediate (write-locked) transaction."""
        with self._write(self._connect()) as db:
            yield db

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # ------------------------------------------------------------------ submitters

    def submit(self, prompt: str, *, name: str | None = None, backend: str | None = None,
               model: str | None = None, after: Sequence[str] = (), verify: str | None = None,
               retries: int = 0, now: float | None = None) -> Task:
        """Queue a task; without `name` one is made from the prompt's first words."""
        if not prompt.strip():
            raise TaskError("a task needs a prompt")
        if name is not None and not NAME_RE.fullmatch(name):
            raise TaskError(f"task name {name!r}: letters, digits, '-' and '_' only")
        if not 0 <= retries <= MAX_RETRIES:
            raise TaskError(f"--retries must be 0 to {MAX_RETRIES}")
        for what, value in (("the prompt", prompt), ("--model", model), ("--verify", verify)):
            # each ends up in an argv or a file an agent reads: a NUL would fail only at exec
            if value is not None and "\0" in value:
                raise TaskError(f"{what} holds a NUL character")
        with self._tx() as db:
            for dep in after:
                if db.execute("SELECT 1 FROM tasks WHERE name = ?", (dep,)).fetchone() is None:
                    raise TaskError(f"--after {dep}: no such task")
            chosen = name or self._free_name(db, prompt)
            try:
                db.execute("INSERT INTO tasks (name, prompt, backend, model, verify, after, "
                           "retries, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (chosen, prompt, backend, model, verify, json.dumps(list(after)),
                            retries, time.time() if now is None else now))
            except sqlite3.IntegrityError:
                raise TaskError(f"a task named {chosen!r} exists already") from None
            return self._get(db, chosen)

    @staticmethod
    def _free_name(db: sqlite3.Connection, prompt: str) -> str:
        words = re.findall(r"[a-z0-9]+", prompt.lower())[:4]
        base = "-".join(words)[:40].strip("-") or "task"
        if not base[0].isalnum():
            base = "task-" + base
        name, n = base, 1
        while db.execute("SELECT 1 FROM tasks WHERE name = ?", (name,)).fetchone():
            n += 1
            name = f"{base}-{n}"
        return name

    # ------------------------------------------------------------------ the watchdog

    def claim(self, max_parallel: int, claimer: str, now: float | None = None
              ) -> tuple[list[Task], list[Task]]:
        """Take queued tasks whose dependencies are done, so that at most `max_parallel`
        run; returns (claimed, failed): `failed` are queued tasks given up because a
        dependency failed or was cancelled. One transaction: no task is claimed twice."""
        stamp = time.time() if now is None else now
        claimed: list[Task] = []
        failed: list[Task] = []
        with self._tx() as db:
            # Waiting tasks first (few): fail those whose dependency failed or was cancelled.
            for row in db.execute("SELECT * FROM tasks WHERE state = 'queued' AND "
                                  "after != '[]' ORDER BY seq").fetchall():
                task = _task(row)
                bad = [(d, s) for d, s in self._states(db, task.after) if s in
                       ("failed", "cancelled")]
                if bad:
                    db.execute("UPDATE tasks SET state = 'failed', finished = ?, reason = ? "
                               "WHERE seq = ?", (stamp, f"dependency {bad[0][0]} {bad[0][1]}",
                                                 task.seq))
                    failed.append(self._get(db, task.name))
            running = db.execute("SELECT COUNT(*) FROM tasks WHERE state = 'running'"
                                 ).fetchone()[0]
            last = 0
            while running < max_parallel:  # oldest first, a page at a time, until full
                rows = db.execute("SELECT * FROM tasks WHERE state = 'queued' AND seq > ? "
                                  "ORDER BY seq LIMIT 64", (last,)).fetchall()
                if not rows:
                    break
                for row in rows:
                    task, last = _task(row), row["seq"]
                    if running >= max_parallel or any(
                            s != "done" for _, s in self._states(db, task.after)):
                        continue
                    db.execute("UPDATE tasks SET state = 'running', started = ?, "
                               "claimed_by = ?, attempts = attempts + 1 WHERE seq = ?",
                               (stamp, claimer, task.seq))
                    running += 1
                    claimed.append(self._get(db, task.name))
        return claimed, failed

    @staticmethod
    def _states(db: sqlite3.Connection, names: Sequence[str]) -> list[tuple[str, str | None]]:
        return [(name, row["state"] if row else None) for name in names
                for row in [db.execute("SELECT state FROM tasks WHERE name = ?",
                                       (name,)).fetchone()]]

    def update(self, name: str, **values: str | None) -> Task:
        """Record facts about a task (branch, worktree, commits, diffstat, ...)."""
        unknown = set(values) - _UPDATABLE
        if unknown:
            raise TaskError(f"not a task field: {', '.join(sorted(unknown))}")
        with self._tx() as db:
            self._get(db, name)
            for key, value in values.items():  # keys checked against _UPDATABLE above
                db.execute(f"UPDATE tasks SET {key} = ? WHERE name = ?", (value, name))
            return self._get(db, name)

    def finish(self, name: str, ok: bool, reason: str | None = None,
               output_tail: str | None = None, now: float | None = None) -> Task:
        """A running task ended: done, or failed — and queued again while it has retries
        left (the returned task then says `queued`)."""
        with self._tx() as db:
            task = self._get(db, name)
            if task.state != "running":
                raise TaskError(f"task {name} is {task.state}, not running")
            stamp = time.time() if now is None else now
            state = "done" if ok else "queued" if task.attempts <= task.retries else "failed"
            db.execute("UPDATE tasks SET state = ?, finished = ?, reason = ?, output_tail = ? "
                       "WHERE seq = ?", (state, stamp if state != "queued" else None, reason,
                                         output_tail, task.seq))
            return self._get(db, name)

    # ------------------------------------------------------------------ operators

    def cancel(self, name: str, now: float | None = None) -> Task:
        with self._tx() as db:
            task = self._get(db, name)
            if task.state not in ("queued", "running"):
                raise TaskError(f"task {name} is {task.state}: nothing to cancel")
            db.execute("UPDATE tasks SET state = 'cancelled', finished = ? WHERE seq = ?",
                       (time.time() if now is None else now, task.seq))
            return self._get(db, name)

    def retry(self, name: str) -> Task:
        with self._tx() as db:
            task = self._get(db, name)
            if task.state not in ("failed", "cancelled"):
                raise TaskError(f"task {name} is {task.state}: only a failed or cancelled "
                                "task can be retried")
            db.execute("UPDATE tasks SET state = 'queued', finished = NULL, reason = NULL, "
                       "attempts = 0 WHERE seq = ?", (task.seq,))
            return self._get(db, name)

    def get(self, name: str) -> Task:
        with self._tx() as db:
            return self._get(db, name)

    def tasks(self, state: str | None = None) -> list[Task]:
        if state is not None and state not in STATES:
            raise TaskError(f"unknown state {state!r} (one of {', '.join(STATES)})")
        if not self.path.exists():
            return []
        with self._tx() as db:
            rows = db.execute("SELECT * FROM tasks" + (" WHERE state = ?" if state else "")
                              + " ORDER BY seq", (state,) if state else ()).fetchall()
            return [_task(r) for r in rows]

    @staticmethod
    def _get(db: sqlite3.Connection, name: str) -> Task:
        row = db.execute("SELECT * FROM tasks WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise TaskError(f"no task named {name!r}")
        return _task(row)


def _wal(db: sqlite3.Connection) -> None:
    """Put the database in WAL mode (it stays so: later openers only read the mode).
    Switching needs the database to itself and SQLite answers "database is locked" at once,
    without its busy wait, when another opener holds it (8 submitters creating the queue
    together): so retry, as the busy timeout would, up to BUSY_TIMEOUT."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
