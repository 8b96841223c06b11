"""Test-only crash points: `crash_point(name)` SIGKILLs this process when the environment
variable AGENT_ORCHESTRATOR_CRASH_AT names that point, so a test can kill the watchdog at
the exact step where a crash does most harm (tests/reliability/test_state_cases.py, T11).

`AGENT_ORCHESTRATOR_CRASH_AT` is `NAME` (the first time any caller reaches NAME) or
`NAME:SUBJECT` (only where the caller passes that subject, e.g. the file name written).
The variable is read once, at import: when it is unset (always, outside tests) a crash
point costs one comparison.

Points:
- `state-temp-written` (subject: file name): files.write_atomic wrote and fsynced the temp
  file, not yet renamed over the target;
- `state-renamed` (subject: file name): renamed, the folder not yet fsynced;
- `session-created`: the watchdog created an agent's tmux session and did not yet save the
  memory that records it;
- `restart-killed`: the watchdog killed an agent's old session, the new one not yet started;
- `config-applied`: a config reload stopped the removed agents and did not yet apply the
  rest (starts, memory).

`slow_point(name)` instead sleeps there when AGENT_ORCHESTRATOR_SLOW_AT is `NAME:SECONDS`,
so a test can act while the step is in flight (T53: `down` during a restart's gap). Points:
`restart-killed` as above.
"""

from __future__ import annotations

import os
import signal
import time

ENV_VAR = "AGENT_ORCHESTRATOR_CRASH_AT"

SLOW_VAR = "AGENT_ORCHESTRATOR_SLOW_AT"

_TARGET = os.environ.get(ENV_VAR) or None
_SLOW = os.environ.get(SLOW_VAR) or None


def crash_point(name: str, subject: str | None = None) -> None:
    """Die here, at once and uncleanly (SIGKILL: no finally, no atexit), when asked to."""
    if _TARGET is None:
        return
    if _TARGET == name or (subject is not None and _TARGET == f"{name}:{subject}"):
        os.kill(os.getpid(), signal.SIGKILL)


def slow_point(name: str) -> None:
    """Sleep here for the seconds AGENT_ORCHESTRATOR_SLOW_AT gives this point."""
    if _SLOW is None:
        return
    point, _, seconds = _SLOW.rpartition(":")
    if point == name:
        time.sleep(float(seconds))
