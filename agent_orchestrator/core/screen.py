"""Classifying one captured agent screen (SPEC §4; agent-cli-signals.md §0).

`classify(screen, backend, now)` says what a pane shows: `fatal`, `active`, `dialog`,
`limited` or `idle` (that precedence), with the lines that decided it, the reset time a
limit banner announces and the time of a `WAITING-UNTIL: <ISO>` marker (an agent sleeping on
purpose). `dialog_line` and `submitted` answer, by the same rules, what typing into a pane
asks (runtime/delivery.py): is a dialog or a limit banner up, did the typed text leave the
input box. Pure: no tmux, no clock.

How the screen is read:

- ANSI escapes and carriage returns are removed, trailing spaces and trailing empty rows
  ignored.
- `active_re`: the whole screen, or only the bottom 10 rows for `footer_ui` backends (whose
  footer lingers after work).
- `limit_re` and `fatal_re`: only the current turn at the bottom of the screen, so that old
  banners and prose don't count: the last 15 non-empty lines, minus the lines above the last
  echoed user prompt (a later prompt means the agent moved on), minus echoed prompts
  themselves, minus limit warnings (`resets.is_limit_warning`).
  An echoed prompt is a row that starts (after at most one space) with `❯ `, `› `, `> ` or
  aider's mode prompts (`ask> `, `diff> `, `architect> `, ...) followed by text. Not
  echoes: Claude's input line (`❯` + no-break space), numbered menu options (`❯ 1. Yes`,
  `› 1. Switch to ...`), and rows among the bottom 4 non-empty ones
  (Codex's composer `› Ask Codex to do anything` looks like an echo). An echoed slash
  command (`❯ /rate-limit-options`, which Claude types itself under a limit banner) is
  skipped but does not start a new turn.
  With `message_gutter` (opencode, whose echoed prompts are unmarked), only the last block
  of rows drawn in that gutter above the input box counts.
- Both a working line and a limit banner: the banner wins when it is below the working
  line (that spinner froze when the limit ended the turn); a spinner below the banner, or
  in a footer, is a CLI retrying (`active`; screenrules.py drops it once it stops moving).
- `prompt_re` (dialogs): the last 15 non-empty lines, echoed prompts skipped.
- The reset time is read from the limit line and the 2 non-empty lines after it (banners
  wrap: `... Your limit will reset` / `at 3pm (America/Santiago).`).
- The input lines (`submitted`): the bottom 4 non-empty rows, a TUI's input box and footer.
  Typed text counts as sent once `active_re` matches one of them (the agent went busy) or
  the last 30 characters of its last line are in none of them any more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from agent_orchestrator.config import Backend, UserRegex
from agent_orchestrator.core import resets, timetext

SCAN_LINES = 15  # non-empty lines at the bottom searched for limit / fatal / dialog text
FOOTER_ROWS = 10  # bottom rows searched for active_re on footer_ui backends
COMPOSER_LINES = 4  # bottom non-empty lines: the input box and footer, never an echo
PROBE_CHARS = 30  # characters of typed text looked for in the input lines
RESET_CONTEXT = 2  # non-empty lines after a limit line searched for its reset time
# Caps on what any regex sees, so a user's slow (but accepted) regex on a huge or hostile
# capture still costs a bounded time: a pane is ~50 rows of ~200 columns; only rows joined by
# `capture-pane -J` (a wrapped paragraph) are longer.
MAX_ROWS = 200
MAX_COLUMNS = 2000

_ANSI_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[()*+][0-~]"  # charset selection
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
    r"|[\x00-\x08\x0b-\x1f\x7f]"  # stray control characters (tab and newline kept)
)
# `❯ `, `› ` or `> ` (ASCII space) then text, not a numbered menu option; or aider's prompt
# in a chat mode / edit format: `ask> `, `diff> `, `architect> `, `multi> ` (aider/io.py).
_AIDER_MODES = ("ask|code|architect|context|help|multi|whole|diff|diff-fenced|udiff|"
                "udiff-simple|patch|editor-diff|editor-whole|editor-diff-fenced")
_ECHO_RE = re.compile(r"^ ?(?:[❯›>]|(?:" + _AIDER_MODES + r")>) (?=\S)(?!\d{1,2}[.)] )")
_SLASH_ECHO_RE = re.compile(r"^ ?[❯›>] /\w")
_WAITING_RE = re.compile(r"WAITING-UNTIL:[ \t]*(?P<iso>[^\s\]\)\"'`]+(?: [0-9][^\s\]\)\"'`]*)?)")


@dataclass(frozen=True)
class ScreenView:
    """What one screen shows. Lines are as on screen minus surrounding spaces and `│`/`┃`
    box borders."""

    state: str  # "fatal" | "active" | "dialog" | "limited" | "idle"
    active_line: str | None  # the line active_re matched (None if not active)
    # The line limit_re matched, set even when the state is active: a banner behind a live
    # spinner is an in-flight retry.
    limit_line: str | None
    reset_at: datetime | None  # read from the limit line and the 2 lines after it
    fatal_line: str | None
    dialog_line: str | None  # prompt_re match: permission / trust / first-run dialog
    waiting_until: datetime | None  # from a `WAITING-UNTIL: <ISO>` marker
    # With a limit: the CLI says it continues by itself at the reset (auto_resume_re).
    auto_resume: bool = False


def strip_ansi(text: str) -> str:
    """`text` without terminal escape sequences, carriage returns or other controls."""
    return _ANSI_RE.sub("", text.replace("\r\n", "\n").replace("\r", ""))


def screen_lines(screen: str) -> list[str]:
    """The screen's rows, escapes removed, right-stripped, trailing empty rows dropped; at
    most the bottom MAX_ROWS rows, each cut to MAX_COLUMNS characters."""
    lines = strip_ansi(screen).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return [line[:MAX_COLUMNS].rstrip() for line in lines[-MAX_ROWS:]]


def is_echo(line: str) -> bool:
    """True for a row that shows a prompt the user (or the supervisor) submitted."""
    return _ECHO_RE.match(line) is not None


def classify(screen: str, backend: Backend, now: datetime) -> ScreenView:
    """Classify `screen` (a pane capture) for `backend`; `now` is aware, agent-host local."""
    lines = screen_lines(screen)
    filled = _filled(lines)
    bottom = filled[-SCAN_LINES:]
    current = _current_turn(lines, backend)

    fatal_line = _last_match(backend.fatal_re, lines, current)

    active_rows = (range(max(len(lines) - FOOTER_ROWS, 0), len(lines)) if backend.footer_ui
                   else range(len(lines)))
    active_at = _last_index(backend.active_re, lines, active_rows)

    dialog_line = _last_match(backend.prompt_re, lines, _dialog_rows(lines, bottom))

    limit_at = _last_index(backend.limit_re, lines, current)
    limit_line = reset_at = None
    if limit_at is not None:
        limit_line = _clean(lines[limit_at])
        after = [j for j in filled if j > limit_at][:RESET_CONTEXT]
        reset_at = resets.parse_reset("\n".join(lines[j] for j in [limit_at, *after]), now)
    if active_at is not None and limit_at is not None and limit_at > active_at:
        # A working line ABOVE the banner is the frozen spinner of the turn the limit ended
        # (a CLI retrying draws its live spinner below the banner, or in its footer).
        active_at = None
    active_line = _clean(lines[active_at]) if active_at is not None else None

    if fatal_line is not None:
        state = "fatal"
    elif active_line is not None:
        state = "active"
    elif dialog_line is not None:
        state = "dialog"
    elif limit_line is not None:
        state = "limited"
    else:
        state = "idle"
    return ScreenView(
        state=state,
        active_line=active_line,
        limit_line=limit_line,
        reset_at=reset_at,
        fatal_line=fatal_line,
        dialog_line=dialog_line,
        waiting_until=_waiting_until(lines, backend.footer_ui, now),
        auto_resume=limit_line is not None and _last_match(
            backend.auto_resume_re, lines, range(len(lines))) is not None,
    )


def limit_line(screen: str, backend: Backend) -> str | None:
    """The limit banner of the current turn where `classify` looks for one, cleaned; None
    when there is none. Typing there is lost (in Claude Code Enter picks an option of the
    limit menu)."""
    lines = screen_lines(screen)
    return _last_match(backend.limit_re, lines, _current_turn(lines, backend))


def dialog_line(screen: str, prompt_re: UserRegex | None) -> str | None:
    """The line `prompt_re` matches where `classify` looks for a dialog, cleaned; None when
    no dialog is up."""
    lines = screen_lines(screen)
    bottom = _filled(lines)[-SCAN_LINES:]
    return _last_match(prompt_re, lines, _dialog_rows(lines, bottom))


def submitted(screen: str, text: str, active_re: UserRegex | None) -> bool:
    """True when `screen`, captured after pressing submit on typed `text`, shows that the
    text left the input box: the agent went busy, or the text is no longer in the input
    lines. A text with nothing visible in it counts as sent."""
    lines = screen_lines(screen)
    rows = _filled(lines)[-COMPOSER_LINES:]
    if _last_match(active_re, lines, rows) is not None:
        return True
    probe = _probe(text)
    return not probe or not any(probe in lines[i] for i in rows)


def _current_turn(lines: list[str], backend: Backend) -> list[int]:
    """The rows of the current turn that `limit_re` and `fatal_re` read (module docstring)."""
    filled = _filled(lines)
    composer = set(filled[-COMPOSER_LINES:])
    resumed = backend.resumed_re
    turn_start = max(
        (i for i in filled
         if i not in composer and (is_echo(lines[i]) and not _SLASH_ECHO_RE.match(lines[i])
                                   or resumed is not None and resumed.search(lines[i]))),
        default=-1,
    )
    current = [i for i in filled[-SCAN_LINES:]
               if i > turn_start and not is_echo(lines[i])
               and not resets.is_limit_warning(lines[i])]
    if backend.message_gutter:
        current = _last_gutter_block(lines, current, composer, backend.message_gutter)
    return current


def _filled(lines: list[str]) -> list[int]:
    """The indexes of the non-empty rows."""
    return [i for i, line in enumerate(lines) if line.strip()]


def _probe(text: str) -> str:
    """A piece of `text` that a TUI shows in its input box while the text is unsent: the end
    of its last non-empty line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][-PROBE_CHARS:] if lines else ""


