"""Phase advance (SPEC §4): is the status file's `## DONE` section really filled in, read from
what was pushed to origin/main; and checks on phase indexes.

Pure: doors/gitrelay.py reads the pushed file (`phase_done`), doors/markers.py the phase
file (`parse_index`).
"""

from __future__ import annotations

import re

from agent_orchestrator.config import Handoff
from agent_orchestrator.core.redact import redact

# Text that only holds the DONE section's place. The first group counts anywhere in the line
# (fragments of template sentences like "_written here only when all gates pass_"); the
# second only when the line starts with it, after decoration and an optional "Label:", so
# "Status: pending" is a placeholder but "All green, nothing pending" is real text.
TEMPLATE_FRAGMENTS = ("written here only", "only when", "to be written", "to be filled",
                      "when all", "fill in", "fill this")
STATUS_WORDS = ("not yet", "not done", "incomplete", "pending", "tbd", "tba", "n/a", "todo",
                "none yet", "wip", "in progress", "placeholder")
PLACEHOLDERS = list(TEMPLATE_FRAGMENTS + STATUS_WORDS)

_DECORATION = " \t*_->`~=.:;!|"  # emphasis, list/quote markers, rules, trailing punctuation
_HEADING = re.compile(r"#{1,6}(\s|$)")
_ANGLE = re.compile(r"<[^<>]*>")
_LABEL = re.compile(r"[a-z][a-z ]{0,20}:\s*")


def _words(phrase: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w/])" + re.escape(phrase) + r"(?![\w/])")


_FRAGMENT_RES = [_words(p) for p in TEMPLATE_FRAGMENTS]
_STATUS_RES = [_words(p) for p in STATUS_WORDS]


def _undecorate(text: str) -> str:
    """Strip markdown decoration and enclosing brackets, repeatedly: `> **(TBD)**` → `TBD`."""
    previous = None
    while text != previous:
        previous = text
        text = text.strip(_DECORATION)
        for left, right in ("()", "[]", "{}", '""', "''"):
            if len(text) >= 2 and text[0] == left and text[-1] == right:
                text = text[1:-1]
    return text


def is_placeholder(line: str) -> bool:
    """True when `line` (the line under the DONE marker) is not real text: empty after
    decoration, a heading, `<...>` only, or a placeholder phrase (case-insensitive)."""
    stripped = line.strip()
    if _HEADING.match(stripped):
        return True
    if not _ANGLE.sub("", stripped).strip(_DECORATION + "()[]"):
        return True  # <write the summary here>, <!-- comment -->
    text = _undecorate(stripped)
    if not text or not any(c.isalnum() for c in text):
        return True
    low = text.lower()
    if any(r.search(low) for r in _FRAGMENT_RES):
        return True
    for candidate in (low, _undecorate(_LABEL.sub("", low, count=1))):
        if any(r.match(candidate) for r in _STATUS_RES):
            return True
    return False


def _is_marker(line: str, marker: str) -> bool:
    if not line.startswith(marker):
        return False
    rest = line[len(marker):]
    # "## DONE", "## DONE ✓", "## DONE: phase 2" — but not "## DONE_CRITERIA" / "## DONENESS".
    return not rest or not (rest[0].isalnum() or rest[0] == "_")


def is_done(text: str, marker: str = "## DONE") -> bool:
    """True when some line starts with `marker` and the next non-empty line is real text.

    The marker must begin the line (an indented or quoted marker does not count) and end at a
    word boundary. Text on the marker line itself does not count: the line below decides."""
    if not marker:
        return False
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not _is_marker(line, marker):
            continue
        following = next((x for x in lines[i + 1:] if x.strip()), None)
        if following is not None and not is_placeholder(following):
            return True
    return False


def status_paths(handoff: Handoff, status_path: str) -> list[str]:
    """Where a phase's status file is looked for, in order: state_subdir/, then the root."""
    name = status_path.strip().lstrip("/").removeprefix("./")
    base = handoff.state_subdir.strip("/")
    return [f"{base}/{name}", name] if base else [name]


# ----------------------------------------------------------------------------- indexes

def parse_index(text: str) -> int:
    """The phase index saved in the phase file: a non-negative whole number, surrounding
    whitespace allowed. Raises ValueError for anything else (empty, truncated, `-1`, `abc`)
    with the content shown shortened and redacted, so the watchdog can report the corrupt file
    (`phase-file-corrupt`) instead of reading it as some phase. It may be >= the number of
    phases (phases removed from the config since): the reader, doors/markers.read_phase,
    takes the last phase then."""
    value = text.strip()
    if not re.fullmatch(r"[0-9]+", value):
        value = redact(value)  # before shortening: a cut secret would no longer match
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise ValueError(f"phase index file holds {shown!r}, expected a whole number >= 0")
    return int(value)


def validate_target(value: str, phases: int) -> int:
    """The phase the operator names (`agents phase set N`), numbered from 1 as everywhere the
    operator reads one (status header, events, `phase show`), checked against the number of
    phases; returns its 0-based index (the phase file's, as in the original tool). Raises
    ValueError with a message fit to show as-is."""
    text = value.strip()
    if phases <= 0:
        raise ValueError("the loop has no phases: add some to [loop].phases in agents.toml")
    span = f"1..{phases}"
    if re.fullmatch(r"[+-]?[0-9]+", text) is None:
        raise ValueError(f"phase must be a whole number in {span}, got {value!r}")
    number = int(text)
    if number < 1:
        raise ValueError(f"phase must be >= 1 (phases are numbered {span}), got {number}")
    if number > phases:
        count = "1 phase" if phases == 1 else f"{phases} phases"
        raise ValueError(f"phase {number} does not exist: the loop has {count} ({span})")
    return number - 1


def status_state(text: str | None, marker: str = "## DONE") -> str:
    """What a phase's status file says, for `agents phase show`: `DONE` (the marker with
    real text under it), `not yet` (the file without that) or `missing` (no file: None)."""
    if text is None:
        return "missing"
    return "DONE" if is_done(text, marker) else "not yet"
