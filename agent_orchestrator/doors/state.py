"""What the watchdog remembers between ticks and restarts, and the files operators leave it.

- `state/watchdog.json`: per-agent memory (`AgentMemory`), written atomically each tick that
  changes it. A corrupt, truncated, wrongly typed or oversized (> MAX_STATE_BYTES) file is
  moved aside (`.corrupt-<time>`) and rebuilt: the running sessions are then adopted, not
  restarted. A failed write leaves the previous file in place (see `save_memory`).
- `state/watchdog.lock`: flock held for the watchdog's lifetime; the holder's pid inside.
  flock alone decides who runs (a stale file or a pid naming another process means
  nothing); a second watchdog exits with `AlreadyRunning.exit_code`, naming the holder's pid.
- On taking the lock the watchdog calls `tidy`: temp files of writers killed mid-write are
  removed and files left looser than 0600 (an older version, a copy by hand) are tightened.
- `state/stopped/<agent>`: `agents down NAME` leaves this so the watchdog never heals an agent
  the operator stopped; `agents up NAME` removes it.
- `state/<loop.state_file>`: the loop's phase index.
"""

from __future__ import annotations

import fcntl
import glob
import json
import math
import os
import re
import time
import tomllib
import types
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TextIO, Union, get_args, get_origin, get_type_hints

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Config
from agent_orchestrator.core.events import Event
from agent_orchestrator.core.memory import AgentMemory, FleetMemory, LoopMemory
from agent_orchestrator.doors.files import (
    private_dir,
    remove_stray_temps,
    tighten,
    touch_private,
    write_atomic,
)

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


# ------------------------------------------------------------------------- lock

class AlreadyRunning(Exception):
    """Another watchdog holds the lock; `pid` is its pid when it could be read."""

    exit_code = 3  # `agents watchdog`'s exit status: a supervisor can tell it from an error

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        super().__init__(f"a watchdog is already running (pid {pid})" if pid else
                         "a watchdog is already running")


def lock_file(config: Config) -> Path:
    return config.state_dir / "watchdog.lock"


def acquire_lock(config: Config) -> TextIO:
    """Take the single-instance lock; keep the returned file open for as long as it is held.

    flock decides, not the file's existence: a lock left by a dead watchdog is free.
    Raises AlreadyRunning.
    """
    path = touch_private(lock_file(config))
    handle = open(path, "r+", encoding="ascii")  # noqa: SIM115 - held for the process life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        # The kernel knows the holder even while the file still holds a dead one's pid
        # (the winner of a simultaneous start writes its own a moment after taking it).
        holder = _flock_holder(handle.fileno()) or read_lock_pid(config)
        handle.close()
        raise AlreadyRunning(holder) from None
    # Written in place, then cut: a reader sees the old pid or the new one on line one.
    os.pwrite(handle.fileno(), f"{os.getpid()}\n".encode(), 0)
    os.ftruncate(handle.fileno(), len(f"{os.getpid()}\n"))
    return handle


def _flock_holder(fd: int) -> int | None:
    """The pid holding a flock on the open file `fd`, from /proc/locks (Linux); None when
    it cannot be told."""
    info = os.fstat(fd)
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            for line in locks:
                words = line.split()
                # "1: FLOCK  ADVISORY  WRITE 17267 fe:00:2302371 0 EOF" ("->" marks waiters)
                if len(words) >= 6 and words[1] == "FLOCK" and words[5] == device:
                    return int(words[4]) or None
    except (OSError, ValueError):
        return None
    return None


def read_lock_pid(config: Config) -> int | None:
    try:
        first = lock_file(config).read_text(encoding="ascii").split("\n", 1)[0]
        return int(first.strip() or 0) or None
    except (OSError, ValueError):
        return None


def watchdog_pid(config: Config) -> int | None:
    """The running watchdog's pid, or None when no process holds the lock."""
    path = lock_file(config)
    if not path.exists():
        return None
    with open(path, encoding="ascii") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_lock_pid(config)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


# ------------------------------------------------------------------------- operator stops

def _stopped_dir(config: Config) -> Path:
    return config.state_dir / "stopped"


def mark_stopped(config: Config, name: str) -> None:
    touch_private(_stopped_dir(config) / name)


def clear_stopped(config: Config, name: str) -> None:
    (_stopped_dir(config) / name).unlink(missing_ok=True)


