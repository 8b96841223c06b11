"""`agents init [DIR]`: write a starter agents.toml and prompts/ — never over existing files.

The prompts are the package's copies of the repository's top-level prompts/ folder (the
wheel maps that folder to `agent_orchestrator.prompts`).
"""

from __future__ import annotations

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
    return targets


def prompts_source() -> Traversable:
    """The shipped prompts: the installed package's copy, or a source checkout's folder."""
    try:
        return resources.files("agent_orchestrator.prompts")
    except ModuleNotFoundError:  # running from a checkout without installing
        return Path(__file__).resolve().parent.parent / "prompts"
