"""The state folder as callers know it: one name for the memory store, the lock and the markers.

Each fact is defined once, in its own door; this module only gathers the names the runtime
and the verbs use, so they say `state.load_memory`, `state.acquire_lock`,
`state.stopped_agents` without knowing how the folder is divided:

- doors/memorystore.py: `watchdog.json`, the watchdog's memory (typed, atomic, quarantined);
- doors/lock.py: `watchdog.lock`, the single-instance flock and its holder's pid;
- doors/markers.py: `stopped/`, `started/`, the phase index, resume ids, config health,
  the last good config, and the folder's creation and upkeep.
"""

from __future__ import annotations

from agent_orchestrator.doors.lock import (
    AlreadyRunning,
    acquire_lock,
    lock_file,
    read_lock_pid,
    watchdog_pid,
)
from agent_orchestrator.doors.markers import (
    clear_stopped,
    ensure_dirs,
    health_file,
    last_good_config,
    last_good_file,
    mark_started,
    mark_stopped,
    operator_starts,
    phase_index,
    read_health,
    read_phase,
    resume_id,
    resume_id_file,
    stopped_agents,
    tidy,
    write_phase_index,
)
from agent_orchestrator.doors.memorystore import (
    load_memory,
    memory_from_json,
    memory_to_json,
    recovered,
    save_memory,
    state_file,
)

__all__ = [
    "AlreadyRunning", "acquire_lock", "clear_stopped",
    "ensure_dirs", "health_file", "last_good_config", "last_good_file", "load_memory",
    "lock_file", "mark_started", "mark_stopped", "memory_from_json", "memory_to_json",
    "operator_starts", "phase_index", "read_health", "read_lock_pid", "read_phase",
    "recovered", "resume_id", "resume_id_file", "save_memory", "state_file", "stopped_agents",
    "tidy", "watchdog_pid", "write_phase_index",
]
