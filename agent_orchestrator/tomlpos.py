"""Find the line a TOML key was written on, so config errors can say `agents.toml:LINE:`.

tomllib returns plain dicts with no positions. This module re-scans the source text and
records, for every key it can see, the 1-based line it appears on. Paths are tuples such as
`("defaults", "model")`, `("agent", 2, "watch")` (the third `[[agent]]`) or
`("loop", "phases", 1)` (the second inline table of a multi-line array).

It is a locator, not a parser: the text has already been parsed by tomllib, so it only has to
be right for valid TOML, and when it cannot place a key it falls back to the nearest parent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PathKey = tuple[str | int, ...]

_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ARRAY_TABLE = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(#.*)?$")
_BARE_OR_QUOTED = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*=")


def _split_dotted(text: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def _strip_strings(line: str) -> str:
    """The line with string literals blanked, so brackets inside strings don't count."""
    return re.sub(r'"(?:\\.|[^"\\])*"|\'[^\']*\'', '""', line)


class KeyLines:
    """Map TOML key paths to the line numbers they were written on."""

    def __init__(self, text: str) -> None:
        self._lines: dict[PathKey, int] = {}
        self._scan(text.splitlines())

    def _scan(self, lines: Sequence[str]) -> None:
        table: PathKey = ()
        array_counts: dict[PathKey, int] = {}
        in_multiline: str | None = None  # the closing quote of an open multi-line string
        open_array: PathKey | None = None  # a multi-line array value being read
        depth = 0
        element = 0
        for number, line in enumerate(lines, start=1):
            if in_multiline:
                if in_multiline in line:
                    in_multiline = None
                continue
            if open_array is not None:
                stripped = line.strip()
                if stripped.startswith("{"):
                    self._lines.setdefault(open_array + (element,), number)
                    element += 1
                depth += _bracket_delta(line)
                if depth <= 0:
                    open_array = None
                continue
            if m := _ARRAY_TABLE.match(line):
                name = tuple(_split_dotted(m.group(1)))
                index = array_counts.get(name, 0)
                array_counts[name] = index + 1
                table = name + (index,)
                self._lines.setdefault(name, number)
                self._lines[table] = number
                continue
            if m := _TABLE.match(line):
                table = tuple(_split_dotted(m.group(1)))
                self._lines.setdefault(table, number)
                continue
            if m := _KEY.match(line):
                path = table + tuple(_split_dotted(m.group(1)))
                self._lines.setdefault(path, number)
                rest = line[m.end():]
                for quote in ('"""', "'''"):
                    if rest.count(quote) == 1:
                        in_multiline = quote
                delta = _bracket_delta(rest)
                if delta > 0 and rest.strip().startswith("["):
                    open_array, depth, element = path, delta, 0
                    # An inline table opened on the key's own line is element 0.
                    if "{" in rest:
                        self._lines.setdefault(path + (0,), number)
                        element = 1

    def line(self, path: PathKey) -> int | None:
        """The line of `path`, or of its nearest parent that was found; None if none was."""
        probe = tuple(path)
        while probe:
            if probe in self._lines:
                return self._lines[probe]
            probe = probe[:-1]
        return None


def _bracket_delta(text: str) -> int:
    code = _strip_strings(text).split("#", 1)[0]
    return code.count("[") - code.count("]")
