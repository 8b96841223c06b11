"""What the watchdog remembers between ticks and restarts, and the files operators leave it.

- `state/watchdog.json`: per-agent memory (`AgentMemory`), written atomically each tick that
  changes it. A corrupt or truncated file is moved aside (`.corrupt-<time>`) and rebuilt: the
  running sessions are then adopted, not restarted.
- `state/watchdog.lock`: flock held for the watchdog's lifetime; the holder's pid inside.
- `state/stopped/<agent>`: `agents down NAME` leaves this so the watchdog never heals an agent
  the operator stopped; `agents up NAME` removes it.
- `state/<loop.state_file>`: the loop's phase index.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TextIO

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Config
from agent_orchestrator.files import private_dir, touch_private, write_atomic

STATE_VERSION = 1


@dataclass(frozen=True)
class AgentMemory:
    """The watchdog's memory of one agent.

    Durations are measured on the monotonic clock (`*_at` fields, seconds since boot), so a
    wall-clock jump never makes every agent look stalled at once; `*_wall` fields are epoch
    seconds, kept only for display and for comparing with file times.
    """

    started_at: float | None = None  # when the watchdog last started it
    starts: int = 0  # how many times it was started or adopted
    restarts: int = 0  # starts after the first
    last_exit: int | None = None  # exit status of its last death, if tmux saw one
    last_event: str | None = None
    last_event_wall: float | None = None
    # restarts and crash loops
    deaths: tuple[float, ...] = ()  # deaths, fatal restarts and stall reboots in crash_window
    failures: int = 0  # consecutive failures that came before a stable run (back-off exponent)
    restart_due_at: float | None = None  # a failed agent is started again at this time
    crash_looping_wall: float | None = None  # set: FATAL, no more restarts
    # the screen
    captured_wall: float | None = None  # when the screen was last read (epoch)
    screen_hash: str | None = None
    screen_changed_at: float | None = None
    screen_state: str | None = None  # screen.ScreenView.state of the last capture
    active_at: float | None = None  # last time it was seen working
    waiting_until_wall: float | None = None  # a WAITING-UNTIL marker on screen
    dialog_line: str | None = None  # waiting at a permission / trust dialog
    # usage limits
    limit_until: float | None = None  # inside a limit window until then
    limit_reset_wall: float | None = None  # the reset time read from the banner, if any
    limit_nudged: bool = False
    woken_at: float | None = None


@dataclass(frozen=True)
class LoopMemory:
    """What the loop rules remember: the phase the loop agents run, the last commit of
    origin/main already relayed, verify outcomes per commit, and completion."""

    phase: int | None = None  # the phase index the loop agents were started on
    seen_sha: str | None = None  # origin/main's head when pings were last relayed
    verify_failed_sha: str | None = None  # a DONE commit whose verify failed (told once)
    sequence_complete: bool = False
    done_note: str | None = None  # what the last DONE check found, for `agents status`


@dataclass(frozen=True)
class FleetMemory:
    """Per-agent memory plus what the fleet-wide rules need."""

    agents: dict[str, AgentMemory] = field(default_factory=dict)
    fleet_starts: tuple[float, ...] = ()  # (re)starts in the last minute, for the fleet cap
    throttled: bool = False  # the fleet cap held restarts back (reported once per burst)
    server_up: bool = True  # the tmux server was running at the last look
    loop: LoopMemory = field(default_factory=LoopMemory)

    def agent(self, name: str) -> AgentMemory:
        return self.agents.get(name, AgentMemory())

    def to_json(self) -> bytes:
        body = {"version": STATE_VERSION, "fleet_starts": list(self.fleet_starts),
                "throttled": self.throttled, "server_up": self.server_up,
                "loop": asdict(self.loop),
                "agents": {name: asdict(memory) for name, memory in sorted(self.agents.items())}}
        return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> FleetMemory:
        """Parse a state file; raises ValueError on anything but a well-formed one."""
        body = json.loads(data)
        if not isinstance(body, dict) or body.get("version") != STATE_VERSION:
            raise ValueError("not a state file of this version")
        agents = body.get("agents")
        if not isinstance(agents, dict):
            raise ValueError("'agents' is not an object")
        known = {f.name for f in fields(AgentMemory)}
        out = {}
        for name, raw in agents.items():
            if not isinstance(raw, dict):
                raise ValueError(f"agent {name!r} is not an object")
            values = {k: v for k, v in raw.items() if k in known}
            values["deaths"] = tuple(float(t) for t in values.get("deaths") or ())
            out[name] = AgentMemory(**values)
        raw_loop = body.get("loop") or {}
        if not isinstance(raw_loop, dict):
            raise ValueError("'loop' is not an object")
        loop_known = {f.name for f in fields(LoopMemory)}
        loop = LoopMemory(**{k: v for k, v in raw_loop.items() if k in loop_known})
        return cls(out, tuple(float(t) for t in body.get("fleet_starts") or ()),
                   bool(body.get("throttled", False)), bool(body.get("server_up", True)),
                   loop)


def state_file(config: Config) -> Path:
    return config.state_dir / "watchdog.json"


def load_memory(config: Config, quarantine: bool = True) -> tuple[FleetMemory, str | None]:
    """The saved memory, and a warning when the file was corrupt. Only the watchdog (the
    file's owner) passes `quarantine`, which moves a corrupt file aside to be rebuilt."""
    path = state_file(config)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return FleetMemory(), None
    try:
        return FleetMemory.from_json(data), None
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        if not quarantine:
            return FleetMemory(), f"state file is unreadable ({exc})"
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        os.replace(path, aside)
        return FleetMemory(), f"state file was unreadable ({exc}); moved to {aside.name}"


def save_memory(config: Config, memory: FleetMemory) -> None:
    write_atomic(state_file(config), memory.to_json())


# ------------------------------------------------------------------------- lock

class AlreadyRunning(Exception):
    """Another watchdog holds the lock; `pid` is its pid when it could be read."""

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
        handle.close()
        raise AlreadyRunning(read_lock_pid(config)) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def read_lock_pid(config: Config) -> int | None:
    try:
        return int(lock_file(config).read_text(encoding="ascii").strip() or 0) or None
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
