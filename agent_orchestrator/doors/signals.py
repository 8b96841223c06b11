"""The agents' own signals on disk: `state/signals/<agent>.json`, one per agent, atomic.

`agents hook` (run by a CLI's hooks or notify program) calls `record`; the watchdog watches
the folder and calls `read` for each agent. A signal file holds the latest signal, its time
and the count of finished turns. Writers of one agent are serialised by an flock on a lock
file beside it, so two hooks that fire together (a tool ending as the turn ends) never lose
a finished turn; readers never lock (the file is replaced atomically).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

from agent_orchestrator.config.schema import NAME_RE
from agent_orchestrator.core.signals import Signal, SignalRecord
from agent_orchestrator.doors.files import private_dir, write_atomic

MAX_BYTES = 64 * 1024  # a signal file is a few hundred bytes; anything larger is not ours


def signals_dir(state_dir: Path) -> Path:
    return state_dir / "signals"


def signal_file(folder: Path, agent: str) -> Path:
    if not NAME_RE.fullmatch(agent):
        raise ValueError(f"not an agent name: {agent!r}")
    return folder / f"{agent}.json"


def record(folder: Path, agent: str, signal: Signal, wall: float | None = None) -> SignalRecord:
    """Store `signal` as the agent's latest; a finished turn adds one to its turn count."""
    path = signal_file(folder, agent)
    private_dir(folder)
    lock_fd = os.open(folder / f".{agent}.lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW,
                      0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        previous = read(folder, agent)
        turns = (previous.turns if previous else 0) + signal.turn_finished
        stored = SignalRecord(signal, time.time() if wall is None else wall, turns)
        body = {"version": 1, "wall": stored.wall, "turns": stored.turns,
                "signal": asdict(signal)}
        write_atomic(path, json.dumps(body, ensure_ascii=False).encode())
        return stored
    finally:
        os.close(lock_fd)


def read(folder: Path, agent: str) -> SignalRecord | None:
    """The agent's latest stored signal; None when there is none or the file is not a
    signal file we wrote (it is then ignored: the screen remains the source)."""
    try:
        with open(signal_file(folder, agent), "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except (OSError, ValueError):
        return None
    if len(data) > MAX_BYTES:
        return None
    try:
        body = json.loads(data)
        fields = body["signal"]
        signal = Signal(**{k: fields.get(k) for k in Signal.__dataclass_fields__
                           if k in fields})
        wall, turns = float(body["wall"]), int(body["turns"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(signal.source, str) or not isinstance(signal.event, str):
        return None
    return SignalRecord(signal, wall, turns)
