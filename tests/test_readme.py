"""README stays true to the code: its TOML examples load, its two commands are what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import write_config

from agent_orchestrator import config as config_mod

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOML_BLOCKS = [b for b in re.findall(r"```toml\n(.*?)```", README, re.DOTALL)
               if "[[agent]]" in b or "[backend." in b]


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=[f"block{i}" for i in range(len(TOML_BLOCKS))])
def test_readme_toml_examples_are_valid_configs(tmp_path: Path, block: str) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "builder-task.md").write_text("task")
    config_mod.load(write_config(tmp_path, block))


def test_ci_runs_the_readme_test_command() -> None:
    test_command = re.findall(r"```sh\n(.*?)\n```", README, re.DOTALL)[1].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
