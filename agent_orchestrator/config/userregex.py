r"""Compiling the config's regexes (user and preset) for a linear-time engine, RE2.

A backtracking engine (Python's `re`) can take exponential time on one long screen line with
a pattern as plain as `.*usage.*limit.*reached`, and the watchdog matches these regexes on
every tick. RE2 never backtracks: a search costs time linear in the text, whatever the
pattern. What it refuses (lookaround, backreferences, possessive quantifiers, atomic groups,
conditionals) is a config error that names the construct.

Unicode: RE2's `\s`, `\w` and `\b` are ASCII-only, while captured screens hold U+00A0 (Claude's
input line) and other Unicode spaces that Python's `\s` matches. So the text given to these
regexes has every Unicode space that RE2's `\s` does not know replaced by ' ' (one character
for one: positions keep their meaning). Rewriting `\s` inside patterns was not chosen: it
would have to follow classes (`[^\s]`, `\S`) and escapes through the user's syntax.
`\w` and `\b` stay ASCII (a letter like `é` is not a word character to them).
"""

from __future__ import annotations

from typing import Any

import re2

# Python's \s minus RE2's [\t\n\f\r ]: U+000B, U+001C-U+001F, U+0085, U+00A0, U+1680, U+2000-...
_SPACES = dict.fromkeys([0x0B, 0x1C, 0x1D, 0x1E, 0x1F, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                         0x2028, 0x2029, 0x202F, 0x205F, 0x3000], " ")
# Case-insensitive, `^`/`$` at each line (one screen row or subject per line), `.` not `\n`.
_FLAGS = "(?im)"
_REFUSED = {  # what RE2 refuses, by the prefix of its error, in words a user can act on
    "invalid perl operator: (?=": "a lookahead `(?=...)`",
    "invalid perl operator: (?!": "a negative lookahead `(?!...)`",
    "invalid perl operator: (?<=": "a lookbehind `(?<=...)`",
    "invalid perl operator: (?<!": "a negative lookbehind `(?<!...)`",
    "invalid perl operator: (?>": "an atomic group `(?>...)`",
    "invalid perl operator: (?(": "a conditional `(?(...)...)`",
    "bad repetition operator: ++": "a possessive quantifier `++`",
    "bad repetition operator: *+": "a possessive quantifier `*+`",
    "bad repetition operator: ?+": "a possessive quantifier `?+`",
}


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the refusal is reported as a config error, not on stderr
    return options


_OPTIONS = _options()


class RegexError(ValueError):
    """A pattern RE2 cannot compile; the message names the construct when it is known."""


class UserRegex:
    """A compiled config regex: `search(text)` like `re.Pattern.search`, in linear time."""

    __slots__ = ("pattern", "_compiled")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        try:
            self._compiled = re2.compile(_FLAGS + pattern, _OPTIONS)
        except re2.error as exc:
            raise RegexError(_explain(pattern, exc)) from None

    def search(self, text: str) -> Any:
        """The first match in `text` (Unicode spaces read as ' '), or None."""
        return self._compiled.search(text.translate(_SPACES))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UserRegex) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"UserRegex({self.pattern!r})"


def _explain(pattern: str, exc: Exception) -> str:
    arg = exc.args[0] if exc.args else str(exc)
    reason = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    reason = reason.replace(": " + _FLAGS, ": ")  # quote the user's pattern, not ours
    for prefix, construct in _REFUSED.items():
        if reason.startswith(prefix):
            return (f"{construct} is not supported (regexes run on RE2, which matches in "
                    f"linear time and has no backtracking to control); rewrite without it")
    if (reason.startswith("invalid escape sequence: \\") and reason[-1:].isdigit()
            or "(?P=" in pattern):
        return ("a backreference like `\\1` is not supported (regexes run on RE2, which "
                "matches in linear time); rewrite without it")
    return f"invalid regular expression: {reason}"
