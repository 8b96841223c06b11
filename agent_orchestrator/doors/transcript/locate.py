"""Find an agent's conversation record: its Claude Code session file or its Codex rollout.

Claude Code keeps `~/.claude/projects/<slug>/<session-id>.jsonl`, slug = the absolute working
directory with every character other than an ASCII letter or digit turned into "-" (so "/"
and "." both become "-"). Codex keeps `~/.codex/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl`
and names the session's id and folder in its first record (`session_meta`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent_orchestrator.doors.transcript import codex
from agent_orchestrator.doors.transcript.turns import loads


def claude_slug(cwd: Path) -> str:
    """`~/.claude/projects/` folder name for a working directory: every character but an ASCII
    letter or digit becomes "-" (`/home/dev/work/my.proj` → `-home-dev-work-my-proj`)."""
    return re.sub(r"[^A-Za-z0-9]", "-", str(cwd))


def _newest(paths: Iterable[Path]) -> Path | None:
    best: tuple[float, str, Path] | None = None
    for path in paths:
        try:
            key = (path.stat().st_mtime, path.name, path)
        except OSError:
            continue
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best else None


def find_claude_transcript(home: Path, cwd: Path, session_id: str | None) -> Path | None:
    """The session file named by `session_id`, else the newest session of `cwd`'s project.

    The id is also looked for in every project folder: the slug rule has changed between
    Claude Code versions, and very long paths are shortened.
    """
    projects = home / ".claude" / "projects"
    folder = projects / claude_slug(cwd)
    if session_id:
        exact = folder / f"{session_id}.jsonl"
        if exact.is_file():
            return exact
        found = _newest(p for p in projects.glob(f"*/{session_id}.jsonl") if p.is_file())
        if found is not None:
            return found
    if not folder.is_dir():
        return None
    # `agent-*.jsonl` are sub-agent side chains, not the session.
    return _newest(p for p in folder.glob("*.jsonl")
                   if p.is_file() and not p.name.startswith("agent-"))


def _rollout_meta(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for _ in range(5):
                rec = loads(handle.readline())
                meta = codex.session_meta(rec) if rec is not None else None
                if meta is not None:
                    return meta
    except OSError:
        pass
    return {}


def _same_dir(a: str | Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == b.resolve()
    except (OSError, RuntimeError, ValueError):
        return os.path.normpath(str(a)) == os.path.normpath(str(b))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def find_codex_rollout(home: Path, session_id: str | None, cwd: Path | None,
                       notes: list[str] | None = None) -> Path | None:
    """The newest rollout whose name or session_meta id is `session_id`, else the newest
    whose session_meta cwd is `cwd`. Compressed `.jsonl.zst` rollouts are not read; a note
    saying so is appended to `notes`."""
    sessions = home / ".codex" / "sessions"
    if not sessions.is_dir():
        return None
    rollouts = sorted(sessions.rglob("rollout-*.jsonl"),
                      key=lambda p: (_mtime(p), p.name), reverse=True)
    compressed = list(sessions.rglob("rollout-*.jsonl.zst"))
    if session_id:
        for path in rollouts:
            if session_id in path.name or _rollout_meta(path).get("id") == session_id:
                return path
        for path in compressed:
            if session_id in path.name and notes is not None:
                notes.append(f"{path} is compressed (.jsonl.zst); "
                             f"`zstd -d` it to read it")
    if cwd is not None:
        for path in rollouts:
            meta_cwd = _rollout_meta(path).get("cwd")
            if isinstance(meta_cwd, str) and _same_dir(meta_cwd, cwd):
                return path
        if compressed and notes is not None:
            notes.append(f"{len(compressed)} compressed rollout(s) (.jsonl.zst) "
                         f"under {sessions} were not searched")
    return None


def locate(home: Path, cwd: Path, session_id: str | None = None, backend: str | None = None,
           notes: list[str] | None = None) -> Path | None:
    """An agent's transcript: Claude Code's or Codex's by `backend` (a backend name or
    binary, e.g. "claude", "codex"), else whichever is found, Claude Code first."""
    kind = (backend or "").lower()
    if "codex" not in kind:
        found = find_claude_transcript(home, cwd, session_id)
        if found is not None or "claude" in kind:
            return found
    return find_codex_rollout(home, session_id, cwd, notes)
