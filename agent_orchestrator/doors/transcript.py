"""Read an agent's own conversation record as a list of turns (`agents transcript NAME`).

Two formats, both JSON Lines, neither documented by its vendor (shapes below are what the CLIs
write, checked against public parsers and the Codex source; see tests/fixtures/transcripts/):

Claude Code: `~/.claude/projects/<slug>/<session-id>.jsonl`, slug = the absolute working
directory with every character other than an ASCII letter or digit turned into "-" (so "/" and
"." both become "-"). One record a line: `type` ("user" | "assistant" | "system" | "summary" |
bookkeeping types such as "queue-operation", "file-history-snapshot"), `timestamp`,
`sessionId`, `cwd`, and for user/assistant a `message` {role, content}, content being a string
or a list of blocks: {type: "text", text}, {type: "thinking", thinking}, {type: "tool_use", id,
name, input}, {type: "tool_result", tool_use_id, content (str | blocks), is_error}. A failed
API call is an assistant record with `isApiErrorMessage: true` (plus `apiErrorStatus`,
`error`); retries are `system` records with `subtype: "api_error"`.

Codex: `~/.codex/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl`: {timestamp, type
("session_meta" | "response_item" | "event_msg" | "turn_context" | "compacted"), payload}.
A response_item payload is a "message" {role, content: [{type: input_text | output_text,
text}]}, "reasoning" {summary: [{type: summary_text, text}]}, "function_call" {name,
arguments (a JSON string), call_id}, "function_call_output" {call_id, output}, or
"custom_tool_call"/"custom_tool_call_output", "local_shell_call", "web_search_call". Most
event_msg records repeat a response_item (user_message, agent_message, agent_reasoning) and
are skipped. Rollouts older than a week may be compressed to `.jsonl.zst` (not readable here).

Everything here is tolerant: an unknown record type is skipped, a line that is not a JSON
object is skipped and counted (`Transcript.skipped`), and nothing raises on odd content.
Standard library only; no output.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FOLD_LINES = 8  # a tool result longer than this keeps only its first lines
FOLD_CHARS = 2000  # ... and at most this many characters
INPUT_CHARS = 200  # a tool call's input, shown on one line
SNIFF_LINES = 20  # lines detect_format() looks at

_CLAUDE_TYPES = {"user", "assistant", "system", "summary", "queue-operation",
                 "file-history-snapshot", "attachment", "progress", "custom-title", "ai-title"}
_CODEX_TYPES = {"session_meta", "response_item", "event_msg", "turn_context", "compacted"}
_CODEX_ITEMS = {"message", "reasoning", "function_call", "function_call_output",
                "custom_tool_call", "custom_tool_call_output", "local_shell_call",
                "web_search_call"}
# User-role text that the CLI injects, not what a person typed.
_CODEX_CONTEXT = ("<environment_context>", "<user_instructions>", "# AGENTS.md instructions",
                  "<permissions instructions>", "<INSTRUCTIONS>", "<user_shell_command>")
_EXIT_RE = re.compile(r"^(?:Exit code:|Process exited with code) (-?\d+)", re.MULTILINE)
# The field that best says what a Claude tool call does, by tool input key.
_SALIENT = ("command", "cmd", "file_path", "notebook_path", "path", "pattern", "url", "query",
            "description", "prompt", "skill")


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


# ---------------------------------------------------------------------------- helpers


def _one_line(text: str, limit: int = INPUT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _fold(text: str) -> tuple[str, int]:
    """(shown text, total line count if folded else 0)."""
    text = text.rstrip("\n")
    lines = text.splitlines()
    if len(lines) <= FOLD_LINES and len(text) <= FOLD_CHARS:
        return text, 0
    shown = "\n".join(lines[:FOLD_LINES])
    if len(shown) > FOLD_CHARS:
        shown = shown[:FOLD_CHARS - 1] + "…"
    return shown, max(len(lines), 1)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _compact_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return str(value)


def _loads(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _describe_input(value: Any) -> str:
    """A tool call's input as one short line: its most telling field, else compact JSON."""
    if isinstance(value, dict):
        for key in _SALIENT:
            field = value.get(key)
            if isinstance(field, str) and field.strip():
                return _one_line(field)
            if key == "command" and isinstance(field, list):
                return _one_line(_join_argv(field))
        return _one_line(_compact_json(value))
    if isinstance(value, str):
        return _one_line(value)
    return _one_line(_compact_json(value))


