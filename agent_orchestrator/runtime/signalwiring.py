"""Telling an agent's CLI to send its own signals to us, per agent, at launch.

Never through the user's own settings files: Claude Code gets a private settings file of
its own (`--settings FILE`, which it merges over the user's) whose hooks run
`agents hook claude`; Gemini CLI the same hooks in a file it reads as its system defaults
(`GEMINI_CLI_SYSTEM_DEFAULTS_PATH`); Codex gets its `notify` program as a `-c notify=[...]`
override on the command line. Either way the hook writes `state/signals/<agent>.json`, which the
watchdog watches. Only `arg` delivery is wired (the words go after the program); a
backend without `signals` is judged by its screen alone.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from agent_orchestrator.config import Agent, Backend, Config
from agent_orchestrator.doors import signals

# Gemini CLI 0.61's hook events that tell a state (its model events carry whole requests).
GEMINI_EVENTS = ("BeforeAgent", "AfterAgent", "BeforeTool", "AfterTool", "Notification",
                 "SessionEnd")
# The Claude Code hook events that tell a state (core/signals.py maps them).
# All exist in 2.1.197 and 2.1.332 (tests/realcli/SIGNALS.md): StopFailure replaces Stop
# when an API error ended the turn, PermissionRequest fires as a dialog opens.
CLAUDE_EVENTS = ("UserPromptSubmit", "PreToolUse", "PostToolUse", "PermissionRequest",
                 "Stop", "StopFailure", "SubagentStop", "Notification", "SessionEnd")


@dataclass(frozen=True)
class Wiring:
    """Words for the CLI's command line, and files to write before it starts."""

    words: tuple[str, ...] = ()
    files: tuple[tuple[Path, bytes], ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def hook_argv(config: Config, agent: Agent, source: str) -> list[str]:
    """The command a CLI runs to hand us a signal."""
    return [sys.executable, "-m", "agent_orchestrator.cli.hook", source, "--signals",
            str(signals.signals_dir(config.state_dir)), "--agent", agent.name]


def settings_file(config: Config, session: str) -> Path:
    return config.state_dir / f"hooks-{session}.json"


def wiring(config: Config, agent: Agent, backend: Backend) -> Wiring:
    if backend.prompt_delivery != "arg" or not backend.signals or agent.host is not None:
        return Wiring()  # an agent on another host is judged by its screen (README)
    argv = hook_argv(config, agent, backend.signals)
    if backend.signals in ("claude", "gemini"):
        # Hooks run through a shell: the command is quoted word by word.
        hook = {"type": "command", "command": shlex.join(argv), "timeout": 10}
        events = CLAUDE_EVENTS if backend.signals == "claude" else GEMINI_EVENTS
        matcher = "" if backend.signals == "claude" else "*"
        body = {"hooks": {event: [{"matcher": matcher, "hooks": [hook]}] for event in events}}
        path = settings_file(config, agent.session)
        files = ((path, json.dumps(body, indent=1).encode()),)
        if backend.signals == "claude":
            return Wiring(("--settings", str(path)), files)
        # Gemini reads it as its lowest-precedence settings scope (the user's hooks still
        # run); it skips the file when a parent folder is group- or world-writable.
        return Wiring((), files, (("GEMINI_CLI_SYSTEM_DEFAULTS_PATH", str(path)),))
    if backend.signals == "codex":
        # A JSON array of strings is a TOML array: `-c` parses the value as TOML.
        return Wiring(("-c", "notify=" + json.dumps(argv)))
    return Wiring()
