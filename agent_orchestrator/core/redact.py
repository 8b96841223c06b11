"""Replace API-key-shaped secrets in text with `[REDACTED:<kind>]` before we write it down.

Agents print what they see: an `env` dump, a `curl -H "Authorization: Bearer …"`, a key file.
The session logs and the event log keep such text on disk, so it goes through `redact` first.

Kinds: `anthropic` (sk-ant-…), `openai` (sk-…, sk-proj-…), `github` (ghp_/gho_/ghu_/ghs_/ghr_…,
github_pat_…), `aws` (AKIA…/ASIA… key ids), `slack` (xoxb-… and friends), `google` (AIza…),
`bearer` (the token of an `Authorization: Bearer` header; the header stays), `private-key`
(a PEM `-----BEGIN … PRIVATE KEY-----` block, to its END line or, without one, to the end of
the text) and `env` (the value of `NAME=value` where NAME ends in `_API_KEY`, `_TOKEN`,
`_SECRET` or `PASSWORD`; the name stays).

Look-alikes stay: a key must start at a word edge (the `sk-` in `task-list` does not; the end
of a terminal escape such as `ESC[1m` counts as an edge), hold enough characters, and
`sk-…`/`sk-ant-…`/`xox…` keys must hold a digit or a capital (prose like
`sk-learn-compatible-estimators` has neither). Hashes and uuids match no pattern.

Every pattern runs in linear time on hostile input: a key can only start at a word edge (a
fixed-width lookbehind, so the inside of a long run is never a start), repeats are bounded or
possessive, and a cheap substring test skips patterns that cannot match.

Known limits: secrets broken up by terminal escape sequences (syntax colouring, cursor moves
in a TUI redraw) or wrapped onto two lines are not recognised, and `LineRedactor`, which logs
use, sees a PEM block only line by line (it drops the lines that look like its body).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_KEY = "A-Za-z0-9_-"  # the characters of sk-/AIza keys


def _edge(width: int, before: str = _KEY) -> str:
    """After a literal of `width` characters: it must not follow one of `before` (it would
    be inside a word), unless that is the final letter of a terminal escape sequence, as in
    `ESC[1m` before coloured text. Fixed-width lookbehinds: constant time each."""
    tail = "." * width
    csi = "".join(rf"|(?<=\x1b\[[0-9;?]{{{n}}}[A-Za-z]{tail})" for n in range(9))
    return rf"(?:(?<![{before}]{tail}){csi})"


# (kind, substrings one of which must be in the text, pattern, replacement or None for the
# plain placeholder). Order matters only in that earlier placeholders are never re-matched:
# no pattern accepts `[`.
_Repl = Callable[[re.Match[str]], str] | None


def _env_value(match: re.Match[str]) -> str:
    value = match.group(3)
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group(1)}{match.group(2)}{quote}[REDACTED:env]{quote}"


def _bearer(match: re.Match[str]) -> str:
    return f"{match.group(1)}[REDACTED:bearer]"


_PEM_BEGIN = r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"

_RULES: list[tuple[str, tuple[str, ...], re.Pattern[str], _Repl]] = [
    ("private-key", ("-----BEGIN",),
     re.compile(_PEM_BEGIN + r".*?(?:" + _PEM_END + r"|\Z)", re.DOTALL), None),
    # `sk-ant-` + ≥ 20 key characters holding a digit or a capital; not inside a word.
    ("anthropic", ("sk-ant-",),
     re.compile(rf"sk-ant-{_edge(7)}(?=[{_KEY}]*?[0-9A-Z])[{_KEY}]{{20,}}+"), None),
    ("openai", ("sk-",),
     re.compile(rf"sk-{_edge(3)}(?!ant-)(?=[{_KEY}]*?[0-9A-Z])[{_KEY}]{{20,}}+"), None),
    ("github", ("gh", "github_pat_"),
     re.compile(r"(?:gh[pousr]_" + _edge(4, "A-Za-z0-9_") + r"[A-Za-z0-9]{20,}+"
                r"|github_pat_" + _edge(11, "A-Za-z0-9_") + r"[A-Za-z0-9_]{20,}+)"), None),
    ("aws", ("AKIA", "ASIA"),
     re.compile(r"(?:AKIA|ASIA)" + _edge(4, "A-Za-z0-9") + r"[0-9A-Z]{16}(?![0-9A-Za-z])"),
     None),
    ("slack", ("xox",),
     re.compile(r"xox[baprs]-" + _edge(5) + r"(?=[A-Za-z0-9-]*?[0-9])"
                r"[A-Za-z0-9-]{10,}+"), None),
    ("google", ("AIza",),
     re.compile(rf"AIza{_edge(4)}[{_KEY}]{{35,}}+"), None),
    # The header (any case, also quoted as in JSON) stays; a `$VAR` or `<token>` is no token.
    ("bearer", ("earer", "EARER"),
     re.compile(r"((?i:authorization)[\"']?[ \t]*[:=][ \t]*[\"']?(?i:bearer)[ \t]+)"
                r"[A-Za-z0-9._~+/=-]{8,}+"), _bearer),
    # `NAME=value`, or `NAME = value` as in .env and TOML files (`NAME= cmd` sets nothing).
    ("env", ("_API_KEY", "_TOKEN", "_SECRET", "PASSWORD"),
     re.compile(r"(?<![A-Za-z0-9_])([A-Za-z0-9_]{0,100}(?:_API_KEY|_TOKEN|_SECRET|PASSWORD))"
                r"(=|[ \t]{1,3}=[ \t]{0,3})(?!\[REDACTED:)"
                r"(\"[^\"\n]{1,4096}\"|'[^'\n]{1,4096}'|[^\s\"'`;&|()<>]{1,4096}+)"), _env_value),
]

KINDS = tuple(kind for kind, _, _, _ in _RULES)


def redact(text: str) -> str:
    """`text` with every secret replaced by `[REDACTED:<kind>]` (see the module doc)."""
    for kind, needles, pattern, repl in _RULES:
        if any(needle in text for needle in needles):
            text = pattern.sub(repl or f"[REDACTED:{kind}]", text)
    return text


_PEM_BEGIN_RE = re.compile(_PEM_BEGIN)
_PEM_END_RE = re.compile(_PEM_END)
_PEM_BODY_RE = re.compile(r"[A-Za-z0-9+/=]{16}|Proc-Type:|DEK-Info:")
_PEM_MAX_LINES = 200  # an 8192-bit RSA key is ~100 lines of base64


class LineRedactor:
    """`redact` for a stream cut into lines, as a log is: a PEM block spans lines, so one
    whose BEGIN line has no END is remembered and the lines after it are dropped while they
    look like key body (base64, blank, or PEM headers), up to its END line or 200 lines."""

    def __init__(self) -> None:
        self.key_lines: int | None = None  # body lines dropped of an open PEM block

    def text(self, text: str) -> str:
        """Redact `text` made of whole lines (each ending in a newline, but for the last)."""
        if self.key_lines is None and "-----BEGIN" not in text:
            return redact(text)
        return "".join(self.line(line) for line in text.splitlines(keepends=True))

    def line(self, line: str) -> str:
        if self.key_lines is not None:
            end = _PEM_END_RE.search(line)
            if end is not None:
                self.key_lines = None
                rest = line[end.end():]  # the BEGIN line showed the placeholder
                return "" if not rest.strip("\r\n") else self.line(rest)
            if self.key_lines < _PEM_MAX_LINES and (_PEM_BODY_RE.search(line)
                                                    or not line.strip()):
                self.key_lines += 1
                return ""
            self.key_lines = None  # not key body after all: back to normal lines
        begin = _PEM_BEGIN_RE.search(line)
        if begin is not None and _PEM_END_RE.search(line, begin.end()) is None:
            self.key_lines = 0
            ending = line[len(line.rstrip("\r\n")):]
            return redact(line[:begin.start()]) + "[REDACTED:private-key]" + ending
        return redact(line)
