"""The small files operators and the watchdog leave each other in `state/`, and its upkeep.

- `stopped/<agent>`: `agents down NAME` leaves this so the watchdog never heals an agent the
  operator stopped; `agents up NAME` removes it.
- `started/<agent>`: `agents up NAME` leaves this (its time clears a crash loop).
- `<loop.state_file>` (`phase-idx`): the loop's current phase index, its one source
  (`read_phase`: a corrupt file is reported, never read as some phase).
- `<agent>.id`: an agent's conversation id (`resume = true`).
- `config-health.json` and `last-good.toml`: the watchdog's word on the config file.
- On taking the lock the watchdog calls `tidy`: temp files of writers killed mid-write are
  removed and files left looser than 0600 (an older version, a copy by hand) are tightened.
"""

from __future__ import annotations

import glob
import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Config, filetrust
from agent_orchestrator.core import phases
from agent_orchestrator.doors import memorystore
from agent_orchestrator.doors.files import (
    private_dir,
    remove_stray_temps,
    tighten,
    touch_private,
    write_atomic,
)

# A phase index is a few digits; anything longer is reported, never read whole.
MAX_PHASE_BYTES = 64


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


def rerun_file(config: Config) -> Path:
    """Where `agents phase set N` asks to run again the phase the sequence completed on:
    the phase file alone cannot say it (it already names that phase)."""
    return config.state_dir / "phase-rerun"


def request_rerun(config: Config) -> None:
    write_atomic(rerun_file(config), b"run the phase the sequence completed on again\n")


@dataclass(frozen=True)
class PhaseRead:
    """The phase to act on, and why the phase file could not give it (`problem`: the file's
    content shortened and redacted, or the read error), None when it did."""

    index: int
    problem: str | None = None


def read_phase(config: Config, known: int | None = None) -> PhaseRead:
    """The loop's current phase: the phase file is its one source. No file yet (or no loop)
    is phase 0; an index past the last phase is the last phase.

    A file that is not a whole number (empty, truncated, edited by hand) or cannot be read is
    never taken for a phase: the index is then the phase the watchdog last knew — `known`
    (the caller's `LoopMemory.phase`), else the one in its saved memory, else 0 — with the
    `problem` set, which the watchdog reports (`phase-file-corrupt`) and `agents status`
    shows until the file is fixed or `agents phase set N` rewrites it."""
    path = phase_file(config)
    if path is None or config.loop is None:
        return PhaseRead(0)
    last = max(len(config.loop.phases) - 1, 0)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PHASE_BYTES + 1)  # never more: the file is a number
        if len(data) > MAX_PHASE_BYTES:
            raise ValueError(f"phase index file is larger than {MAX_PHASE_BYTES} bytes")
        return PhaseRead(min(phases.parse_index(data.decode("utf-8", "replace")), last))
    except FileNotFoundError:
        return PhaseRead(0)
    except (OSError, ValueError) as exc:
        problem = str(exc) if isinstance(exc, ValueError) else \
            f"phase index file cannot be read ({exc.strerror or exc})"
    if known is None:
        known = memorystore.load_memory(config, quarantine=False)[0].loop.phase
    return PhaseRead(min(max(known or 0, 0), last), problem)


def phase_index(config: Config) -> int:
    """The phase to start loop agents on now (`read_phase`'s index: the watchdog reports a
    corrupt file, this only keeps the phase it last knew)."""
    return read_phase(config).index


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
    through the broken file's own `log_dir` line; None when there is none, or when the
    broken file is no regular file or over the cap (a FIFO there would block: it is opened
    without waiting, and never read whole; config/filetrust.py)."""
    try:
        text = filetrust.read_capped(path).decode("utf-8", "replace")
    except (OSError, filetrust.Untrusted):
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
        return config_mod.load(path, data=filetrust.read_capped(copy))
    except (OSError, filetrust.Untrusted, config_mod.ConfigError):
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
