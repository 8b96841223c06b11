"""A conversation as turns: the Turn model, and the shortening every record reader shares.

Readers (claude.py, codex.py) turn one JSON record at a time into turns; `parse_lines` runs
one over lines of text, tolerant of anything: a line that is not a JSON object, or a record
of a shape nobody foresaw, is skipped and counted (`Transcript.skipped`), never raised.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

FOLD_LINES = 8  # a tool result longer than this keeps only its first lines
FOLD_CHARS = 2000  # ... and at most this many characters
INPUT_CHARS = 200  # a tool call's input, shown on one line

# The field that best says what a tool call does, by tool input key.
_SALIENT = ("command", "cmd", "file_path", "notebook_path", "path", "pattern", "url", "query",
            "description", "prompt", "skill")
# What a reader may meet in a record whose shape it did not foresee.
SHAPE_ERRORS = (TypeError, ValueError, AttributeError, KeyError)


@dataclass(frozen=True)
class Turn:
    """One step of a conversation.

    role "assistant" with `tool` set is a tool call (`tool_input`: its input on one line);
    role "tool" is that call's result (`text`; `result_lines` > 0 when the text was folded:
    the full result's line count); role "error" is an API failure; role "system" a note from
    the CLI itself (compaction, injected context, an interruption). `thinking` marks the
    model's reasoning (a Claude thinking block, a Codex reasoning summary).
    """

    time: str | None
    role: str
    text: str
    tool: str | None = None
    tool_input: str | None = None
    result_lines: int = 0
    is_error: bool = False
    thinking: bool = False


class Transcript(list[Turn]):
    """The turns of a file, how many of its lines could not be read (`skipped`), and its
    format ("claude", "codex", or None when unrecognised)."""

    def __init__(self, turns: Iterable[Turn] = (), skipped: int = 0,
                 fmt: str | None = None) -> None:
        super().__init__(turns)
        self.skipped = skipped
        self.format = fmt


class Reader(Protocol):
    """One conversation's reader: remembers what later records refer back to (tool ids)."""

    def feed(self, rec: dict[str, Any]) -> list[Turn]: ...


def parse_lines(reader: Reader, lines: Iterable[str], fmt: str) -> Transcript:
    """The turns of `lines` (JSON Lines of format `fmt`) as `reader` sees them, in order."""
    out = Transcript(fmt=fmt)
    for line in lines:
        if not line.strip():
            continue
        rec = loads(line)
        if rec is None:
            out.skipped += 1
            continue
        try:
            out.extend(reader.feed(rec))
        except SHAPE_ERRORS:
            out.skipped += 1
    return out


def feed_line(reader: Reader, line: str) -> list[Turn]:
    """The turns of one line; none for a blank, unreadable or unforeseen one."""
    rec = loads(line) if line.strip() else None
    if rec is None:
        return []
    try:
        return reader.feed(rec)
    except SHAPE_ERRORS:
        return []


def loads(line: str) -> dict[str, Any] | None:
    """A line's JSON object; None when it is not one."""
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def one_line(text: str, limit: int = INPUT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def fold(text: str) -> tuple[str, int]:
    """(shown text, total line count if folded else 0)."""
    text = text.rstrip("\n")
    lines = text.splitlines()
    if len(lines) <= FOLD_LINES and len(text) <= FOLD_CHARS:
        return text, 0
    shown = "\n".join(lines[:FOLD_LINES])
    if len(shown) > FOLD_CHARS:
        shown = shown[:FOLD_CHARS - 1] + "…"
    return shown, max(len(lines), 1)


def compact_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return str(value)


def describe_input(value: Any) -> str:
    """A tool call's input as one short line: its most telling field, else compact JSON."""
    if isinstance(value, dict):
        for key in _SALIENT:
            field = value.get(key)
            if isinstance(field, str) and field.strip():
                return one_line(field)
            if key == "command" and isinstance(field, list):
                return one_line(join_argv(field))
        return one_line(compact_json(value))
    if isinstance(value, str):
        return one_line(value)
    return one_line(compact_json(value))


def join_argv(argv: list[Any]) -> str:
    """A command's argv as one readable line."""
    words = [str(w) for w in argv]
    # `bash -lc "script"` reads best as the script itself.
    if len(words) == 3 and os.path.basename(words[0]) in {"bash", "sh", "zsh"} \
            and words[1] in {"-lc", "-c"}:
        return words[2]
    return " ".join(w if w and not re.search(r"\s|['\"]", w) else json.dumps(w) for w in words)


def blocks_text(content: Any) -> str:
    """The text of a message's content: a string, or a list of text (and image) blocks."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict):
            if text_or_none(block.get("text")) is not None:
                parts.append(block["text"])
            elif block.get("type") in {"image", "input_image"}:
                parts.append("[image]")
    return "\n".join(parts)
