"""Codex's rollout files read as turns.

The format is JSON Lines, undocumented by its vendor (the shape below is what the CLI writes,
checked against public parsers and the Codex source; see tests/fixtures/transcripts/). The
file is `~/.codex/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl` (locate.py): {timestamp,
type ("session_meta" | "response_item" | "event_msg" | "turn_context" | "compacted"),
payload}. A response_item payload is a "message" {role, content: [{type: input_text |
output_text, text}]}, "reasoning" {summary: [{type: summary_text, text}]}, "function_call"
{name, arguments (a JSON string), call_id}, "function_call_output" {call_id, output}, or
"custom_tool_call"/"custom_tool_call_output", "local_shell_call", "web_search_call". Most
event_msg records repeat a response_item (user_message, agent_message, agent_reasoning) and
are skipped. Rollouts from before the envelope (2025) hold the items bare, after a header
{id, timestamp, instructions}. Rollouts older than a week may be compressed to `.jsonl.zst`
(not readable here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from agent_orchestrator.doors.transcript.turns import (
    Transcript,
    Turn,
    blocks_text,
    compact_json,
    describe_input,
    fold,
    join_argv,
    loads,
    one_line,
    parse_lines,
    text_or_none,
)

FORMAT = "codex"
RECORD_TYPES = {"session_meta", "response_item", "event_msg", "turn_context", "compacted"}
ITEM_TYPES = {"message", "reasoning", "function_call", "function_call_output",
              "custom_tool_call", "custom_tool_call_output", "local_shell_call",
              "web_search_call"}
# User-role text that the CLI injects, not what a person typed.
_CONTEXT = ("<environment_context>", "<user_instructions>", "# AGENTS.md instructions",
            "<permissions instructions>", "<INSTRUCTIONS>", "<user_shell_command>")
_EXIT_RE = re.compile(r"^(?:Exit code:|Process exited with code) (-?\d+)", re.MULTILINE)


def recognises(rec: dict[str, Any]) -> bool:
    """Whether a record (one of a file's first lines) is a Codex one."""
    kind = rec.get("type")
    if kind in RECORD_TYPES and "payload" in rec:
        return True
    if kind is None and "id" in rec and "timestamp" in rec and "instructions" in rec:
        return True  # the bare session header of a pre-envelope rollout
    return kind in ITEM_TYPES and ("call_id" in rec or "role" in rec or "summary" in rec)


def session_meta(rec: dict[str, Any]) -> dict[str, Any] | None:
    """A rollout's header (id, cwd, ...) if `rec` is one, enveloped or bare."""
    if rec.get("type") == "session_meta" and isinstance(rec.get("payload"), dict):
        return rec["payload"]
    if "id" in rec and "instructions" in rec:  # pre-envelope header
        return rec
    return None


class CodexReader:
    """Turns of one rollout, record by record (tool outputs are named by earlier calls)."""

    def __init__(self) -> None:
        self.tools: dict[str, str] = {}  # call_id -> tool name

    def feed(self, rec: dict[str, Any]) -> list[Turn]:
        kind = rec.get("type")
        ts = text_or_none(rec.get("timestamp"))
        payload = rec.get("payload")
        if kind == "response_item" and isinstance(payload, dict):
            return self._item(payload, ts)
        if kind in ITEM_TYPES and "payload" not in rec:  # pre-envelope rollouts (2025)
            return self._item(rec, ts)
        if kind == "event_msg" and isinstance(payload, dict):
            event = payload.get("type")
            if event == "turn_aborted":
                return [Turn(ts, "system", f"turn aborted ({payload.get('reason') or '?'})")]
            if event in {"error", "stream_error"}:
                text = text_or_none(payload.get("message")) or "error"
                return [Turn(ts, "error", text, is_error=True)]
            if event == "context_compacted":
                return [Turn(ts, "system", "context compacted")]
            return []
        if kind == "compacted":
            return [Turn(ts, "system", "context compacted")]
        return []

    def _item(self, item: dict[str, Any], ts: str | None) -> list[Turn]:
        itype = item.get("type")
        if itype == "message":
            text = blocks_text(item.get("content")).strip()
            if not text:
                return []
            role = item.get("role")
            if role == "assistant":
                return [Turn(ts, "assistant", text)]
            if role == "user" and not text.startswith(_CONTEXT):
                return [Turn(ts, "user", text)]
            return [Turn(ts, "system", text)]
        if itype == "reasoning":
            text = blocks_text(item.get("summary")).strip() or \
                blocks_text(item.get("content")).strip()
            return [Turn(ts, "assistant", text, thinking=True)] if text else []
        if itype in {"function_call", "custom_tool_call"}:
            name = text_or_none(item.get("name")) or "tool"
            if text_or_none(item.get("call_id")):
                self.tools[item["call_id"]] = name
            if itype == "function_call":
                raw = text_or_none(item.get("arguments")) or ""
                args = loads(raw)
                shown = describe_input(args) if args is not None else one_line(raw)
            else:
                shown = _describe_patch(text_or_none(item.get("input")) or "")
            return [Turn(ts, "assistant", "", tool=name, tool_input=shown)]
        if itype == "local_shell_call":
            action = item.get("action")
            argv = action.get("command") if isinstance(action, dict) else None
            if text_or_none(item.get("call_id")):
                self.tools[item["call_id"]] = "shell"
            shown = one_line(join_argv(argv)) if isinstance(argv, list) else ""
            return [Turn(ts, "assistant", "", tool="shell", tool_input=shown)]
        if itype == "web_search_call":
            action = item.get("action")
            query = action.get("query") if isinstance(action, dict) else None
            return [Turn(ts, "assistant", "", tool="web_search",
                         tool_input=one_line(query) if isinstance(query, str) else "")]
        if itype in {"function_call_output", "custom_tool_call_output"}:
            text, failed = _output(item.get("output"))
            shown, folded = fold(text)
            tool = self.tools.get(text_or_none(item.get("call_id")) or "")
            return [Turn(ts, "tool", shown, tool=tool, result_lines=folded, is_error=failed)]
        return []


def _output(output: Any) -> tuple[str, bool]:
    """(text, failed) of a function_call_output, whichever of its shapes it has."""
    failed = False
    if isinstance(output, str):
        wrapped = loads(output) if output.lstrip().startswith("{") else None
        if wrapped is not None and isinstance(wrapped.get("output"), str):
            # {"output": "...", "metadata": {"exit_code": 1, "duration_seconds": 0.1}}
            meta = wrapped.get("metadata")
            code = meta.get("exit_code") if isinstance(meta, dict) else None
            return wrapped["output"], isinstance(code, int) and code != 0
        text = output
    elif isinstance(output, dict):  # {"content": "...", "success": false}
        text = text_or_none(output.get("content")) or text_or_none(output.get("output")) \
            or compact_json(output)
        failed = output.get("success") is False
    else:
        text = blocks_text(output)
    code = _EXIT_RE.search("\n".join(text.splitlines()[:6]))
    if code and int(code.group(1)) != 0:
        failed = True
    return text, failed


def _describe_patch(patch: str) -> str:
    files = [line[4:].strip() for line in patch.splitlines()
             if line.startswith("*** ") and "File:" in line]
    return one_line("; ".join(files) if files else patch)


def parse(lines: Iterable[str]) -> Transcript:
    """Turns of a Codex rollout file, in file order."""
    return parse_lines(CodexReader(), lines, FORMAT)
