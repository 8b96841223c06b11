"""What an agent CLI's own signals say about it: hook and notify payloads → a state.

Claude Code runs hooks with a JSON document on stdin (`hook_event_name` plus the event's
fields); Codex runs its `notify` program with one JSON argument. Either is turned here into
a `Signal`: the state it tells (active, idle, dialog, exited), whether a turn just finished,
and token counts where the payload carries them. Pure: doors/signals.py stores the result,
the watchdog reads it back as an observation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_orchestrator.config.model import SIGNAL_SOURCES

SOURCES = SIGNAL_SOURCES
# How status and explain name where a state came from, per source of signals.
SOURCE_NAMES = {"claude": "hook", "codex": "notify", "gemini": "hook"}
STATES = ("active", "idle", "dialog", "exited")

# Claude Code hook events → the state the agent is in once the hook ran.
_CLAUDE_STATES = {
    "UserPromptSubmit": "active",
    "PreToolUse": "active",
    "PostToolUse": "active",
    "SubagentStop": "active",  # a sub-agent ended; the main turn goes on
    "PreCompact": "active",
    "PermissionRequest": "dialog",  # newer builds: a permission dialog is shown
    "Stop": "idle",  # the turn finished
    "StopFailure": "idle",  # the turn ended on an API error (its text: `detail`)
    "SessionStart": "idle",
    "SessionEnd": "exited",
}
# Gemini CLI 0.61 hook events (tests/realcli/SIGNALS.md) → the state once the hook ran.
_GEMINI_STATES = {
    "BeforeAgent": "active",
    "BeforeTool": "active",
    "AfterTool": "active",
    "AfterAgent": "idle",  # the turn finished
    "SessionStart": "idle",
    "SessionEnd": "exited",
}
# Notification hook: which `notification_type` (newer builds) or message (older builds)
# means what. A permission request is a dialog; the idle reminder is plain idle.
_DIALOG_TYPES = ("permission_prompt", "elicitation_dialog")
_IDLE_TYPES = ("idle_prompt",)


@dataclass(frozen=True)
class Signal:
    """One signal. `state` is None when the event tells nothing about the state (it is
    still recorded: the signal source is alive). `turn_finished` marks the end of a turn."""

    source: str
    event: str
    state: str | None
    turn_finished: bool = False
    detail: str = ""
    session_id: str | None = None
    transcript: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    error: str | None = None  # the turn ended on this API error (Claude's StopFailure)


def interpret(source: str, payload: Mapping[str, Any]) -> Signal:
    """The signal a CLI's payload carries. Raises ValueError for an unknown source or a
    payload that is not what that CLI sends (the hook entry point reports it and exits 0:
    a broken signal must never break the agent's own turn)."""
    if source == "claude":
        return _claude(payload)
    if source == "codex":
        return _codex(payload)
    if source == "gemini":
        return _gemini(payload)
    raise ValueError(f"unknown signal source {source!r} (known: {', '.join(SOURCES)})")


def _text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) else None


def _claude(payload: Mapping[str, Any]) -> Signal:
    event = _text(payload, "hook_event_name")
    if not event:
        raise ValueError("a Claude Code hook payload has a hook_event_name")
    common = {"source": "claude", "event": event,
              "session_id": _text(payload, "session_id"),
              "transcript": _text(payload, "transcript_path")}
    if event == "Notification":
        kind = _text(payload, "notification_type") or ""
        message = _text(payload, "message") or ""
        if kind in _DIALOG_TYPES or (not kind and "permission" in message.lower()):
            return Signal(state="dialog", detail=message, **common)
        if kind in _IDLE_TYPES or (not kind and "waiting for your input" in message.lower()):
            return Signal(state="idle", detail=message, **common)
        return Signal(state=None, detail=message, **common)
    if event == "StopFailure":  # `error` (rate_limit, server_error...) and the banner text
        return Signal(state="idle", turn_finished=True, error=_text(payload, "error") or "error",
                      detail=_text(payload, "last_assistant_message") or "", **common)
    detail = _text(payload, "tool_name") or ""
    return Signal(state=_CLAUDE_STATES.get(event), turn_finished=event == "Stop",
                  detail=detail, **common)


def _gemini(payload: Mapping[str, Any]) -> Signal:
    event = _text(payload, "hook_event_name")
    if not event:
        raise ValueError("a Gemini CLI hook payload has a hook_event_name")
    common = {"source": "gemini", "event": event,
              "session_id": _text(payload, "session_id"),
              "transcript": None}  # its chat file is not Claude's transcript format
    if event == "Notification":
        message = _text(payload, "message") or ""
        dialog = _text(payload, "notification_type") == "ToolPermission"
        return Signal(state="dialog" if dialog else None, detail=message, **common)
    return Signal(state=_GEMINI_STATES.get(event), turn_finished=event == "AfterAgent",
                  detail=_text(payload, "tool_name") or "", **common)


# Codex runs its notify program for its title generator too: a thread of its own on the
# first prompt, seconds before the agent's own turn ends (tests/realcli/SIGNALS.md: asked
# "Generate a concise, single-line task title ...", it answers `{"title": "..."}`). That is
# not the agent's turn: taken as one it says "finished" (and idle: queued text would be
# typed) while the agent works. Told by its question or by its answer.
_CODEX_TITLE_ASK = re.compile(r"Generate\b[^.\n]{0,80}\btitle\b", re.IGNORECASE)


