"""`agents doctor` says when an installed CLI is newer than the newest release its preset
was checked against (a real script on PATH answering `--version`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent_orchestrator.cli import doctor
from agent_orchestrator.config.presets import CHECKED_VERSIONS


@pytest.mark.parametrize(("printed", "status"), [
    ("2.1.400 (Claude Code)", "warn"),
    (f"{CHECKED_VERSIONS['claude']} (Claude Code)", "ok"),
    ("2.1.197 (Claude Code)", "ok"),
    ("version unknown (OSError)", "ok"),
])
def test_a_newer_cli_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  printed: str, status: str) -> None:
    fake = tmp_path / "claude"
    fake.write_text(f"#!/bin/sh\necho '{printed}'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    (check,) = [c for c in doctor.check_clis({"claude"}, {}) if c.name == "backend claude"]
    assert check.status == status and printed in check.detail
    if status == "warn":
        assert f"checked against {CHECKED_VERSIONS['claude']}" in check.detail


def test_a_shell_line_that_names_no_program_is_said_not_checked() -> None:
    bins = {"x": "cd {dir} && exec mycli", "y": "A=1 no-such-cli-13 {kickoff}"}
    checks = {c.name: c for c in doctor.check_clis({"x", "y"}, bins, frozenset({"x", "y"}))}
    assert checks["backend x"].status == "info" and "not checked" in checks["backend x"].detail
    assert checks["backend y"].status == "fail"  # it names one, and it is not there
    assert "'A=1 no-such-cli-13 {kickoff}' not found" in checks["backend y"].detail
