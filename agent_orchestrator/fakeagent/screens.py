"""The demo agent's screen: Claude Code 2.1's strings, and the layout and painting of a frame.

The strings are copied from real captures, so that the supervisor's screen regexes (the
demo preset) classify the demo agent as they would Claude Code.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent_orchestrator.fakeagent.options import Options
from agent_orchestrator.fakeagent.text import fit, fit_tail, sanitize, text_width, wrap

NBSP = "\xa0"
PROMPT_MARK = "❯" + NBSP  # the input line; real Claude puts a no-break space after ❯
ECHO_MARK = "❯ "  # an echoed prompt in the history
REPLY_MARK = "● "
RESULT_MARK = "  ⎿ " + NBSP  # a result line under a prompt ("  ⎿  ..." in the captures)
RULE_CHAR = "─"
SPINNER_GLYPHS = "·✢✳✶✻✽"
SPINNER_VERB = "Warping"
SUMMARY_GLYPH = "✻"
FOOTER_IDLE = "  ? for shortcuts"
FOOTER_BUSY = "  esc to interrupt"
BANNER_ART = (" ▐▛███▜▌ ", "▝▜█████▛▘", "  ▘▘ ▝▝  ")
DEFAULT_RESET = "3pm (UTC)"
LIMIT_TEXT = "You've hit your session limit · resets {reset}"
FATAL_TEXT = (
    'API Error: 401 {"type":"error","error":{"type":"authentication_error",'
    '"message":"Invalid authentication credentials"}} · Please run /login'
)
INTERRUPTED_TEXT = "Interrupted by user"
WAITING_TEXT = "WAITING-UNTIL: {iso}"
COMMAND_PREFIX = "/fake "
SPIN_INTERVAL = 0.2  # seconds per spinner frame while busy
MAX_BOX_LINES = 4  # input-box lines shown for a multi-line input


@dataclass
class Line:
    """One logical history line: wrapped (continuations indented) or truncated to the width."""

    text: str
    indent: int = 2
    wrap: bool = True

    def layout(self, width: int) -> list[str]:
        """The screen rows this line takes at ``width`` columns."""
        if not self.wrap:
            return [fit(self.text, width)]
        return wrap(self.text, width, self.indent)


@dataclass
class View:
    """Everything needed to draw one frame; built by ``FakeAgent.view``."""

    banner: list[str]
    blocks: list[list[Line]]
    spinner: str | None
    input_text: str


@dataclass
class Frame:
    """A rendered screen: its rows (top to bottom) and the cursor's (row, column), 0-based."""

    rows: list[str]
    cursor: tuple[int, int]


def box_rows(buffer: str, width: int) -> list[str]:
    """The input box's inner rows: ``❯\\xa0`` then the input's last lines, cursor line last."""
    parts = buffer.replace("\r\n", "\n").replace("\r", "\n").split("\n")[-MAX_BOX_LINES:]
    room = max(width - 2, 0)
    rows = []
    for i, part in enumerate(parts):
        prefix = PROMPT_MARK if i == 0 else "  "
        clean = sanitize(part)
        body = fit_tail(clean, room) if i == len(parts) - 1 else fit(clean, room)
        rows.append(fit(prefix, width) + body)
    return rows


def render(view: View, width: int, height: int) -> Frame:
    """Lay the view out like Claude Code: banner, history, spinner, boxed input, footer.

    Content runs from the top; when it is taller than the screen the oldest rows go first
    (the banner scrolls away, as in the real captures), so nothing is written past the
    last row.
    """
    width = max(width, 1)
    height = max(height, 1)
    rows = [fit(b, width) for b in view.banner]
    rows.append("")
    for block in view.blocks:
        rows.append("")
        for line in block:
            rows.extend(line.layout(width))
    if view.spinner is not None:
        rows += ["", fit(view.spinner, width)]
    rows += ["", RULE_CHAR * width]
    box = box_rows(view.input_text, width)
    rows += box
    cursor_row = len(rows) - 1
    cursor_col = min(text_width(box[-1]), width - 1)
    rows += [RULE_CHAR * width, FOOTER_BUSY if view.spinner is not None else FOOTER_IDLE]
    rows = [fit(row, width) for row in rows]
    drop = max(len(rows) - height, 0)
    return Frame(rows[drop:], (max(cursor_row - drop, 0), cursor_col))


def paint(frame: Frame, width: int, height: int, previous: Frame | None = None) -> str:
    """Escape sequences that draw ``frame`` in place, row by row, without scrolling.

    With ``previous`` (the frame on screen, same size) only changed rows are written, and
    an unchanged frame gives ``""``: an idle agent writes nothing.
    """
    if previous is not None and previous == frame:
        return ""
    old = previous.rows if previous is not None else []
    out = ["\x1b[?25l"]
    for i, line in enumerate(frame.rows):
        if previous is not None and i < len(old) and old[i] == line:
            continue
        out.append(f"\x1b[{i + 1};1H{line}")
        if text_width(line) < width:  # never erase after a full row (pending-wrap column)
            out.append("\x1b[K")
    if len(frame.rows) < height and (previous is None or len(old) > len(frame.rows)):
        out.append(f"\x1b[{len(frame.rows) + 1};1H\x1b[J")
    row, col = frame.cursor
    out.append(f"\x1b[{row + 1};{col + 1}H\x1b[?25h")
    return "".join(out)


def banner_lines(opts: Options) -> list[str]:
    """The three-line welcome banner (logo, title, model, folder)."""
    title = "Demo Agent (agent-orchestrator fakeagent)"
    if opts.name:
        title += f" · {opts.name}"
    texts = (title, f"{opts.model} · demo", opts.cwd)
    return [f"{art}  {sanitize(text)}" for art, text in zip(BANNER_ART, texts, strict=True)]