def _codex_title_thread(payload: Mapping[str, Any], last: str) -> bool:
    asked = payload.get("input-messages")
    if isinstance(asked, list) and len(asked) == 1 and isinstance(asked[0], str) \
            and _CODEX_TITLE_ASK.match(asked[0].lstrip()):
        return True
    try:
        answer = json.loads(last)
    except ValueError:
        return False
    return isinstance(answer, dict) and list(answer) == ["title"]


def _codex(payload: Mapping[str, Any]) -> Signal:
    kind = _text(payload, "type")
    if not kind:
        raise ValueError("a Codex notify payload has a type")
    last = _text(payload, "last-assistant-message") or ""
    if kind == "agent-turn-complete" and _codex_title_thread(payload, last):
        return Signal(source="codex", event=kind, state=None, detail="its title generator")
    finished = kind == "agent-turn-complete"
    return Signal(source="codex", event=kind, state="idle" if finished else None,
                  turn_finished=finished, detail=last[:200],
                  session_id=_text(payload, "thread-id") or _text(payload, "turn-id"))


@dataclass(frozen=True)
class SignalRecord:
    """A stored signal as the watchdog reads it back: the latest signal, when it was
    written (epoch), and how many turns have finished so far (a counter, so two turns that
    end between two looks are still two `turn-finished` events)."""

    signal: Signal
    wall: float
    turns: int = 0


# A signal saying "working" is believed this long without a newer one: a tool may run for
# minutes without a hook, and then the screen (a moving spinner) tells.
ACTIVE_TTL = 600.0
# Signals and screens race at every transition; only an older signal that still disagrees
# with the screen is worth an event.
DISAGREE_GRACE = 5.0


@dataclass(frozen=True)
class Verdict:
    """An agent's state as judged from one look: `source` is "hook" or "notify" (the
    CLI's own signal, SOURCE_NAMES), "transcript" or "screen"; `disagrees` is set
    when a settled signal says otherwise than a screen that shows work or a dialog."""

    state: str  # a screen.STATES value
    source: str
    disagrees: str | None = None


def verdict(screen_state: str | None, record: SignalRecord | None, run_start_wall: float,
            now_wall: float) -> Verdict:
    """Combine the screen's state (None: no screen this pass) with the agent's latest
    signal. A fatal or limited screen always wins (the CLIs signal neither reliably, and a
    limit seen at any time must hold the agent); otherwise a fresh signal of THIS run beats
    the screen: "active" for ACTIVE_TTL, "idle" and "dialog" until the next signal. A
    signal from before the run started, or none, leaves the screen to decide."""
    if screen_state in ("fatal", "limited"):
        return Verdict(screen_state, "screen")
    fresh = (record is not None and record.wall >= run_start_wall
             and record.signal.state in ("active", "idle", "dialog", "exited")
             and (record.signal.state != "active" or now_wall - record.wall <= ACTIVE_TTL))
    if not fresh or record is None:
        return Verdict(screen_state or "idle", "screen")
    state = "idle" if record.signal.state == "exited" else str(record.signal.state)
    disagrees = None
    # "idle" on a screen is the absence of evidence (a screen without regexes says it
    # always); only a screen that positively shows work or a dialog can contradict.
    if (screen_state in ("active", "dialog") and screen_state != state
            and now_wall - record.wall > DISAGREE_GRACE):
        disagrees = f"{record.signal.source} {record.signal.event} says {state}, " \
                    f"the screen says {screen_state}"
    return Verdict(state, SOURCE_NAMES.get(record.signal.source, record.signal.source),
                   disagrees)


# An API error the CLI wrote (rate limit, overload) keeps the agent "retrying" this long:
# the CLI backs off and tries again by itself, so the quiet that follows is not a stall.
RETRY_TTL = 300.0


@dataclass(frozen=True)
class ApiError:
    """The last record of an agent's conversation transcript, when it is an API error the
    CLI wrote (Claude Code: `isApiErrorMessage`): when, the HTTP status and error kind
    (`rate_limit`, `server_error`, ...) and the text it showed, which for a usage limit
    carries the reset time ("You've hit your session limit · resets 7:14pm (UTC)")."""

    wall: float
    status: int | None
    kind: str
    text: str


def api_error(transcript: ApiError | None, record: SignalRecord | None) -> ApiError | None:
    """The agent's current API error: the transcript's last record, or a failed turn's hook
    (Claude runs StopFailure before it writes the transcript), whichever is newer."""
    hooked = None
    if record is not None and record.signal.error is not None:
        hooked = ApiError(record.wall, None, record.signal.error, record.signal.detail)
    return max((e for e in (transcript, hooked) if e is not None), key=lambda e: e.wall,
               default=None)


def from_transcript(error: ApiError | None, record: SignalRecord | None,
                    run_start_wall: float, now_wall: float, is_limit: bool) -> Verdict | None:
    """What the transcript's last API error says, if it still holds: `limited` for a usage
    limit (`is_limit`: the backend's limit_re found it in the text), else `active`
    (retrying) for RETRY_TTL. It holds while no signal of work came after it in this run."""
    if error is None or error.wall < run_start_wall:
        return None
    if record is not None and record.signal.state == "active" and record.wall > error.wall:
        return None  # a new prompt or tool since: the agent got past it
    if is_limit:
        return Verdict("limited", "transcript")
    if now_wall - error.wall <= RETRY_TTL:
        return Verdict("active", "transcript")
    return None
