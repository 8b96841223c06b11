"""phases: DONE detection (table), the pushed status file, phase index checks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import clone_repo
from conftest import git as sh  # `git` names gitrelay.Git objects here

from agent_orchestrator.config import Handoff
from agent_orchestrator.core.phases import (
    PLACEHOLDERS,
    is_done,
    parse_index,
    status_paths,
    validate_target,
)
from agent_orchestrator.doors.gitrelay import Git, phase_done, status_text

DONE_CASES = [
    # real text under the marker
    ("## DONE\nAll 12 gates verified by the adversary at 3f2a1bc.\n", True),
    ("# Status\n\n## DONE\n\n\nShipped: parser, CLI and docs.\n", True),
    ("## DONE\r\nEverything passes.\r\n", True),
    ("## DONE ✓\n- All gates green (review 3f2a1bc)\n", True),
    ("## DONE: phase 2\n**Complete** — 14/14 checks pass\n", True),
    ("## DONE\n> Verified by adversary, see review commit.\n", True),
    ("## DONE\nAll green; nothing pending.\n", True),  # "pending" not at the start
    ("## DONE\nSee <https://ci.example/run/4>: all pass\n", True),
    ("## DONE\nnot yet\n## DONE\nReally done now.\n", True),  # a later marker counts
    # placeholders
    ("## DONE\nnot yet\n", False),
    ("## DONE\n_Not yet._\n", False),
    ("## DONE\n(not done)\n", False),
    ("## DONE\nIncomplete: 2 gates left\n", False),
    ("## DONE\n**Pending**\n", False),
    ("## DONE\nTBD\n", False),
    ("## DONE\n- n/a\n", False),
    ("## DONE\n> *(written here only when all gates pass)*\n", False),
    ("## DONE\nFilled in only when the adversary agrees.\n", False),
    ("## DONE\n(to be written)\n", False),
    ("## DONE\nTo be filled by the builder.\n", False),
    ("## DONE\nWhen all gates pass, summarise here.\n", False),
    ("## DONE\n<summary of the phase>\n", False),
    ("## DONE\n<!-- write here -->\n", False),
    ("## DONE\nStatus: pending\n", False),
    ("## DONE\n---\n", False),
    ("## DONE\n[TODO]\n", False),
    # structure
    ("Phase is ## DONE\nAll gates pass.\n", False),  # marker not at line start
    ("  ## DONE\nAll gates pass.\n", False),  # indented
    ("> ## DONE\nAll gates pass.\n", False),
    ("## DONE\n\n   \n\n", False),  # only blank lines follow
    ("## DONE", False),  # marker is the last line
    ("## DONE\n## Notes\nAll gates pass.\n", False),  # next line is a heading
    ("## DONE\n### Summary\nAll gates pass.\n", False),
    ("## DONE_CRITERIA\nAll gates pass.\n", False),  # another heading that starts alike
    ("## Done\nAll gates pass.\n", False),  # marker is case-sensitive
    ("", False),
    ("All gates pass.\n", False),
]


@pytest.mark.parametrize(("text", "expected"), DONE_CASES)
def test_is_done(text: str, expected: bool) -> None:
    assert is_done(text) is expected


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_every_placeholder_blocks_done(placeholder: str) -> None:
    for shown in (placeholder, placeholder.upper(), f"*({placeholder})*", f"> _{placeholder}_"):
        assert not is_done(f"## DONE\n{shown}\n"), shown
    assert is_done("## DONE\nAll gates pass.\n")


def test_custom_marker() -> None:
    assert is_done("### Phase complete\nYes, verified.\n", marker="### Phase complete")
    assert not is_done("## DONE\nYes, verified.\n", marker="### Phase complete")
    assert not is_done("## DONE\nYes.\n", marker="")


# ----------------------------------------------------------------------------- pushed file

@pytest.fixture
def clone(tmp_path: Path) -> Path:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    return clone_repo(origin, tmp_path / "work")


def push(work: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(content)
        sh(work, "add", name)
    sh(work, "commit", "-q", "-m", "status")
    sh(work, "push", "-q", "origin", "HEAD:refs/heads/main")


def test_status_paths() -> None:
    assert status_paths(Handoff(Path(".")), "STATUS.md") == ["machine-docs/STATUS.md",
                                                             "STATUS.md"]
    assert status_paths(Handoff(Path("."), state_subdir=""), "./STATUS.md") == ["STATUS.md"]


def test_status_text_prefers_state_subdir_then_root(clone: Path) -> None:
    hand = Handoff(clone)
    git = Git(clone)
    assert status_text(git, hand, "STATUS.md") is None  # nothing pushed yet
    push(clone, {"STATUS.md": "root copy\n"})
    git.fetch()
    assert status_text(git, hand, "STATUS.md") == "root copy\n"
    push(clone, {"machine-docs/STATUS.md": "subdir copy\n"})
    git.fetch()
    assert status_text(git, hand, "STATUS.md") == "subdir copy\n"
    assert status_text(git, Handoff(clone, state_subdir=""), "STATUS.md") == "root copy\n"


def test_only_the_pushed_done_counts(clone: Path) -> None:
    hand = Handoff(clone)
    git = Git(clone)
    push(clone, {"machine-docs/STATUS.md": "# Phase 1\n## DONE\n_not yet_\n"})
    git.fetch()
    # The agent writes DONE in its working tree, even commits it, but does not push.
    (clone / "machine-docs/STATUS.md").write_text("# Phase 1\n## DONE\nAll gates pass.\n")
    assert not phase_done(git, hand, "STATUS.md")
    sh(clone, "commit", "-q", "-am", "done (local)")
    git.fetch()
    assert not phase_done(git, hand, "STATUS.md")
    sh(clone, "push", "-q", "origin", "HEAD:refs/heads/main")
    git.fetch()
    assert phase_done(git, hand, "STATUS.md")
    assert not phase_done(git, hand, "MISSING.md")


# ----------------------------------------------------------------------------- indexes

@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("2\n", 2), ("  7  ", 7)])
def test_parse_index(text: str, expected: int) -> None:
    assert parse_index(text) == expected


@pytest.mark.parametrize("text", ["", "\n", "-1", "abc", "1.5", "+1", "٣", "1 2"])
def test_parse_index_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="expected a whole number >= 0"):
        parse_index(text)


@pytest.mark.parametrize(("value", "phases", "expected"), [("0", 3, 0), ("2", 3, 2),
                                                           (" 1 ", 2, 1)])
def test_validate_target_accepts(value: str, phases: int, expected: int) -> None:
    assert validate_target(value, phases) == expected


@pytest.mark.parametrize(("value", "phases", "message"), [
    ("99", 3, "phase 99 does not exist: the loop has 3 phases (0..2)"),
    ("3", 3, "phase 3 does not exist: the loop has 3 phases (0..2)"),
    ("1", 1, "phase 1 does not exist: the loop has 1 phase (0..0)"),
    ("-1", 3, "phase must be >= 0 (phases are numbered 0..2), got -1"),
    ("abc", 3, "phase must be a whole number in 0..2, got 'abc'"),
    ("", 3, "phase must be a whole number in 0..2, got ''"),
    ("0", 0, "the loop has no phases"),
])
def test_validate_target_rejects(value: str, phases: int, message: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_target(value, phases)
    assert str(info.value).startswith(message)
