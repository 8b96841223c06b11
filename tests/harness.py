"""An end-to-end fleet for tests: a config on a private tmux socket, the demo agent, and
helpers to drive it (`agents ...` as a subprocess, the demo agent's control file) and to
observe it (events.jsonl, the demo agent's record file, pane pids). The `make_fleet`
fixture in conftest.py builds one and tears it down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import PANE_LIST, live_pane_pid, tmux_cmd, wait_until


class Fleet:
    """A config on a private socket, and helpers to drive and observe it."""

    def __init__(self, folder: Path, socket: str, body: str, defaults: str = "") -> None:
        self.folder, self.socket = folder, socket
        self.path = folder / "agents.toml"
        self.head = (f'[defaults]\nsession_prefix = "e-"\nlog_dir = "logs"\n'
                     f'tmux_socket = "{socket}"\n{defaults}')
        self.write(body)
        self.procs: list[subprocess.Popen[bytes]] = []

    def write(self, body: str) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(self.head + textwrap.dedent(body))
        os.replace(tmp, self.path)  # like an editor's save

    def agents(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agent_orchestrator", *args, "--config",
                               str(self.path)], capture_output=True, text=True, timeout=30,
                              check=False)

    def watchdog_subprocess(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "watchdog",
                                 "--config", str(self.path)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def events(self, agent: str | None = None, kind: str | None = None) -> list[dict]:
        path = self.folder / "logs" / "events.jsonl"
        if not path.exists():
            return []
        records = [json.loads(line) for line in path.read_text().splitlines()]
        return [r for r in records if (agent is None or r["agent"] == agent)
                and (kind is None or r["event"] == kind)]

    def wait_event(self, agent: str | None, kind: str, timeout: float = 15,
                   after: int = 0) -> dict:
        return wait_until(lambda: next(iter(self.events(agent, kind)[after:]), None),
                          timeout=timeout, what=f"event {kind} for {agent}")  # type: ignore

    def control(self, name: str, command: str) -> None:
        path = self.folder / f"ctl-{name}"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(command + "\n")
        os.replace(tmp, path)

    def records(self, name: str) -> list[dict]:
        path = self.folder / f"rec-{name}"
        return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []

    def pane_pid(self, session: str) -> int | None:
        return live_pane_pid(tmux_cmd(self.socket, "list-panes", "-a", "-F", PANE_LIST).stdout,
                             session)

    def close(self) -> None:
        self.agents("down")
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def demo_agent(name: str, folder: Path, watch: str = "heal", busy: float = 0.3,
               prompt: str = "go") -> str:
    return f"""
        [[agent]]
        name = "{name}"
        backend = "demo{name}"
        watch = "{watch}"
        prompt = "{prompt}"

        [backend.demo{name}]
        bin = "{{python}} -m agent_orchestrator.fakeagent"
        flags = "--busy {busy} --control {folder}/ctl-{name} --record {folder}/rec-{name}"
        process_name = "python"
        active_re = "esc to interrupt"
        limit_re = "You've hit your (?:\\\\w+ )?limit"
        fatal_re = "API Error: 401"
        prompt_re = "Do you want to proceed\\\\?"
        stall_idle = 2
    """
