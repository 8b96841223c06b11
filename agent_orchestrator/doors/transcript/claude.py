"""Claude Code's session files read as turns.

The format is JSON Lines, undocumented by its vendor (the shape below is what the CLI writes,
checked against public parsers; see tests/fixtures/transcripts/). The file is
`~/.claude/projects/<slug>/<session-id>.jsonl` (locate.py). One record a line: `type` ("user"
| "assistant" | "system" | "summary" | bookkeeping types such as "queue-operation",
"file-history-snapshot"), `timestamp`, `sessionId`, `cwd`, and for user/assistant a `message`
{role, content}, content being a string or a list of blocks: {type: "text", text}, {type:
"thinking", thinking}, {type: "tool_use", id, name, input}, {type: "tool_result", tool_use_id,
content (str | blocks), is_error}. A failed API call is an assistant record with
`isApiErrorMessage: true` (plus `apiErrorStatus`, `error`); retries are `system` records with
`subtype: "api_error"`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from agent_orchestrator.doors.transcript.turns import (
    Transcript,
    Turn,
    blocks_text,
    describe_input,
    fold,
    parse_lines,
    text_or_none,
)

FORMAT = "claude"
RECORD_TYPES = {"user", "assistant", "system", "summary", "queue-operation",
                "file-history-snapshot", "attachment", "progress", "custom-title", "ai-title"}
_COMMAND_RE = re.compile(r"<command-name>(.*?)</command-name>", re.DOTALL)
_ARGS_RE = re.compile(r"<command-args>(.*?)</command-args>", re.DOTALL)
_STDOUT_RE = re.compile(r"<local-command-(?:stdout|stderr)>(.*?)</local-command-(?:stdout|stderr)>",
                        re.DOTALL)


def recognises(rec: dict[str, Any]) -> bool:
    """Whether a record (one of a file's first lines) is a Claude Code one."""
    return rec.get("type") in RECORD_TYPES and (
        "sessionId" in rec or "message" in rec or "uuid" in rec or "leafUuid" in rec
        or "messageId" in rec)


class ClaudeReader:
    """Turns of one session, record by record (tool results are named by earlier calls)."""

    def __init__(self) -> None:
        self.tools: dict[str, str] = {}  # tool_use id -> tool name

    def feed(self, rec: dict[str, Any]) -> list[Turn]:
        kind = rec.get("type")
        ts = text_or_none(rec.get("timestamp"))
        if kind == "assistant":
            return self._assistant(rec, ts)
        if kind == "user":
            return self._user(rec, ts)
        if kind == "system":
            return _system(rec, ts)
        if kind == "summary" and text_or_none(rec.get("summary")):
            return [Turn(ts, "system", f"summary: {rec['summary']}")]
        return []

    def _assistant(self, rec: dict[str, Any], ts: str | None) -> list[Turn]:
        message = rec.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if rec.get("isApiErrorMessage"):
            text = blocks_text(content).strip()
            if not text:
                status = rec.get("apiErrorStatus")
                text = f"API Error{f': {status}' if status else ''} {rec.get('error') or ''}"
            return [Turn(ts, "error", text.strip(), is_error=True)]
        if isinstance(content, str):
            return [Turn(ts, "assistant", content.strip())] if content.strip() else []
        turns: list[Turn] = []
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            btype = block.get("type")
            if btype == "text" and (text_or_none(block.get("text")) or "").strip():
                turns.append(Turn(ts, "assistant", block["text"].strip()))
            elif btype == "thinking" and (text_or_none(block.get("thinking")) or "").strip():
                turns.append(Turn(ts, "assistant", block["thinking"].strip(), thinking=True))
            elif btype in {"tool_use", "server_tool_use"}:
                name = text_or_none(block.get("name")) or "tool"
                if text_or_none(block.get("id")):
                    self.tools[block["id"]] = name
                turns.append(Turn(ts, "assistant", "", tool=name,
                                  tool_input=describe_input(block.get("input"))))
        return turns

    def _user(self, rec: dict[str, Any], ts: str | None) -> list[Turn]:
        message = rec.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        injected = bool(rec.get("isMeta") or rec.get("isCompactSummary"))
        if isinstance(content, str):
            return _user_text(content, ts, injected)
        turns: list[Turn] = []
        pending: list[str] = []

        def flush() -> None:
            if pending:
                turns.extend(_user_text("\n".join(pending), ts, injected))
                pending.clear()

        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            btype = block.get("type")
            if btype == "text" and text_or_none(block.get("text")):
                pending.append(block["text"])
            elif btype == "image":
                pending.append("[image]")
            elif btype == "tool_result":
                flush()
                text, folded = fold(blocks_text(block.get("content")))
                tool_id = text_or_none(block.get("tool_use_id"))
                turns.append(Turn(ts, "tool", text, tool=self.tools.get(tool_id or ""),
                                  result_lines=folded, is_error=block.get("is_error") is True))
        flush()
        return turns


def _system(rec: dict[str, Any], ts: str | None) -> list[Turn]:
    subtype = rec.get("subtype")
    content = text_or_none(rec.get("content")) or ""
    if subtype == "api_error" or rec.get("level") == "error":
        error = rec.get("error")
        detail = ""
        if isinstance(error, dict):
            detail = (text_or_none(error.get("message")) or text_or_none(error.get("formatted"))
                      or (f"status {error['status']}" if error.get("status") else ""))
        elif isinstance(error, str):
            detail = error
        text = " · ".join(part for part in (content, detail) if part) or "API error"
        attempt, most = rec.get("retryAttempt"), rec.get("maxRetries")
        if attempt:
            text += f" (retry {attempt}{f'/{most}' if most else ''})"
        return [Turn(ts, "error", text, is_error=True)]
    if subtype == "compact_boundary":
        return [Turn(ts, "system", content or "Conversation compacted")]
    return [Turn(ts, "system", content.strip())] if content.strip() else []


def _user_text(text: str, ts: str | None, injected: bool) -> list[Turn]:
    text = text.strip()
    if not text:
        return []
    command = _COMMAND_RE.search(text)
    if command:  # a slash command the user typed: `<command-name>/clear</command-name>...`
        args = _ARGS_RE.search(text)
        said = " ".join(p for p in (command.group(1).strip(),
                                    args.group(1).strip() if args else "") if p)
        return [Turn(ts, "user", said)]
    stdout = _STDOUT_RE.search(text)
    if stdout:
        return [Turn(ts, "system", stdout.group(1).strip())] if stdout.group(1).strip() else []
    if injected or text.startswith("[Request interrupted by user"):
        return [Turn(ts, "system", text)]
    return [Turn(ts, "user", text)]


def parse(lines: Iterable[str]) -> Transcript:
    """Turns of a Claude Code session file, in file order."""
    return parse_lines(ClaudeReader(), lines, FORMAT)