def _join_argv(argv: list[Any]) -> str:
    words = [str(w) for w in argv]
    # `bash -lc "script"` reads best as the script itself.
    if len(words) == 3 and os.path.basename(words[0]) in {"bash", "sh", "zsh"} \
            and words[1] in {"-lc", "-c"}:
        return words[2]
    return " ".join(w if w and not re.search(r"\s|['\"]", w) else json.dumps(w) for w in words)


# ---------------------------------------------------------------------------- Claude Code

_COMMAND_RE = re.compile(r"<command-name>(.*?)</command-name>", re.DOTALL)
_ARGS_RE = re.compile(r"<command-args>(.*?)</command-args>", re.DOTALL)
_STDOUT_RE = re.compile(r"<local-command-(?:stdout|stderr)>(.*?)</local-command-(?:stdout|stderr)>",
                        re.DOTALL)


class _ClaudeParser:
    def __init__(self) -> None:
        self.tools: dict[str, str] = {}  # tool_use id -> tool name

    def feed(self, rec: dict[str, Any]) -> list[Turn]:
        kind = rec.get("type")
        ts = _str(rec.get("timestamp"))
        if kind == "assistant":
            return self._assistant(rec, ts)
        if kind == "user":
            return self._user(rec, ts)
        if kind == "system":
            return self._system(rec, ts)
        if kind == "summary" and _str(rec.get("summary")):
            return [Turn(ts, "system", f"summary: {rec['summary']}")]
        return []

    def _assistant(self, rec: dict[str, Any], ts: str | None) -> list[Turn]:
        message = rec.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if rec.get("isApiErrorMessage"):
            text = _blocks_text(content).strip()
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
            if btype == "text" and (_str(block.get("text")) or "").strip():
                turns.append(Turn(ts, "assistant", block["text"].strip()))
            elif btype == "thinking" and (_str(block.get("thinking")) or "").strip():
                turns.append(Turn(ts, "assistant", block["thinking"].strip(), thinking=True))
            elif btype in {"tool_use", "server_tool_use"}:
                name = _str(block.get("name")) or "tool"
                if _str(block.get("id")):
                    self.tools[block["id"]] = name
                turns.append(Turn(ts, "assistant", "", tool=name,
                                  tool_input=_describe_input(block.get("input"))))
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
            if btype == "text" and _str(block.get("text")):
                pending.append(block["text"])
            elif btype == "image":
                pending.append("[image]")
            elif btype == "tool_result":
                flush()
                text, folded = _fold(_blocks_text(block.get("content")))
                tool_id = _str(block.get("tool_use_id"))
                turns.append(Turn(ts, "tool", text, tool=self.tools.get(tool_id or ""),
                                  result_lines=folded, is_error=block.get("is_error") is True))
        flush()
        return turns

    def _system(self, rec: dict[str, Any], ts: str | None) -> list[Turn]:
        subtype = rec.get("subtype")
        content = _str(rec.get("content")) or ""
        if subtype == "api_error" or rec.get("level") == "error":
            error = rec.get("error")
            detail = ""
            if isinstance(error, dict):
                detail = _str(error.get("message")) or _str(error.get("formatted")) or (
                    f"status {error['status']}" if error.get("status") else "")
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


def _blocks_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict):
            if _str(block.get("text")) is not None:
                parts.append(block["text"])
            elif block.get("type") in {"image", "input_image"}:
                parts.append("[image]")
    return "\n".join(parts)


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


def parse_claude(lines: Iterable[str]) -> Transcript:
    """Turns of a Claude Code session file, in file order."""
    return _run(_ClaudeParser(), lines, "claude")


# ---------------------------------------------------------------------------- Codex


