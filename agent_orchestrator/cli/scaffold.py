"""`agents init [DIR]`: write a starter agents.toml and prompts/ — never over existing files.
`agents init --loop-demo DIR`: a runnable builder/adversary demo with its own git repos.

The prompts are the package's copies of the repository's top-level prompts/ folder (the
wheel maps that folder to `agent_orchestrator.prompts`).
"""

from __future__ import annotations

import subprocess
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import tomli_w

PROMPTS = ("kickoff.md", "builder.md", "adversary.md")


def starter_config(name: str) -> dict[str, Any]:
    prefix = "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-") or "proj"
    return {
        "defaults": {"session_prefix": f"{prefix}-", "log_dir": ".agents", "backend": "demo",
                     "watch": "heal"},
        "watchdog": {"signal_interval": 30, "heavy_interval": 300},
        "agent": [
            {"name": "builder", "kind": "loop", "role": "builder"},
            {"name": "adversary", "kind": "loop", "role": "adversary"},
            {"name": "helper", "prompt": "Look around the repository and wait for work."},
        ],
        "loop": {
            "kickoff_template": "prompts/kickoff.md", "roles_dir": "prompts",
            "phases": [{"id": "phase-1", "plan": "PLAN.md", "status": "STATUS.md"}],
        },
    }


def init(folder: Path) -> list[Path]:
    """Write agents.toml and prompts/*.md into `folder`; return the paths written.

    Raises FileExistsError naming the first file that exists, before writing anything.
    """
    folder = folder.expanduser()
    config_path = folder / "agents.toml"
    targets = [config_path] + [folder / "prompts" / name for name in PROMPTS]
    for target in targets:
        if target.exists():
            raise FileExistsError(17, "refusing to overwrite existing file", str(target))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prompts").mkdir(exist_ok=True)
    name = folder.resolve().name
    config_path.write_text(tomli_w.dumps(starter_config(name)), encoding="utf-8")
    source = prompts_source()
    for prompt in PROMPTS:
        (folder / "prompts" / prompt).write_text(source.joinpath(prompt).read_text("utf-8"),
                                                 encoding="utf-8")
    plan = folder / "PLAN.md"  # the plan the starter's phase names (`check` wants it there)
    if not plan.exists():  # a project's own plan is kept
        plan.write_text("# Plan\n\nWhat phase-1 should build, and how to tell it is done.\n",
                        encoding="utf-8")
        targets.append(plan)
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
    folder.mkdir(parents=True, exist_ok=True)
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
    prompts.mkdir(exist_ok=True)
    source = prompts_source()
    written = [config_path]
    (prompts / "kickoff.md").write_text(source.joinpath("kickoff.md").read_text("utf-8"),
                                        encoding="utf-8")
    written.append(prompts / "kickoff.md")
    for role in DEMO_ROLES:
        text = source.joinpath("loop-demo").joinpath(f"{role}.md").read_text("utf-8")
        (prompts / f"{role}.md").write_text(text, encoding="utf-8")
        written.append(prompts / f"{role}.md")
    config_path.write_text(tomli_w.dumps(loop_demo_config()), encoding="utf-8")
    return written + [origin]
