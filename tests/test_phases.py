"""phases: DONE detection (table), the pushed status file, phase index checks, and the phase
file's reader (doors/markers.read_phase: the one source of the current phase)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import clone_repo, write_config
from conftest import git as sh  # `git` names gitrelay.Git objects here

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Handoff
from agent_orchestrator.core.memory import FleetMemory, LoopMemory
from agent_orchestrator.core.phases import (
    PLACEHOLDERS,
    is_done,
    parse_index,
    status_paths,
    status_state,
    validate_target,
)
from agent_orchestrator.doors import markers, memorystore
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


@pytest.mark.parametrize(("value", "phases", "expected"), [("1", 3, 0), ("3", 3, 2),
                                                           (" 2 ", 2, 1)])
def test_validate_target_numbers_from_1(value: str, phases: int, expected: int) -> None:
    assert validate_target(value, phases) == expected


@pytest.mark.parametrize(("value", "phases", "message"), [
    ("99", 3, "phase 99 does not exist: the loop has 3 phases (1..3)"),
    ("4", 3, "phase 4 does not exist: the loop has 3 phases (1..3)"),
    ("2", 1, "phase 2 does not exist: the loop has 1 phase (1..1)"),
    ("0", 3, "phase must be >= 1 (phases are numbered 1..3), got 0"),
    ("-1", 3, "phase must be >= 1 (phases are numbered 1..3), got -1"),
    ("abc", 3, "phase must be a whole number in 1..3, got 'abc'"),
    ("", 3, "phase must be a whole number in 1..3, got ''"),
    ("1", 0, "the loop has no phases"),
])
def test_validate_target_rejects(value: str, phases: int, message: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_target(value, phases)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(("text", "state"), [
    (None, "missing"), ("", "not yet"), ("## DONE\nnot yet\n", "not yet"),
    ("# S\n## DONE\nAll gates green at abc.\n", "DONE")])
def test_status_state(text: str | None, state: str) -> None:
    assert status_state(text) == state


def test_parse_index_shows_the_content_shortened_and_redacted() -> None:
    secret = "sk-ant-" + "api03-" + "A1b2C3d4" * 6
    with pytest.raises(ValueError) as caught:
        parse_index(f"ANTHROPIC_API_KEY={secret}")
    assert secret[:12] not in str(caught.value) and "[REDACTED:" in str(caught.value)
    with pytest.raises(ValueError) as caught:
        parse_index("7" * 30 + "x" * 100)
    assert "'" + "7" * 30 + "x" * 10 + "...'" in str(caught.value)


# ----------------------------------------------------------------------------- the reader

def loop_config(tmp_path: Path, phases: int = 3) -> config_mod.Config:
    (tmp_path / "builder.md").write_text("build")
    body = '[[agent]]\nname = "b"\nkind = "loop"\nrole = "builder"\nbackend = "demo"\n' \
        '[loop]\nroles_dir = "."\n' + "".join(
            f'[[loop.phases]]\nid = "p{i}"\nstatus = "S{i}.md"\n' for i in range(phases))
    return config_mod.load(write_config(tmp_path, body))


@pytest.mark.parametrize(("content", "expected"), [
    (None, 0),  # no file yet: the first phase
    (b"0\n", 0), (b"2\n", 2), (b" 1 ", 1),
    (b"9\n", 2),  # phases removed from the config since: the last one
])
def test_read_phase_reads_a_good_file(tmp_path: Path, content: bytes | None,
                                      expected: int) -> None:
    config = loop_config(tmp_path)
    markers.ensure_dirs(config)
    if content is not None:
        (config.state_dir / "phase-idx").write_bytes(content)
    assert markers.read_phase(config, known=1) == markers.PhaseRead(expected)
    assert markers.phase_index(config) == expected


@pytest.mark.parametrize(("content", "shown"), [
    (b"", "holds ''"), (b"\n", "holds ''"), (b"abc", "holds 'abc'"), (b"-1", "holds '-1'"),
    (b"1\x00", "holds '1\\x00'"), (b"\xff\xfe", "holds '\ufffd\ufffd'"),
    (b"1" * 65, "larger than 64 bytes"),
])
def test_read_phase_reports_a_corrupt_file_and_keeps_the_known_phase(
        tmp_path: Path, content: bytes, shown: str) -> None:
    """Never phase 0 by accident: the phase the caller knew, else the saved memory's."""
    config = loop_config(tmp_path)
    markers.ensure_dirs(config)
    (config.state_dir / "phase-idx").write_bytes(content)
    read = markers.read_phase(config, known=2)
    assert read.index == 2 and read.problem is not None and shown in read.problem
    assert markers.read_phase(config).index == 0  # nobody knows one
    memorystore.save_memory(config, FleetMemory(loop=LoopMemory(phase=1)))
    assert markers.read_phase(config) == markers.PhaseRead(1, read.problem)
    assert markers.phase_index(config) == 1
    assert markers.read_phase(config, known=7).index == 2  # clamped like a good file


def test_read_phase_reports_an_unreadable_file(tmp_path: Path) -> None:
    config = loop_config(tmp_path)
    markers.ensure_dirs(config)
    (config.state_dir / "phase-idx").mkdir()  # EISDIR; a 0000 file is readable by root
    read = markers.read_phase(config, known=1)
    assert read.index == 1 and read.problem is not None and "cannot be read" in read.problem
    os.rmdir(config.state_dir / "phase-idx")
    markers.write_phase_index(config, 2)  # what `agents phase set 2` does
    assert markers.read_phase(config, known=1) == markers.PhaseRead(2)
