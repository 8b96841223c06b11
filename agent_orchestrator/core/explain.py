"""`agents explain`: which state the watchdog sees on a screen, and why.

For a live agent (`agents explain NAME`) the pane is captured and the watchdog's memory adds
how long the agent has been idle; for a saved screen (`--backend B --screen FILE`) only the
text is judged. Either way the answer lists, for every regex of the backend, the line it
matched (in the part of the screen the rules read), the reset time read from a limit
banner, and a WAITING-UNTIL marker: what a user needs to fix a regex after a CLI update.
An agent with no running screen (stopped, exited, crash-looping, disabled, resting after
the last phase) is said to be so instead (`not_running`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from agent_orchestrator.config import Backend
from agent_orchestrator.core.screen import classify

_WHY = {
    "fatal": "fatal_re matched in the current turn: the watchdog restarts the agent",
    "active": "active_re matched: the agent is working (while the screen keeps changing)",
    "dialog": "prompt_re matched: waiting at a dialog; never typed into, never rebooted",
    "limited": "limit_re matched with no live spinner: held until the reset time",
    "idle": "no regex matched: idle (a heal+stall agent is rebooted after stall_idle)",
}


# The states of cli/status.agent_state in which no live screen is judged: `explain NAME`
# says so (and what brings the agent back) instead of judging a dead or missing pane.
_NOT_RUNNING = {
    "disabled": "`enabled = false` in the config: never started, never watched",
    "stopped": "`agents down` stopped it (or it is not watched, or no tmux server runs): the "
               "watchdog leaves it down; `agents up {name}` starts it",
    "done": "a loop agent resting after the last phase; `agents phase set N` runs the loop "
            "again",
    "crash-looping": "it failed crash_limit times within crash_window, so the watchdog "
                     "stopped restarting it; `agents events --agent {name}` shows why, "
                     "`agents up {name}` (or editing its config entry) clears it",
    "backoff": "between crashes: the watchdog restarts it once its back-off ends",
    "exited": "its program ended or its session is gone: the watchdog restarts it "
              "(`agents logs {name}` shows its last output)",
}
NOT_RUNNING = frozenset(_NOT_RUNNING)


def not_running(state: str, detail: str, backend: Backend, agent: str) -> Explanation | None:
    """The answer for an agent in `state` (cli/status.agent_state, with its prose `detail`)
    when there is no running screen to judge; None when there is one."""
    why = _NOT_RUNNING.get(state)
    if why is None:
        return None
    why = why.format(name=agent)
    regexes = {"active_re": backend.active_re, "limit_re": backend.limit_re,
               "fatal_re": backend.fatal_re, "prompt_re": backend.prompt_re}
    return Explanation(backend=backend.name, state=state,
                       why=why if detail == state else f"{detail}: {why}",
                       matches=dict.fromkeys(regexes),
                       patterns={k: r.pattern if r is not None else None
                                 for k, r in regexes.items()},
                       agent=agent, notes=["no running screen: nothing was judged"])


@dataclass(frozen=True)
class Explanation:
    """The verdict on one screen; `matches` maps each regex key to the line it matched
    (None: no match, or the backend has no such regex)."""

    backend: str
    state: str
    why: str
    matches: dict[str, str | None]
    patterns: dict[str, str | None]
    reset_at: str | None = None
    waiting_until: str | None = None
    agent: str | None = None
    idle_seconds: float | None = None
    notes: list[str] = field(default_factory=list)
    # A live agent: the state the watchdog judged at its last look, where it came from
    # ("hook", "notify", "transcript", "screen") and that look's age in seconds.
    judged: dict[str, object] | None = None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def explain_screen(screen: str, backend: Backend, now: datetime, agent: str | None = None,
                   idle_seconds: float | None = None,
                   judged: dict[str, object] | None = None) -> Explanation:
    view = classify(screen, backend, now)
    regexes = {"active_re": backend.active_re, "limit_re": backend.limit_re,
               "fatal_re": backend.fatal_re, "prompt_re": backend.prompt_re}
    notes = [f"{key} is not set for backend '{backend.name}'"
             for key, regex in regexes.items() if regex is None]
    if view.limit_line and view.reset_at is None:
        notes.append("the limit banner has no readable reset time: the watchdog probes every "
                     "limit_probe_fallback seconds")
    if view.state == "active" and view.limit_line:
        notes.append("a limit banner behind a live spinner is an in-flight retry: not limited")
    return Explanation(
        backend=backend.name, state=view.state, why=_WHY[view.state],
        matches={"active_re": view.active_line, "limit_re": view.limit_line,
                 "fatal_re": view.fatal_line, "prompt_re": view.dialog_line},
        patterns={k: r.pattern if r is not None else None for k, r in regexes.items()},
        reset_at=view.reset_at.isoformat() if view.reset_at else None,
        waiting_until=view.waiting_until.isoformat() if view.waiting_until else None,
        agent=agent, idle_seconds=idle_seconds, notes=notes, judged=judged)