def stopped_agents(config: Config) -> frozenset[str]:
    try:
        return frozenset(p.name for p in _stopped_dir(config).iterdir())
    except FileNotFoundError:
        return frozenset()


def _started_dir(config: Config) -> Path:
    return config.state_dir / "started"


def mark_started(config: Config, name: str) -> None:
    """Record that the operator ran `agents up NAME` now (clears a crash loop)."""
    path = touch_private(_started_dir(config) / name)
    os.utime(path)


def operator_starts(config: Config) -> dict[str, float]:
    """Agent name → epoch time of the operator's last `agents up` for it."""
    try:
        return {p.name: p.stat().st_mtime for p in _started_dir(config).iterdir()}
    except FileNotFoundError:
        return {}


# ------------------------------------------------------------------------- per-agent files

def phase_file(config: Config) -> Path | None:
    return config.state_dir / config.loop.state_file if config.loop is not None else None


def phase_index(config: Config) -> int:
    """The loop's current phase index (0 when none is saved or it is unreadable), never past
    the last phase."""
    path = phase_file(config)
    if path is None or config.loop is None:
        return 0
    try:
        saved = max(int(path.read_text().strip()), 0)
    except (OSError, ValueError):
        return 0
    return min(saved, max(len(config.loop.phases) - 1, 0))


def write_phase_index(config: Config, index: int) -> None:
    path = phase_file(config)
    if path is not None:
        write_atomic(path, f"{index}\n".encode())


def resume_id_file(config: Config, agent_name: str) -> Path:
    """Where an agent's conversation id is kept (`resume = true`)."""
    return config.state_dir / f"{agent_name}.id"


def resume_id(config: Config, agent_name: str) -> str | None:
    try:
        return resume_id_file(config, agent_name).read_text().strip() or None
    except OSError:
        return None


def health_file(config: Config) -> Path:
    """The watchdog's word on the config file (ok, or rejected since when)."""
    return config.state_dir / "config-health.json"


def read_health(config: Config) -> dict[str, object] | None:
    try:
        body = json.loads(health_file(config).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def last_good_file(state_dir: Path) -> Path:
    return state_dir / "last-good.toml"


def last_good_config(path: Path) -> Config | None:
    """The last config the watchdog accepted for the (now broken) file at `path`, found
    through the broken file's own `log_dir` line; None when there is none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    try:
        defaults = tomllib.loads(text).get("defaults", {})
        log_dir = defaults.get("log_dir") if isinstance(defaults, dict) else None
        project = defaults.get("project_dir") if isinstance(defaults, dict) else None
    except tomllib.TOMLDecodeError:  # not even TOML: look for the line itself
        found = re.search(r'^\s*log_dir\s*=\s*"([^"]+)"', text, re.MULTILINE)
        log_dir, project = (found.group(1) if found else None), None
    if not isinstance(log_dir, str):
        return None
    root = path.resolve().parent
    if isinstance(project, str):
        root = (root / Path(project).expanduser()).resolve()
    copy = last_good_file((root / Path(log_dir).expanduser()) / "state")
    try:
        return config_mod.load(path, data=copy.read_bytes())
    except (OSError, config_mod.ConfigError):
        return None


def ensure_dirs(config: Config) -> None:
    private_dir(config.log_dir)
    private_dir(config.state_dir)


def tidy(config: Config) -> None:
    """What the lock holder does once at start, before anyone else can be writing as the
    watchdog: remove the temp files of atomic writes killed before their rename, and tighten
    our files left looser than 0600 (folders 0700). Only files this tool names are touched:
    `log_dir` may be a folder the user shares with other things."""
    remove_stray_temps(config.state_dir)  # all ours
    remove_stray_temps(config.log_dir, frozenset({"SEQUENCE-COMPLETE"}))
    ours: list[Path] = [config.state_dir, _stopped_dir(config), _started_dir(config)]
    for folder in ours[:]:
        try:
            ours += list(folder.iterdir())
        except OSError:
            continue
    sessions = [a.session for a in config.agents] + [s.session for s in config.services] + \
        [config.watchdog_session]
    logs = ["events.jsonl", "SEQUENCE-COMPLETE"] + [f"{s}.log" for s in sessions]
    for name in logs:
        ours.append(config.log_dir / name)
        ours += config.log_dir.glob(f"{glob.escape(name)}.[0-9]*")
    tighten(ours)
