"""The presets against screens captured from the real CLIs, at the versions the references
came from AND the newest releases (tests/fixtures/screens-captured/<cli>-<version>/, made by
tests/realcli/capture_screens.py against the loopback fake model; INDEX.md beside each set
says how each screen was produced). A CLI retrying by itself is working; a limit is held
whatever the release words it as."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent_orchestrator.config.loader import builtin_backend
from agent_orchestrator.core.screen import classify

CAPTURED = Path(__file__).parent / "fixtures" / "screens-captured"
NOW = datetime(2026, 12, 4, 17, 21, tzinfo=UTC)  # the captures were taken 17:14-17:21 UTC

EXPECTED = {
    "busy": "active",
    "idle": "idle",
    "permission": "dialog",
    "ratelimit_retrying": "active",  # "retrying in 5s · attempt 1/10" and alike: work
    "overloaded_retrying": "active",
    "overloaded_gave_up": "idle",  # retries spent: the turn is over
    "usage_limit": "limited",
    "usage_limit_api_billing": "limited",  # an API key's 429 once retries are spent
    "usage_limit_autocontinue": "limited",
    "usage_limit_autocontinue_cancelled": "limited",
    "usage_limit_stopped": "limited",
    "usage_limit_resumed": "idle",  # it continued by itself at the reset and answered
    "error500_retrying": "active",
}
# Screens whose moment differs from their name, or that a CLI shows differently.
EXCEPTIONS = {
    # One 429 "(not your usage limit)" to a subscriber: 2.1.197 prints it and stops
    # (idle), 2.1.332 retries it by itself (working).
    ("claude-2.1.197", "ratelimit_subscriber"): "idle",
    ("claude-2.1.332", "ratelimit_subscriber"): "active",
    # opencode retries a usage limit by itself for hours ([retrying in 1h 59m]): working,
    # never rebooted; it resumes at the reset on its own.
    ("opencode-1.18.33", "usage_limit"): "active",
}
SCREENS = sorted((d.name, f.stem) for d in CAPTURED.iterdir() if d.is_dir()
                 for f in d.glob("*.txt"))


@pytest.mark.parametrize(("version", "name"), SCREENS, ids=[f"{v}/{n}" for v, n in SCREENS])
def test_captured_screen_reads_as_expected(version: str, name: str) -> None:
    cli = version.split("-")[0]
    view = classify((CAPTURED / version / f"{name}.txt").read_text(), builtin_backend(cli),
                    NOW)
    assert view.state == EXCEPTIONS.get((version, name), EXPECTED.get(name)), view


def test_every_captured_screen_has_an_expectation() -> None:
    assert SCREENS and all(n in EXPECTED or (v, n) in EXCEPTIONS for v, n in SCREENS)
    assert {v.split("-")[0] for v, _ in SCREENS} >= {"claude", "codex", "gemini", "opencode"}


def test_newest_claude_limit_reads_its_reset_and_its_offer_to_continue() -> None:
    view = classify((CAPTURED / "claude-2.1.332" / "usage_limit.txt").read_text(),
                    builtin_backend("claude"), NOW)
    assert view.state == "limited" and view.auto_resume
    assert view.reset_at is not None and (view.reset_at.hour, view.reset_at.minute) == (19, 20)
    old = classify((CAPTURED / "claude-2.1.197" / "usage_limit.txt").read_text(),
                   builtin_backend("claude"), NOW)
    assert old.state == "limited" and not old.auto_resume