class _CodexParser:
    def __init__(self) -> None:
        self.tools: dict[str, str] = {}  # call_id -> tool name

    def feed(self, rec: dict[str, Any]) -> list[Turn]:
        kind = rec.get("type")
        ts = _str(rec.get("timestamp"))
        payload = rec.get("payload")
        if kind == "response_item" and isinstance(payload, dict):
            return self._item(payload, ts)
        if kind in _CODEX_ITEMS and "payload" not in rec:  # pre-envelope rollouts (2025)
            return self._item(rec, ts)
        if kind == "event_msg" and isinstance(payload, dict):
            event = payload.get("type")
            if event == "turn_aborted":
                return [Turn(ts, "system", f"turn aborted ({payload.get('reason') or '?'})")]
            if event in {"error", "stream_error"}:
                text = _str(payload.get("message")) or "error"
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
            text = _blocks_text(item.get("content")).strip()
            if not text:
                return []
            role = item.get("role")
            if role == "assistant":
                return [Turn(ts, "assistant", text)]
            if role == "user" and not text.startswith(_CODEX_CONTEXT):
                return [Turn(ts, "user", text)]
            return [Turn(ts, "system", text)]
        if itype == "reasoning":
            text = _blocks_text(item.get("summary")).strip() or \
                _blocks_text(item.get("content")).strip()
            return [Turn(ts, "assistant", text, thinking=True)] if text else []
        if itype in {"function_call", "custom_tool_call"}:
            name = _str(item.get("name")) or "tool"
            if _str(item.get("call_id")):
                self.tools[item["call_id"]] = name
            if itype == "function_call":
                raw = _str(item.get("arguments")) or ""
                args = _loads(raw)
                shown = _describe_input(args) if args is not None else _one_line(raw)
            else:
                shown = _describe_patch(_str(item.get("input")) or "")
            return [Turn(ts, "assistant", "", tool=name, tool_input=shown)]
        if itype == "local_shell_call":
            action = item.get("action")
            argv = action.get("command") if isinstance(action, dict) else None
            if _str(item.get("call_id")):
                self.tools[item["call_id"]] = "shell"
            shown = _one_line(_join_argv(argv)) if isinstance(argv, list) else ""
            return [Turn(ts, "assistant", "", tool="shell", tool_input=shown)]
        if itype == "web_search_call":
            action = item.get("action")
            query = action.get("query") if isinstance(action, dict) else None
            return [Turn(ts, "assistant", "", tool="web_search",
                         tool_input=_one_line(query) if isinstance(query, str) else "")]
        if itype in {"function_call_output", "custom_tool_call_output"}:
            text, failed = _codex_output(item.get("output"))
            shown, folded = _fold(text)
            tool = self.tools.get(_str(item.get("call_id")) or "")
            return [Turn(ts, "tool", shown, tool=tool, result_lines=folded, is_error=failed)]
        return []


def _codex_output(output: Any) -> tuple[str, bool]:
    """(text, failed) of a function_call_output, whichever of its shapes it has."""
    failed = False
    if isinstance(output, str):
        wrapped = _loads(output) if output.lstrip().startswith("{") else None
        if wrapped is not None and isinstance(wrapped.get("output"), str):
            # {"output": "...", "metadata": {"exit_code": 1, "duration_seconds": 0.1}}
            meta = wrapped.get("metadata")
            code = meta.get("exit_code") if isinstance(meta, dict) else None
            return wrapped["output"], isinstance(code, int) and code != 0
        text = output
    elif isinstance(output, dict):  # {"content": "...", "success": false}
        text = _str(output.get("content")) or _str(output.get("output")) or _compact_json(output)
        failed = output.get("success") is False
    else:
        text = _blocks_text(output)
    code = _EXIT_RE.search("\n".join(text.splitlines()[:6]))
    if code and int(code.group(1)) != 0:
        failed = True
    return text, failed


def _describe_patch(patch: str) -> str:
    files = [line[4:].strip() for line in patch.splitlines()
             if line.startswith("*** ") and "File:" in line]
    return _one_line("; ".join(files) if files else patch)


def parse_codex(lines: Iterable[str]) -> Transcript:
    """Turns of a Codex rollout file, in file order."""
    return _run(_CodexParser(), lines, "codex")


# ---------------------------------------------------------------------------- any file

_Parser = _ClaudeParser | _CodexParser


