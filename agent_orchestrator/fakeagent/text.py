"""Terminal cells for the demo agent's screen: measuring, fitting, wrapping and sanitising
text, and elapsed time as Claude Code prints it."""

from __future__ import annotations

import re
import unicodedata


def char_width(ch: str) -> int:
    """Terminal cells taken by one code point: 0 (combining), 2 (wide) or 1."""
    if unicodedata.combining(ch) or ch in "\u200b\u200c\u200d\ufeff":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Terminal cells taken by ``text`` (which must hold no control characters)."""
    return sum(char_width(ch) for ch in text)


def fit(text: str, width: int) -> str:
    """The longest prefix of ``text`` that fits in ``width`` cells."""
    used = 0
    for i, ch in enumerate(text):
        used += char_width(ch)
        if used > width:
            return text[:i]
    return text


def fit_tail(text: str, width: int) -> str:
    """The longest suffix of ``text`` that fits in ``width`` cells (where a cursor would be)."""
    used = 0
    for i in range(len(text) - 1, -1, -1):
        used += char_width(text[i])
        if used > width:
            return text[i + 1 :]
    return text


def sanitize(text: str) -> str:
    """``text`` made safe to print: tabs and line breaks become spaces, other controls ``?``.

    Keeps a prompt holding escape sequences from driving the terminal.
    """
    out = []
    for ch in text:
        if ch in "\t\r\n":
            out.append(" ")
        elif unicodedata.category(ch) == "Cc":
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


def first_line(text: str) -> str:
    """The first line of ``text``, sanitized for display."""
    return sanitize(text.replace("\r\n", "\n").replace("\r", "\n").split("\n", 1)[0])


def wrap(text: str, width: int, indent: int = 0) -> list[str]:
    """Word-wrap ``text`` to ``width`` cells, continuation lines indented by ``indent``.

    Breaks only at ASCII spaces (so a no-break space holds), and hard-breaks words longer
    than a line, like Ink's ``wrap-ansi`` in Claude Code. Every returned line fits.
    """
    width = max(width, 1)
    if indent >= width:
        indent = 0
    pad = " " * indent
    lines: list[str] = []
    line = ""
    for token in re.findall(r"[^ ]+| +", text):
        if text_width(line) + text_width(token) <= width:
            line += token
            continue
        if token.startswith(" "):  # break at the spaces, dropping them
            lines.append(line)
            line = pad
            continue
        if line.strip(" "):
            lines.append(line.rstrip(" "))
            line = pad
        while text_width(line) + text_width(token) > width:
            head = fit(token, width - text_width(line)) or token[0]
            lines.append(line + head)
            token = token[len(head) :]
            line = pad
        line += token
    if line.strip(" ") or not lines:
        lines.append(line.rstrip(" "))
    return [fit(one, width) for one in lines]


def format_duration(seconds: float) -> str:
    """``3s``, ``1m 5s`` or ``1h 2m 3s``, as Claude Code prints elapsed time."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
