"""Field-by-field checking of raw TOML values: types, ranges, choices, regexes, unknown keys.

The config loader describes each table as a dict of `Field`s and calls `check_table`, which
converts the values it can and records a `Problem` for every one it cannot, so a user sees
every mistake of a file in one run. Nothing is coerced: the string "false" is not a boolean
and "5" is not a number.

Regexes are compiled here, never at match time, for RE2 (userregex.py): linear time on any
screen, so no pattern can stall the watchdog's tick.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent_orchestrator.config.tomlpos import KeyLines, PathKey
from agent_orchestrator.config.userregex import RegexError, UserRegex

# Letters, digits, `-` and `_`, starting with a letter or digit: tmux rewrites `.` and `:` in
# session names, and a leading `-` reads as an option to tmux and to shells.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # always fullmatch: `$` allows "a\n"
NAME_RULE = "1-64 letters, digits, '-' or '_', starting with a letter or digit"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the config file."""

    line: int | None
    key: str
    message: str

    def render(self, filename: str) -> str:
        where = f"{filename}:{self.line}" if self.line else filename
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class Problems:
    """Collects problems with their line numbers, found via the file's KeyLines."""

    def __init__(self, lines: KeyLines) -> None:
        self.lines = lines
        self.items: list[Problem] = []

    def add(self, path: PathKey, message: str, label: str | None = None) -> None:
        self.items.append(Problem(self.lines.line(path), label or dotted(path), message))


def _join(table: str, key: str) -> str:
    return f"{table}.{key}" if table else key


def dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def describe(value: Any) -> str:
    """How a wrong value is named in an error: its TOML type and a short repr."""
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string",
             list: "array", dict: "table"}
    kind = kinds.get(type(value), type(value).__name__)
    text = repr(value) if not isinstance(value, dict | list) else ""
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}".strip()


@dataclass(frozen=True)
class Field:
    """How one key is checked. `kind` is one of the names in `_CHECKS`."""

    kind: str
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None


def check_table(raw: Any, spec: Mapping[str, Field], path: PathKey,
                problems: Problems, label: str | None = None) -> dict[str, Any]:
    """Validate `raw` against `spec`; return converted values for the keys that passed.

    Missing optional keys, and keys whose value is wrong, get their default; a missing
    required key, an unknown key (with a did-you-mean) and a wrong value each add one problem.
    `label` names the table in messages when its path is not readable (`agent.builder`
    rather than `agent[3]`).
    """
    name = label or dotted(path)
    if not isinstance(raw, dict):
        problems.add(path, f"expected a table, got {describe(raw)}", label=name)
        return {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        field = spec.get(key)
        if field is None:
            hint = difflib.get_close_matches(key, list(spec), n=1, cutoff=0.6)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            problems.add(path + (key,), f"unknown key{suggestion}", label=_join(name, key))
            continue
        try:
            # argv, environment and paths cannot carry a NUL: exec would fail, every restart
            if field.kind not in ("table", "list") and _has_nul(value):
                raise Invalid("contains a NUL character (\\0 or \\u0000), which no command "
                              "line, environment variable or path can carry", full=True)
            out[key] = _CHECKS[field.kind](value, field)
        except Invalid as bad:
            text = str(bad) if bad.full else f"got {describe(value)} (expected {bad})"
            problems.add(path + (key,), text, label=_join(name, key))
            # Keep going with the default so later checks still run; the problem list
            # already guarantees the config is rejected.
            if not field.required:
                out[key] = field.default
    for key, field in spec.items():
        if key in out or key in raw:
            continue
        if field.required:
            problems.add(path, f"missing required key '{key}'", label=_join(name, key))
        else:
            out[key] = field.default
    return out


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


class Invalid(Exception):
    """Raised by a check; its text is either what was expected or, with `full`, the message."""

    def __init__(self, text: str, full: bool = False) -> None:
        super().__init__(text)
        self.full = full


Check = Callable[[Any, Field], Any]


def _require(ok: bool, expected: str) -> None:
    if not ok:
        raise Invalid(expected)


def _str(value: Any, field: Field) -> Any:
    _require(isinstance(value, str), "a string")
    return value


def _nonempty(value: Any, field: Field) -> Any:
    _require(isinstance(value, str) and value.strip() != "", "a non-empty string")
    return value


def _name(value: Any, field: Field) -> Any:
    _require(isinstance(value, str) and bool(NAME_RE.fullmatch(value)), NAME_RULE)
    return value


def _bool(value: Any, field: Field) -> Any:
    _require(isinstance(value, bool), "true or false")
    return value


LIMIT = 10**9  # no count or duration of ours gets near it; 2^63 or 1e300 is a typo


def _range(value: Any, field: Field, kind: str) -> str:
    """What was expected, naming the upper bound only when it is what was crossed (an
    `inf` told "expected a number >= 0" would leave the user puzzled)."""
    minimum = 0 if field.minimum is None else field.minimum
    expected = f"{kind} >= {minimum:g}"
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and not math.isnan(value) and value >= LIMIT:
        expected += f" and below {LIMIT}"
    return expected


def _number(value: Any, field: Field) -> Any:
    minimum = 0 if field.minimum is None else field.minimum
    _require(isinstance(value, int | float) and not isinstance(value, bool)
             and math.isfinite(value) and minimum <= value < LIMIT,
             _range(value, field, "a number"))
    return float(value)


def _int(value: Any, field: Field) -> Any:
    minimum = 0 if field.minimum is None else field.minimum
    _require(isinstance(value, int) and not isinstance(value, bool)
             and minimum <= value < LIMIT, _range(value, field, "a whole number"))
    return value


def _choice(value: Any, field: Field) -> Any:
    _require(isinstance(value, str) and value in field.choices,
             "one of " + ", ".join(f'"{c}"' for c in field.choices))
    return value


def _strlist(value: Any, field: Field) -> Any:
    _require(isinstance(value, list) and all(isinstance(v, str) for v in value),
             "an array of strings")
    return tuple(value)


def _strmap(value: Any, field: Field) -> Any:
    _require(isinstance(value, dict) and all(isinstance(v, str) for v in value.values()),
             "a table of strings")
    return tuple(sorted(value.items()))


def _model_env(value: Any, field: Field) -> Any:
    # Compat configs say `model_env = true` (meaning opencode's JSON config variable).
    _require(isinstance(value, bool | str), 'true, false or an environment variable name')
    if isinstance(value, bool):
        return "opencode" if value else ""
    _require(value == "" or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) is not None,
             "true, false or an environment variable name")
    return value


def _regex(value: Any, field: Field) -> Any:
    _require(isinstance(value, str), "a regular expression string")
    if value == "":  # switches a preset's regex off (an empty pattern would match anything)
        return None
    try:
        return UserRegex(value)
    except RegexError as exc:
        raise Invalid(str(exc), full=True) from None


def _any_table(value: Any, field: Field) -> Any:
    _require(isinstance(value, dict), "a table")
    return value


def _any_list(value: Any, field: Field) -> Any:
    _require(isinstance(value, list), "an array")
    return value


_CHECKS: dict[str, Check] = {
    "str": _str, "nonempty": _nonempty, "name": _name, "bool": _bool, "number": _number,
    "int": _int, "choice": _choice, "strlist": _strlist, "strmap": _strmap,
    "regex": _regex, "model_env": _model_env, "table": _any_table, "list": _any_list,
}