def _run(parser: _Parser, lines: Iterable[str], fmt: str) -> Transcript:
    out = Transcript(fmt=fmt)
    for line in lines:
        if not line.strip():
            continue
        rec = _loads(line)
        if rec is None:
            out.skipped += 1
            continue
        try:
            out.extend(parser.feed(rec))
        except (TypeError, ValueError, AttributeError, KeyError):  # a shape nobody foresaw
            out.skipped += 1
    return out


def detect_format(first_lines: Iterable[str]) -> str | None:
    """The format of a file from its first lines: "claude", "codex", or None."""
    for count, line in enumerate(first_lines):
        if count >= SNIFF_LINES:
            break
        rec = _loads(line) if line.strip() else None
        if rec is None:
            continue
        kind = rec.get("type")
        if kind in _CODEX_TYPES and "payload" in rec:
            return "codex"
        if kind in _CLAUDE_TYPES and ("sessionId" in rec or "message" in rec or "uuid" in rec
                                      or "leafUuid" in rec or "messageId" in rec):
            return "claude"
        if kind is None and "id" in rec and "timestamp" in rec and "instructions" in rec:
            return "codex"  # the bare session header of a pre-envelope rollout
        if kind in _CODEX_ITEMS and ("call_id" in rec or "role" in rec or "summary" in rec):
            return "codex"
    return None


def _parser_for(fmt: str | None) -> _Parser:
    return _CodexParser() if fmt == "codex" else _ClaudeParser()


def parse(path: Path) -> Transcript:
    """Read a transcript of either format. An unrecognisable file gives no turns."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = handle.readlines()
    fmt = detect_format(lines)
    if fmt is None:
        return Transcript(skipped=sum(1 for line in lines if line.strip()))
    return _run(_parser_for(fmt), lines, fmt)


def follow(path: Path, poll: float = 0.5, stop: Callable[[], bool] | None = None,
           from_start: bool = False) -> Iterator[Turn]:
    """Yield the turns of records appended to `path` from now on (and, with `from_start`,
    those already there first), checking every `poll` seconds until `stop()` is true.

    Only whole lines are read: a record being written is picked up once its newline lands.
    A file that shrinks (rewritten) is read again from the top.
    """
    position = 0
    buffer = b""
    fmt: str | None = None
    parser: _Parser | None = None
    head: list[str] = []  # lines seen before the format was known
    primed = from_start

    def handle(line: str) -> list[Turn]:
        nonlocal fmt, parser
        if parser is None:
            head.append(line)
            fmt = detect_format(head)
            if fmt is None and len(head) < SNIFF_LINES:
                return []
            parser = _parser_for(fmt)
            lines, head[:] = list(head), []
            return [t for held in lines for t in _feed(parser, held)]
        return _feed(parser, line)

    while True:
        try:
            size = os.path.getsize(path)
        except OSError:
            size = -1
        if 0 <= size < position:  # truncated or replaced
            position, buffer, parser, fmt, head[:] = 0, b"", None, None, []
        if size > position:
            with open(path, "rb") as handle_:
                handle_.seek(position)
                chunk = handle_.read(size - position)
            position += len(chunk)
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            turns = [t for raw in complete
                     for t in handle(raw.decode("utf-8", errors="replace"))]
            if primed:
                yield from turns
        primed = True  # what was there at the start has been read
        if stop is not None and stop():
            return
        time.sleep(poll)


def _feed(parser: _Parser, line: str) -> list[Turn]:
    rec = _loads(line) if line.strip() else None
    if rec is None:
        return []
    try:
        return parser.feed(rec)
    except (TypeError, ValueError, AttributeError, KeyError):
        return []


# ---------------------------------------------------------------------------- finding files


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
                rec = _loads(handle.readline())
                if rec is None:
                    continue
                if rec.get("type") == "session_meta" and isinstance(rec.get("payload"), dict):
                    return rec["payload"]
                if "id" in rec and "instructions" in rec:  # pre-envelope header
                    return rec
    except OSError:
        pass
    return {}


def _same_dir(a: str | Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == b.resolve()
    except (OSError, RuntimeError, ValueError):
        return os.path.normpath(str(a)) == os.path.normpath(str(b))


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


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


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
