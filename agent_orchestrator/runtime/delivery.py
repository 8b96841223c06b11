"""Typing into an agent's TUI so that the text lands (shared/reference/delivery.md).

Measured on the real CLIs: an Enter sent with the text is swallowed by Codex and Gemini; a
short pause before it always works; every miss left the text in the input box, where one more
Enter submitted it; dialogs take the next Enter as a choice. So:
1. never type while a `prompt_re` dialog (or, for the watchdog's texts, a `limit_re` banner:
   Claude's limit menu takes Enter as a choice) is on screen — report it instead;
2. paste the text (named buffer, bracketed paste: byte-exact, see Tmux.paste);
3. wait a settle time that grows with the text (≈1 s per 1,000 characters for Codex);
4. press the submit key, then confirm: the screen went busy, or the text left the input
   box; if not, press again, a bounded number of times.
The screen is read by core/screen.py's rules (`dialog_line`, `submitted`), the ones the
watchdog classifies panes by: echoed prompts are never taken for a dialog.

What is typed is `sanitize(text)`: line ends become `\n` (CRLF and a lone CR alike) and every
other control character — C0 but tab and newline, DEL, C1 — is dropped; everything else
arrives byte for byte. A control byte is a key to a TUI, and an ESC can end the bracketed
paste early: `ESC[201~` followed by text would type that text as keystrokes (a CR in it
submits it), so prompt text could drive the agent. The named paste buffer never outlives
the call, also when the paste fails (Tmux.paste sees to it).
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass

from agent_orchestrator.config import Backend, UserRegex
from agent_orchestrator.core import screen
from agent_orchestrator.doors.tmux import Tmux, TmuxError

# C0 controls but tab and newline, DEL and C1 controls (after CR was turned into newline).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Delivery:
    """`blocked`: not typed at all, a dialog or a limit banner was on screen."""

    delivered: bool
    detail: str
    blocked: bool = False


def sanitize(text: str) -> str:
    """`text` as it is typed: line ends as `\n`, other control characters dropped."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def settle_time(text: str) -> float:
    """Seconds between pasting and pressing submit."""
    return min(0.3 + len(text) / 1000, 3.0)


def deliver(tmux: Tmux, target: str, text: str, submit_key: str = "Enter",
            dialog_re: UserRegex | None = None, active_re: UserRegex | None = None,
            presses: int = 3, wait: float = 0.5,
            cancel: threading.Event | None = None,
            limits: Backend | None = None) -> Delivery:
    """Type `text` into `target` and submit it; say whether it was seen to land. It takes
    seconds (settle waits, re-presses): the watchdog runs it in a worker, and `cancel`
    (the agent is being stopped, the watchdog exits) ends it at its next wait. `limits`:
    the backend whose limit banner, in the current turn, forbids typing too.

    Raises TmuxError when the pane is gone.
    """
    pause = (cancel or threading.Event()).wait  # True once cancelled
    if dialog_re is not None or limits is not None:
        shown = tmux.capture(target)
        if dialog_re is not None and (dialog := screen.dialog_line(shown, dialog_re)):
            return Delivery(False, f"not typed: a dialog is on screen ({dialog!r})", True)
        if limits is not None and (banner := screen.limit_line(shown, limits)):
            return Delivery(False, f"not typed: a usage limit is on screen ({banner!r})",
                            True)
    text = sanitize(text)
    buffer = f"agents-{os.getpid()}-{time.monotonic_ns()}"
    tmux.paste(target, text, buffer=buffer)
    if pause(settle_time(text)):
        return Delivery(False, "cancelled before submitting")
    for press in range(1, presses + 1):
        tmux.send_keys(target, submit_key)
        if pause(wait):
            return _last_look(tmux, target, text, active_re, wait)
        if screen.submitted(tmux.capture(target), text, active_re):
            return Delivery(True, f"submitted ({press} press{'es' if press > 1 else ''})")
    return Delivery(False, f"text still in the input line after {presses} presses")


def _last_look(tmux: Tmux, target: str, text: str, active_re: UserRegex | None,
               grace: float) -> Delivery:
    """Cancelled after the submit key was pressed (the agent is being stopped or restarted,
    the watchdog exits): the text has most likely landed, and a queued text counted as not
    delivered is typed again, into the next session too (a loop agent restarted on a new
    phase acted on the old phase's review twice). So look for up to `grace` seconds: seen to
    land, or the session already gone (it was submitted to the one it was meant for), is
    delivered; only a text still in the input line is not."""
    deadline = time.monotonic() + grace
    while True:
        try:
            shown = tmux.capture(target)
        except TmuxError:
            return Delivery(True, "submitted; its session ended before it was confirmed")
        if screen.submitted(shown, text, active_re):
            return Delivery(True, "submitted (confirmed as it was cancelled)")
        if time.monotonic() >= deadline:
            return Delivery(False, "cancelled")
        time.sleep(0.05)  # a worker's short wait: the loop never waits on it
