"""The first program of every agent and service pane: `python -m agent_orchestrator.runtime.boot
SPEC`.

tmux starts this with a fixed argv (tmux would split user text on `;`), and it:
1. reads the launch spec (JSON written by launch.py, mode 0600) and deletes it;
2. changes to the agent's folder and sets its environment, including the tag proctree.py
   finds its descendants by;
3. for `ping` delivery, forks a helper that waits `connect_delay`, types the boot line
   into this very pane and presses the submit key again while the text still sits in the
   input line (TUIs swallow an early Enter); never while the backend's dialog or usage
   limit is on screen (`boot_guard`): then it waits for the screen to clear, up to
   PING_HOLD, looking every PING_POLL seconds (#14 item 9: typed text waits);
4. becomes a child subreaper (after the pinger's double fork, so that one goes to init),
   kept across the exec: a daemon the agent starts stays below the pane's pid, where
   `agents down` finds it whatever it does to its name and environment (proctree.py);
   and, where the machine allows it, joins a cgroup v2 of its own (cgroups.py), which
   holds such a daemon even after the agent died, and records it for `stop`;
5. execs the agent, so the pane's pid IS the agent (tmux reports its exit status, and its
   process name is what `process_name` is matched against).
The prompt reaches the agent as one argv element, byte for byte: no shell sees it unless the
backend's delivery is `exec`, whose template is a shell command line by definition.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from agent_orchestrator.doors import cgroups, proctree

if TYPE_CHECKING:
    from agent_orchestrator.config import Backend

PING_RETRY_WINDOW = 10.0  # seconds to keep pressing submit while the boot line sits unsent
PING_HOLD = 6 * 3600.0  # seconds the boot line waits out a dialog or limit (a limit window)
PING_POLL = 2.0  # seconds between looks while it waits
# The backend's fields that say a dialog or a limit is on screen (screen.py reads them).
GUARD_FIELDS = ("prompt_re", "limit_re", "resumed_re", "message_gutter")


def boot_guard(backend: Backend) -> tuple[tuple[str, str], ...]:
    """What the boot line's typer needs of `backend` to know it must not type: its screen
    regexes as patterns (the pane's process has no config to load them from)."""
    out = []
    for name in GUARD_FIELDS:
        value = getattr(backend, name)
        if value:
            out.append((name, value if isinstance(value, str) else value.pattern))
    return tuple(out)


def _guard_backend(guard: dict[str, str]) -> Backend | None:
    from agent_orchestrator.config import Backend
    from agent_orchestrator.config.userregex import UserRegex

    if not guard:
        return None
    return Backend(name="boot", bin="", message_gutter=guard.get("message_gutter", ""),
                   **{k: UserRegex(v) for k, v in guard.items() if k.endswith("_re")})


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m agent_orchestrator.runtime.boot SPEC_FILE", file=sys.stderr)
        return 2
    spec_path = Path(argv[0])
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8", errors="surrogateescape"))
    except (OSError, ValueError) as exc:
        print(f"agent-orchestrator: cannot read launch spec {spec_path}: {exc}", file=sys.stderr)
        return 1
    spec_path.unlink(missing_ok=True)
    try:
        os.chdir(spec["cwd"])
    except OSError as exc:
        print(f"agent-orchestrator: cannot enter {spec['cwd']}: {exc.strerror}", file=sys.stderr)
        return 1
    env = dict(os.environ)
    env.update(spec.get("env", {}))
    if spec.get("boot_line"):  # the spec carries the backend's delay and key with it
        _fork_pinger(spec["boot_line"], float(spec["connect_delay"]), spec["submit_key"],
                     spec.get("boot_guard") or {})
    proctree.become_subreaper()
    if spec.get("cgroup") and (group := cgroups.join(spec["cgroup"]["name"])) is not None:
        with contextlib.suppress(OSError):
            cgroups.record(Path(spec["cgroup"]["record"]), group)
    args = spec["argv"]
    try:
        os.execvpe(args[0], args, env)
    except OSError as exc:
        print(f"agent-orchestrator: cannot run {args[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127


def _fork_pinger(line: str, delay: float, submit_key: str, guard: dict[str, str]) -> None:
    """Type `line` into this pane after `delay`, from a detached grandchild process."""
    pane, server = os.environ.get("TMUX_PANE"), os.environ.get("TMUX", "").split(",")[0]
    if not pane or not server:
        return
    if os.fork() != 0:
        os.wait()  # the child forks again and exits at once: no zombie is left to the agent
        return
    if os.fork() != 0:
        os._exit(0)
    try:
        _ping(server, pane, line, delay, submit_key, guard)
    finally:
        os._exit(0)


def _ping(server: str, pane: str, line: str, delay: float, submit_key: str,
          guard: dict[str, str]) -> None:
    from agent_orchestrator.doors.tmux import Tmux, TmuxError
    from agent_orchestrator.runtime.delivery import deliver

    time.sleep(delay)
    screen = _guard_backend(guard)
    tmux = Tmux(socket_path=server)
    until = time.monotonic() + PING_HOLD
    while True:
        try:
            result = deliver(tmux, pane, line, submit_key, presses=int(PING_RETRY_WINDOW),
                             wait=1.0, dialog_re=screen and screen.prompt_re, limits=screen)
        except TmuxError:
            return  # the pane is gone: nothing left to deliver to
        if not result.blocked or time.monotonic() > until:
            return
        time.sleep(PING_POLL)  # a dialog or a limit is up: typing there is lost or harmful


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
