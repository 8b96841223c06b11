"""Our side on another host: `PY -m agent_orchestrator.runtime.remote OP`, a JSON request on
stdin, a JSON answer on stdout (exit 0; 1 with {"error": ...}: a failure of the operation,
which the watchdog reports, never a traceback).

The watchdog runs this over the host's ssh connection (runtime/remotelaunch.py) so that a
remote agent is started and stopped by the very code that starts a local one
(`launch.start` / `launch.stop`: spec and kickoff files 0600 in a private runtime folder,
the log writer on pipe-pane, the boot step, process tags and the tree cleanup), against a
Config made for this host: the fleet's session prefix, tmux server and log caps, with its
logs under `${XDG_STATE_HOME:-~/.local/state}/agent-orchestrator/<fleet key>`.

Every value arrives in the JSON body (no shell sees it), so prompts and argv stay byte-exact.

Operations (each request carries `fleet`: prefix, key, tmux_socket, log_max_bytes, log_keep):
- `where`: this host's launch folder and log folder (the kickoff file's path is planned on
  the watchdog's machine and must name the host's file);
- `start`: a LaunchPlan's fields (+ `swept`) → launch.start;
- `stop`: `session` → launch.stop; answers whether it existed;
- `read`: `path` (a prompt file here) → its text, judged by filetrust as locally.

Streamed operations (runtime/remotestream.py): the request is ONE JSON line, the answer
JSON lines until the file is read (or, with `follow`, until stdin ends):
- `follow`: `session`, `bytes`, `follow` → its session log's history, then what comes;
- `transcript`: `dir`, `session_id`, `backend`, `follow` → the agent's conversation record.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from agent_orchestrator.config import filetrust, model
from agent_orchestrator.doors.files import private_dir
from agent_orchestrator.doors.tmux import Tmux, TmuxError
from agent_orchestrator.runtime import launch, remotestream

MODULE = "agent_orchestrator.runtime.remote"
OPS = ("where", "start", "stop", "read", *remotestream.STREAMED)


def state_home() -> Path:
    xdg = os.environ.get("XDG_STATE_HOME", "")
    return Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "state"


def host_config(fleet: dict[str, Any]) -> model.Config:
    """The Config `launch` needs on this host: where things go, no agents of its own."""
    key = str(fleet["key"])
    if not key or "/" in key or key.startswith("."):
        raise ValueError(f"bad fleet key {key!r}")
    log_dir = state_home() / "agent-orchestrator" / key
    return model.Config(
        path=Path(os.devnull), project_dir=Path.home(), session_prefix=str(fleet["prefix"]),
        log_dir=log_dir, tmux_socket=fleet.get("tmux_socket"),
        watchdog=model.WatchdogSettings(), backends=(), agents=(),
        log_max_bytes=int(fleet.get("log_max_bytes", 20_000_000)),
        log_keep=int(fleet.get("log_keep", 1)))


def plan_of(body: dict[str, Any]) -> launch.LaunchPlan:
    return launch.LaunchPlan(
        session=str(body["session"]), argv=tuple(str(w) for w in body["argv"]),
        cwd=Path(str(body["cwd"])).expanduser(),
        env=tuple((str(k), str(v)) for k, v in body.get("env", ())),
        kickoff=str(body.get("kickoff", "")), boot_line=body.get("boot_line"),
        connect_delay=float(body.get("connect_delay", 0)),
        submit_key=str(body.get("submit_key", "Enter")),
        boot_guard=tuple((str(k), str(v)) for k, v in body.get("boot_guard", ())))


def serve(op: str, request: dict[str, Any]) -> dict[str, Any]:
    """Carry out one operation here; raises OSError / TmuxError / Untrusted / ValueError."""
    config = host_config(request["fleet"])
    tmux = Tmux(config.tmux_socket)
    if op == "where":
        private_dir(config.log_dir)
        return {"launch_dir": str(launch.launch_dir(config)), "log_dir": str(config.log_dir)}
    if op == "start":
        private_dir(config.log_dir)
        launch.start(tmux.checked(), config, plan_of(request["plan"]),
                     swept=bool(request.get("swept")))
        return {}
    if op == "stop":
        return {"existed": launch.stop(tmux, config, str(request["session"]))}
    if op == "read":
        return {"text": filetrust.read_text(Path(str(request["path"])).expanduser())}
    raise ValueError(f"unknown operation {op!r} (one of {', '.join(OPS)})")


def stream(op: str) -> None:
    """Carry out a streamed operation: its request is stdin's first line; the rest of stdin
    is only watched for its end. Raises as `serve`, and BrokenPipeError when stdout is gone."""
    request = json.loads(sys.stdin.buffer.readline().decode("utf-8"))
    stop = remotestream.stdin_closed(sys.stdin.fileno())
    out = sys.stdout.buffer

    def emit(record: dict[str, Any]) -> None:
        out.write(remotestream.encode(record))
        out.flush()

    if op == "follow":
        config = host_config(request["fleet"])
        remotestream.follow_log(launch.log_file(config, str(request["session"])), request,
                                stop, emit)
    else:
        remotestream.transcript(request, stop, emit)


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    try:
        if len(words) != 1:
            raise ValueError(f"usage: python -m {MODULE} {{{','.join(OPS)}}} < request.json")
        if words[0] in remotestream.STREAMED:
            stream(words[0])
            return 0
        answer = serve(words[0], json.loads(sys.stdin.buffer.read().decode("utf-8")))
    except BrokenPipeError:  # nobody reads us any more: the end of a streamed operation
        with contextlib.suppress(OSError):  # (and no second error when Python flushes)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, TmuxError, filetrust.Untrusted, ValueError, KeyError, TypeError) as exc:
        sys.stdout.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        return 1
    sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
