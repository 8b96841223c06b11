"""doors/transcript/locate.py: which Claude Code session file or Codex rollout is an agent's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agent_orchestrator.doors.transcript import locate

CLAUDE_ID = "fa1001ac-bd8a-4e99-b5c0-6042fe9e7806"
CODEX_ID = "019a2d7a-41c4-78b1-b7cc-a45d62a89cd5"


@pytest.mark.parametrize(("cwd", "slug"), [
    ("/home/dev/work/my.proj", "-home-dev-work-my-proj"),
    ("/home/dev/.config/x_y z", "-home-dev--config-x-y-z"),
    ("/srv/app", "-srv-app"),
])
def test_claude_slug(cwd: str, slug: str) -> None:
    assert locate.claude_slug(Path(cwd)) == slug


def _touch(path: Path, mtime: float, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime, mtime))
    return path


def test_find_claude_transcript(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cwd = Path("/home/dev/work/my.proj")
    folder = home / ".claude" / "projects" / "-home-dev-work-my-proj"
    assert locate.find_claude_transcript(home, cwd, None) is None  # nothing yet
    old = _touch(folder / f"{CLAUDE_ID}.jsonl", 1_000)
    new = _touch(folder / "3c2b1a00-0000-4000-8000-000000000000.jsonl", 2_000)
    _touch(folder / "agent-d2969342.jsonl", 3_000)  # a sub-agent's side chain: never picked
    assert locate.find_claude_transcript(home, cwd, CLAUDE_ID) == old
    assert locate.find_claude_transcript(home, cwd, None) == new
    assert locate.find_claude_transcript(home, cwd, "no-such-id") == new
    # The id's file under another spelling of the folder (older slug rule) is still found.
    elsewhere = _touch(home / ".claude" / "projects" / "-home-dev-work-my.proj" / "abc.jsonl",
                       500)
    assert locate.find_claude_transcript(home, cwd, "abc") == elsewhere
    assert locate.find_claude_transcript(home, Path("/elsewhere"), None) is None


def _rollout(home: Path, day: str, stamp: str, uuid: str, cwd: str, mtime: float) -> Path:
    meta = {"timestamp": f"{day.replace('/', '-')}T00:00:00Z", "type": "session_meta",
            "payload": {"id": uuid, "cwd": cwd, "cli_version": "0.77.0"}}
    path = home / ".codex" / "sessions" / day / f"rollout-{stamp}-{uuid}.jsonl"
    return _touch(path, mtime, json.dumps(meta) + "\n")


def test_find_codex_rollout(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert locate.find_codex_rollout(home, None, tmp_path) is None  # no ~/.codex
    work, other = tmp_path / "work", tmp_path / "other"
    work.mkdir()
    other.mkdir()
    first = _rollout(home, "2025/10/28", "2025-10-28T09-00-00",
                     "11111111-1111-4111-8111-111111111111", str(work), 1_000)
    second = _rollout(home, "2025/10/29", "2025-10-29T09-00-00", CODEX_ID, str(work), 2_000)
    _rollout(home, "2025/10/30", "2025-10-30T09-00-00",
             "33333333-3333-4333-8333-333333333333", str(other), 3_000)
    assert locate.find_codex_rollout(home, None, work) == second  # newest for the cwd
    assert locate.find_codex_rollout(home, "11111111-1111-4111-8111-111111111111",
                                         work) == first
    assert locate.find_codex_rollout(home, CODEX_ID, None) == second
    # An id found only in session_meta (file renamed) still matches.
    renamed = second.with_name("rollout-2025-10-29T09-00-00-renamed.jsonl")
    second.rename(renamed)
    assert locate.find_codex_rollout(home, CODEX_ID, None) == renamed
    assert locate.find_codex_rollout(home, None, tmp_path / "nowhere") is None


def test_compressed_rollouts_are_skipped_with_a_note(tmp_path: Path) -> None:
    home = tmp_path / "home"
    zst = (home / ".codex" / "sessions" / "2025/10/01"
           / f"rollout-2025-10-01T09-00-00-{CODEX_ID}.jsonl.zst")
    _touch(zst, 1_000, "(zstd bytes)")
    notes: list[str] = []
    assert locate.find_codex_rollout(home, CODEX_ID, tmp_path, notes) is None
    assert any(str(zst) in note and "compressed" in note for note in notes)


def test_locate_uses_the_backend(tmp_path: Path) -> None:
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    claude_file = _touch(home / ".claude" / "projects" / locate.claude_slug(work.resolve())
                         / f"{CLAUDE_ID}.jsonl", 1_000)
    codex_file = _rollout(home, "2025/10/29", "2025-10-29T09-00-00", CODEX_ID, str(work), 2_000)
    assert locate.locate(home, work.resolve(), CLAUDE_ID, "claude") == claude_file
    assert locate.locate(home, work.resolve(), None, "codex") == codex_file
    assert locate.locate(home, work.resolve(), None, None) == claude_file  # Claude first
    claude_file.unlink()
    assert locate.locate(home, work.resolve(), None, "claude") is None
    assert locate.locate(home, work.resolve(), None, "mytool") == codex_file
