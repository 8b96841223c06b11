"""`agents init [DIR]`: write a starter agents.toml and prompts/ — never over existing files.
`agents init --loop-demo DIR`: a runnable builder/adversary demo with its own git repos.

The prompts are the package's copies of the repository's top-level prompts/ folder (the
wheel maps that folder to `agent_orchestrator.prompts`).
"""

from __future__ import annotations

import json
import os
import subprocess
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import tomli_w

PROMPTS = ("kickoff.md", "builder.md", "adversary.md")


STARTER = """\
# agents.toml, written by `agents init`. Every key is in the README ("The config file");
# `agents check` validates this file and lists every error with its line.

[defaults]
session_prefix = {prefix}   # tmux sessions are named <prefix><agent name>
log_dir = ".agents"           # session logs, events.jsonl, state/ (memory, lock); kickoff
                              # files: a private runtime folder (state/ as the fallback)
backend = "demo"              # the bundled demo agent, runs anywhere; for real work:
                              # "claude", "codex", "gemini", "opencode" or "aider"
watch = "heal"                # restart dead sessions; "heal+stall" also reboots stalled ones

[watchdog]
signal_interval = 30          # seconds between looks at the agents' screens
heavy_interval = 300          # seconds between checks of the phase's status file

# A plain agent: its prompt is its kickoff, given once at start.
[[agent]]
name = "helper"
prompt = "Look around the repository and wait for work."
# model = "..."               # passed with the backend's model flag
# watch = "heal+stall"

# The loop pair: a builder and an adversary work on the phases below, in turn. Their
# kickoff is prompts/kickoff.md followed by prompts/<role>.md.
[[agent]]
name = "builder"
kind = "loop"
role = "builder"

[[agent]]
name = "adversary"
kind = "loop"
role = "adversary"

[loop]
kickoff_template = "prompts/kickoff.md"
roles_dir = "prompts"
# handoff = {{ repo = "../watch" }}  # a clone of the git repo the pair pushes to

# A phase ends when its status file has a "## DONE" line with real text under it; then the
# loop moves to the next one. Phases are numbered from 1 (`agents phase`).
[[loop.phases]]
id = "phase-1"
plan = "PLAN.md"
status = "STATUS.md"
"""


def starter_config(name: str) -> str:
    """The commented starter agents.toml for a project folder called `name`."""
    prefix = "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-") or "proj"
    return STARTER.format(prefix=json.dumps(f"{prefix}-"))


def _new_dir(path: Path) -> None:
    """Create `path` and its missing parents 0700; a folder that exists is left as it is
    (it may be the user's project)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)  # whatever the umask


def _new_file(path: Path, text: str) -> Path:
    """Write a file that must not exist yet, 0600 from its creation."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def init(folder: Path) -> list[Path]:
    """Write agents.toml, prompts/*.md and the PLAN.md its phase names (unless the project
    has one) into `folder`; return the paths written. Files 0600, created folders 0700.

    Raises FileExistsError naming the first file that exists, before writing anything.
    """
    folder = folder.expanduser()
    config_path = folder / "agents.toml"
    targets = [config_path] + [folder / "prompts" / name for name in PROMPTS]
    for target in targets:
        if target.exists():
            raise FileExistsError(17, "refusing to overwrite existing file", str(target))
    _new_dir(folder / "prompts")
    _new_file(config_path, starter_config(folder.resolve().name))
    source = prompts_source()
    for prompt in PROMPTS:
        _new_file(folder / "prompts" / prompt, source.joinpath(prompt).read_text("utf-8"))
    plan = folder / "PLAN.md"  # the plan the starter's phase names (`check` wants it there)
    if not plan.exists():  # a project's own plan is kept
        targets.append(_new_file(plan, "# Plan\n\nWhat phase-1 should build, and how to "
                                 "tell it is done.\n"))
    return targets


def prompts_source() -> Traversable:
    """The shipped prompts: the installed package's copy, or a source checkout's folder."""
    try:
        return resources.files("agent_orchestrator.prompts")
    except ModuleNotFoundError:  # running from a checkout without installing
        return Path(__file__).resolve().parents[2] / "prompts"


DEMO_ROLES = ("builder", "adversary")


def loop_demo_config() -> dict[str, Any]:
    """The loop demo: scripted demo agents as builder and adversary, two phases, a gate."""
    return {
        "defaults": {"session_prefix": "loopdemo-", "log_dir": ".agents", "backend": "demo",
                     "watch": "heal"},
        "watchdog": {"signal_interval": 3, "heavy_interval": 5},
        "backend": {"demo": {"flags": "--busy 2"}},
        "agent": [
            {"name": "builder", "kind": "loop", "role": "builder", "dir": "builder"},
            {"name": "adversary", "kind": "loop", "role": "adversary", "dir": "adversary"},
            {"name": "reporter", "kind": "task", "enabled": False,
             "prompt": "Every phase is done: write the final report."},
        ],
        "loop": {
            "kickoff_template": "prompts/kickoff.md", "roles_dir": "prompts",
            "handoff": {"repo": "watch", "state_subdir": ""},
            "on_complete": {"run": "reporter"},
            "phases": [
                {"id": "parser", "status": "STATUS-parser.md", "models": {"builder": "big"}},
                {"id": "api", "status": "STATUS-api.md", "verify": ["test -f GATES-api.md"]},
            ],
        },
    }


def _git(*args: str, cwd: Path | None = None) -> None:
    """The scaffold's own git calls: argument lists, hooks off, a bounded time."""
    try:
        subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=cwd, check=True,
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise OSError(2, "git is not installed (the loop demo needs it)", "git") from None
    except subprocess.CalledProcessError as exc:
        raise OSError(1, f"git {args[0]} failed: {exc.stderr.strip()}", "git") from None


def init_loop_demo(folder: Path) -> list[Path]:
    """Write a runnable loop demo into `folder`: a bare `origin.git`, clones for the builder,
    the adversary and the watchdog (`watch`), agents.toml and scripted role prompts.
    Raises FileExistsError (nothing written) when agents.toml exists, OSError when git fails.
    """
    folder = folder.expanduser()
    config_path = folder / "agents.toml"
    if config_path.exists():
        raise FileExistsError(17, "refusing to overwrite existing file", str(config_path))
    _new_dir(folder)
    origin = folder / "origin.git"
    _git("init", "-q", "--bare", "-b", "main", str(origin))
    for name in ("seed", "builder", "adversary", "watch"):
        _git("clone", "-q", str(origin), str(folder / name))
        _git("config", "user.name", f"demo {name}", cwd=folder / name)
        _git("config", "user.email", f"{name}@demo.invalid", cwd=folder / name)
    seed = folder / "seed"
    (seed / "README.md").write_text("A project built by two demo agents.\n", encoding="utf-8")
    _git("add", "README.md", cwd=seed)
    _git("commit", "-q", "-m", "initial", cwd=seed)
    _git("push", "-q", "origin", "HEAD:main", cwd=seed)
    for name in ("builder", "adversary", "watch"):
        _git("pull", "-q", "origin", "main", cwd=folder / name)
    prompts = folder / "prompts"
    _new_dir(prompts)
    source = prompts_source()
    written = [config_path, _new_file(prompts / "kickoff.md",
                                      source.joinpath("kickoff.md").read_text("utf-8"))]
    for role in DEMO_ROLES:
        text = source.joinpath("loop-demo").joinpath(f"{role}.md").read_text("utf-8")
        written.append(_new_file(prompts / f"{role}.md", text))
    _new_file(config_path, tomli_w.dumps(loop_demo_config()))
    return written + [origin]
