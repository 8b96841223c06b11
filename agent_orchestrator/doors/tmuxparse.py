"""tmux's text, both ways: the capture chain we write (and how much of it fits one client),
and what tmux prints back: snapshot rows into Panes, chained captures into screens, `tmux -V`
into a version, and a client's "there is no server" from its other errors.

No process: doors/tmux.py asks tmux, this module writes the question and reads the answer.
"""

from __future__ import annotations

import re

from agent_orchestrator.core.observed import Pane

# Output of `tmux list-panes -a -F SNAPSHOT_FORMAT`, tab separated; the session name comes
# last so that a foreign session on a shared server may hold any character.
_FIELDS = ("pane_id", "pane_pid", "pane_current_command", "pane_dead", "pane_dead_status",
           "pane_dead_signal", "window_activity", "session_created", "window_id",
           "session_name")
SNAPSHOT_FORMAT = "\t".join("#{" + f + "}" for f in _FIELDS)

# What tmux clients print when there is no server to talk to (socket missing, stale socket,
# server exiting). Any other failure is an error, never "no sessions".
_NO_SERVER = re.compile(r"no server running|error connecting to|server exited unexpectedly"
                        r"|failed to connect to server", re.IGNORECASE)
# `tmux -V`: `tmux 3.3a`, `tmux next-3.5` (a build from git), `tmux openbsd-7.4` (OpenBSD's
# base tmux, named by the OS release), `tmux 3.4-rc`, `tmux master`.
_VERSION_RE = re.compile(r"tmux (?P<version>\S+)")


def parse_snapshot(text: str) -> dict[str, Pane]:
    """Parse `list-panes -a -F SNAPSHOT_FORMAT` output; first pane of each session wins."""
    panes: dict[str, Pane] = {}
    for row in text.splitlines():
        parts = row.split("\t", len(_FIELDS) - 1)
        if len(parts) != len(_FIELDS):
            continue
        (pane_id, pid, command, dead, status, signum, activity, created, window_id,
         session) = parts
        if session in panes:
            continue
        is_dead = dead == "1"
        panes[session] = Pane(
            session=session, pane_id=pane_id, pid=_int(pid), command=command, dead=is_dead,
            exit_status=_int(status) if is_dead and status else None,
            activity=float(_int(activity)), window_id=window_id,
            exit_signal=_int(signum) if is_dead and signum else None,
            created=float(_int(created)))
    return panes


def capture_chain(sessions: list[str], nonce: str) -> list[str]:
    """One tmux command chain printing `NONCE SESSION` and then the screen, per session
    (read back by `parse_captures`)."""
    args: list[str] = []
    for session in sessions:
        args += ["display-message", "-p", f"{nonce} {session}", ";",
                 "capture-pane", "-p", "-J", "-t", f"={session}:", ";"]
    return args[:-1]


def fit_chain(sessions: list[str], budget: int) -> list[str]:
    """The longest prefix of `sessions` (at least one) whose capture chain fits in
    `budget` bytes of a tmux client's command line."""
    batch: list[str] = []
    used = 0
    for session in sessions:
        used += 2 * len(session) + 80
        if batch and used > budget:
            break
        batch.append(session)
    return batch


def parse_captures(text: str, nonce: str) -> dict[str, str]:
    """Screens by session out of a chain of `display-message -p "NONCE SESSION"` and
    `capture-pane -p` pairs, in the order printed (trailing empty rows dropped)."""
    current: str | None = None
    lines: dict[str, list[str]] = {}
    for line in text.split("\n"):
        if line.startswith(nonce + " "):
            current = line[len(nonce) + 1:]
            lines[current] = []
        elif current is not None:
            lines[current].append(line)
    return {session: "\n".join(rows).rstrip("\n") for session, rows in lines.items()}


def no_server(stderr: str) -> bool:
    """True when a tmux client's `stderr` says there is no server to talk to."""
    return _NO_SERVER.search(stderr) is not None


def parse_version(text: str) -> str | None:
    """The version word of `tmux -V`'s output (`3.3a`, `next-3.5`, `openbsd-7.4`), as tmux
    prints it; None when `text` is not such a line."""
    found = _VERSION_RE.fullmatch(text.strip())
    return found.group("version") if found else None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