def _dialog_rows(lines: list[str], bottom: list[int]) -> list[int]:
    """The rows of `bottom` a dialog may be on: echoed prompts are what was typed."""
    return [i for i in bottom if not is_echo(lines[i])]


def _last_gutter_block(lines: list[str], rows: list[int], composer: set[int],
                       gutter: str) -> list[int]:
    """The rows of `rows` in the last block of text drawn in `gutter` above the input box.

    opencode draws your prompt and each error as such a block and does not mark which is
    which, so only the last block can be the current turn's outcome: an earlier block's
    "usage limit has been reached" belongs to a turn a later prompt already moved past."""
    blocks: list[list[int]] = []
    previous = -2
    for i in range(len(lines)):
        body = lines[i].strip()
        if i in composer or not body.startswith(gutter) or not body[len(gutter):].strip():
            continue
        if i != previous + 1 or not blocks:
            blocks.append([])
        blocks[-1].append(i)
        previous = i
    last = set(blocks[-1]) if blocks else set()
    return [i for i in rows if i in last]


def _waiting_until(lines: list[str], footer_ui: bool, now: datetime) -> datetime | None:
    """The time of the last `WAITING-UNTIL: <ISO time>` marker, aware (a time without a zone
    is in `now`'s), or None. For `footer_ui` backends only the last non-empty line counts;
    otherwise the last marker anywhere on the screen. An unparseable last marker gives None.
    """
    rows = lines[-1:] if footer_ui else lines
    for line in reversed(rows):
        found = list(_WAITING_RE.finditer(line))
        if found:
            iso = found[-1].group("iso")  # `2026-11-21 15:00:00+01:00`, or a word after it
            for candidate in (iso, iso.split(" ")[0]):
                if when := timetext.parse_iso(candidate.strip().rstrip(".,;:"), now.tzinfo):
                    return when
            return None
    return None


def _clean(line: str) -> str:
    """A matched row for reports: surrounding spaces and box borders (`│`, `┃`) removed."""
    return line.strip().strip("│┃").strip()


def _last_match(pattern: UserRegex | None, lines: list[str],
                rows: range | list[int]) -> str | None:
    """The bottom-most of `rows` that `pattern` matches, stripped; None when none does."""
    found = _last_index(pattern, lines, rows)
    return _clean(lines[found]) if found is not None else None


def _last_index(pattern: UserRegex | None, lines: list[str],
                rows: range | list[int]) -> int | None:
    """The bottom-most of `rows` that `pattern` matches; None when none does."""
    if pattern is None:
        return None
    return next((i for i in reversed(rows) if pattern.search(lines[i])), None)
