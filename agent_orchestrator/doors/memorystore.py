"""The watchdog's memory on disk: `state/watchdog.json`, typed, atomic, set aside if corrupt.

The file holds the per-agent and fleet memory (core/memory.py), written atomically each tick
that changes it. A corrupt, truncated, wrongly typed or oversized (> MAX_STATE_BYTES) file is
moved aside (`.corrupt-<time>`) and rebuilt: the running sessions are then adopted, not
restarted. A failed write leaves the previous file in place (see `save_memory`).
"""

from __future__ import annotations

import json
import math
import os
import time
import types
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from agent_orchestrator.config import Config
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.memory import AgentMemory, FleetMemory, LoopMemory
from agent_orchestrator.doors.files import tighten, write_atomic

STATE_VERSION = 1
# A real state file is a few KB (about 1 KB an agent). Anything far larger is not ours:
# moved aside unread, so a runaway or planted file cannot make a start slow or huge.
MAX_STATE_BYTES = 16 * 1024 * 1024


def memory_to_json(memory: FleetMemory) -> bytes:
    body = {"version": STATE_VERSION, "fleet_starts": list(memory.fleet_starts),
            "throttled": memory.throttled, "server_up": memory.server_up,
            "degraded": memory.degraded,
            "loop": asdict(memory.loop),
            "agents": {name: asdict(m) for name, m in sorted(memory.agents.items())}}
    return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()


def memory_from_json(data: bytes) -> FleetMemory:
    """Parse a state file; raises ValueError on anything but a well-formed one: every
    known field must have its declared type (a number where a number goes, finite), so
    a wrong-schema file is rebuilt here rather than crashing a rule later. Missing
    fields take their defaults; unknown ones are ignored (a newer version's)."""
    try:
        body = json.loads(data)
    except RecursionError:  # e.g. 100,000 `[`
        raise ValueError("nested too deeply") from None
    if not isinstance(body, dict) or body.get("version") != STATE_VERSION:
        raise ValueError("not a state file of this version")
    agents = body.get("agents")
    if not isinstance(agents, dict):
        raise ValueError("'agents' is not an object")
    out = {name: _typed(AgentMemory, raw, f"agent {name!r}")
           for name, raw in agents.items()}
    loop = _typed(LoopMemory, body.get("loop") or {}, "'loop'")
    top = _typed(_Top, {k: body[k] for k in ("fleet_starts", "throttled", "server_up",
                                             "degraded") if k in body}, "the file")
    return FleetMemory(out, top.fleet_starts, top.throttled, top.server_up, loop, top.degraded)


@dataclass(frozen=True)
class _Top:
    """The fleet-wide scalars of a state file, typed like the others for `_typed`."""

    fleet_starts: tuple[float, ...] = ()
    throttled: bool = False
    server_up: bool = True
    degraded: bool = False


def _typed(cls: Any, raw: object, where: str) -> Any:
    """`cls(**raw)` for a frozen dataclass, every known value checked against its field's
    type (JSON lists become tuples, JSON integers in float fields floats)."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where} is not an object")
    hints = get_type_hints(cls)
    values = {}
    for item in fields(cls):
        if item.name in raw:
            try:
                values[item.name] = _coerce(raw[item.name], hints[item.name])
            except ValueError:
                raise ValueError(f"{where}: {item.name} = {raw[item.name]!r:.60} is not "
                                 f"of type {hints[item.name]}") from None
    return cls(**values)


def _coerce(value: object, hint: Any) -> object:
    """`value` as type `hint` (a float, int, bool, str, None, a union or tuple of them);
    ValueError when it is not one. bool is never taken for a number, nor a number for a
    bool, and floats must be finite."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        for option in get_args(hint):
            try:
                return _coerce(value, option)
            except ValueError:
                continue
        raise ValueError(value)
    if origin is tuple:
        item_type = get_args(hint)[0]
        if not isinstance(value, list):
            raise ValueError(value)
        return tuple(_coerce(v, item_type) for v in value)
    if hint is type(None) and value is None:
        return None
    if hint is bool and isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            raise ValueError(value) from None
        if math.isfinite(number):
            return number
    raise ValueError(value)


def state_file(config: Config) -> Path:
    return config.state_dir / "watchdog.json"


def _read_capped(path: Path) -> bytes:
    """The file's bytes; ValueError when it is larger than MAX_STATE_BYTES (never read
    whole, even if it grows while being read)."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_STATE_BYTES:
            raise ValueError(f"{size} bytes, more than the {MAX_STATE_BYTES} a state file "
                             f"can be")
        data = handle.read(size + 1)  # +1: a file that grew since is seen to have grown
    if len(data) > size:
        raise ValueError("the file grew while being read")
    return data


def load_memory(config: Config, quarantine: bool = True) -> tuple[FleetMemory, str | None]:
    """The saved memory, and a warning when the file was corrupt. Only the watchdog (the
    file's owner) passes `quarantine`, which moves a corrupt file aside to be rebuilt."""
    path = state_file(config)
    try:
        return memory_from_json(_read_capped(path)), None
    except FileNotFoundError:
        return FleetMemory(), None
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        if not quarantine:
            return FleetMemory(), f"state file is unreadable ({exc})"
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        for extra in range(1, 100):  # two in one second: keep both
            if not aside.exists():
                break
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}-{extra}")
        os.replace(path, aside)
        tighten([aside])  # it may hold the same secrets a good one would
        return FleetMemory(), f"state file was unreadable ({exc}); moved to {aside.name}"


def save_memory(config: Config, memory: FleetMemory) -> None:
    """Write the state file atomically: on failure (disk full...) the previous file stays
    whole, and the OSError raised says the same thing every time for the same cause (no
    random temp name in it), so the watchdog reports it once, not every tick."""
    path = state_file(config)
    try:
        write_atomic(path, memory_to_json(memory))
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from None


def recovered(previous_error: str | None) -> list[Event]:
    """The event to record once a state write succeeds after `previous_error` (the failure
    the watchdog reported); none when there was no failure."""
    if previous_error is None:
        return []
    return [Event(time.time(), None, "state-write-recovered",
                  f"the state file is written again (after: {previous_error})")]
