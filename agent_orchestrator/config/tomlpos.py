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
        depth = 0  # square-bracket depth inside that array
        curly = 0  # curly-brace depth inside it: an element starts at `{` on depth 0
        element = 0
        for number, line in enumerate(lines, start=1):
            if in_multiline:
                if in_multiline in line:
                    in_multiline = None
                continue
            if open_array is not None:
                code = _code(line)
                element, curly = self._elements(code, open_array, number, element, curly)
                depth += code.count("[") - code.count("]")
                if depth <= 0:
                    open_array = None
                continue
            if m := _ARRAY_TABLE.match(line):
                name = self._in_array(tuple(_split_dotted(m.group(1))), array_counts)
                index = array_counts.get(name, 0)
                array_counts[name] = index + 1
                table = name + (index,)
                self._lines.setdefault(name, number)
                self._lines[table] = number
                continue
            if m := _TABLE.match(line):
                table = self._in_array(tuple(_split_dotted(m.group(1))), array_counts)
                self._lines.setdefault(table, number)
                continue
            if m := _KEY.match(line):
                keys = tuple(_split_dotted(m.group(1)))
                for end in range(1, len(keys) + 1):  # `wake.interval` also places `wake`
                    self._lines.setdefault(table + keys[:end], number)
                path = table + keys
                value = line[m.end():].lstrip()
                for quote in ('"""', "'''"):
                    if value.startswith(quote) and value.count(quote) == 1:
                        in_multiline = quote
                code = _code(value)
                if code.startswith("[") and code.count("[") > code.count("]"):
                    open_array = path  # elements may open on the key's own line
                    element, curly = self._elements(code, path, number, 0, 0)
                    depth = code.count("[") - code.count("]")

    def _elements(self, code: str, array: PathKey, number: int, element: int,
                  curly: int) -> tuple[int, int]:
        """Record the inline tables of an array that open on this line (a `{` at curly depth
        0 starts one); return the next element index and the curly depth after the line."""
        for char in code:
            if char == "{":
                if curly == 0:
                    self._lines.setdefault(array + (element,), number)
                    element += 1
                curly += 1
            elif char == "}":
                curly -= 1
        return element, curly

    @staticmethod
    def _in_array(name: PathKey, array_counts: dict[PathKey, int]) -> PathKey:
        """`[agent.wake]` after `[[agent]]` belongs to the latest agent: add its index."""
        for length in range(len(name) - 1, 0, -1):
            prefix = name[:length]
            if prefix in array_counts:
                return prefix + (array_counts[prefix] - 1,) + name[length:]
        return name

    def line(self, path: PathKey) -> int | None:
        """The line of `path`, or of its nearest parent that was found; None if none was."""
        probe = tuple(path)
        while probe:
            if probe in self._lines:
                return self._lines[probe]
            probe = probe[:-1]
        return None


def _code(text: str) -> str:
    """The text with strings blanked and any comment cut off."""
    return _strip_strings(text).split("#", 1)[0].strip()
