"""Reliability case T41 (regex cost): a user's backtracking-prone regex on a long screen line.

Config regexes run on RE2 (config/userregex.py), linear in the text: no pattern, user or
preset, can hold the watchdog's tick. The figure printed is one classify of the screen.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

from agent_orchestrator.config import Backend, UserRegex
from agent_orchestrator.core.screen import MAX_COLUMNS, classify

CATASTROPHIC = r".*usage.*limit.*reached"
NOW = datetime(2025, 6, 16, 12, 0).astimezone()


def paragraph(columns: int) -> str:
    """One long row about limits that never says "reached": every start position and every
    split of the `.*`s is a candidate for a backtracking engine."""
    words = "usage limit " * (columns // 12 + 1)
    return words[:columns]


def test_t41_catastrophic_user_regex_on_a_2000_column_line() -> None:
    """FAULT: `limit_re = ".*usage.*limit.*reached"` (accepted by `agents check`) and an agent
    that prints one 2,000-column paragraph about usage limits, as active_re, limit_re,
    fatal_re and prompt_re. EXPECTED: one classify returns at once (RE2: linear), the screen
    reads idle; printed: its time (Python's `re` takes tens of seconds on this line)."""
    assert MAX_COLUMNS == 2000
    pattern = UserRegex(CATASTROPHIC)
    backend = Backend(name="user", bin="x", active_re=pattern, limit_re=pattern,
                      fatal_re=pattern, prompt_re=pattern)
    screen = "$ agent\n" + paragraph(MAX_COLUMNS) + "\n> "
    start = time.perf_counter()
    view = classify(screen, backend, NOW)
    took = time.perf_counter() - start
    print(f"\nT41: one classify of a {MAX_COLUMNS}-column limit paragraph with "
          f"{CATASTROPHIC!r}: {took * 1000:.2f} ms")
    assert view.state == "idle"
    assert took < 1.0  # generous: measured in milliseconds


def test_t41_same_matches_as_python_on_unicode_spaces() -> None:
    """FAULT: RE2's `\\s` is ASCII-only; screens hold U+00A0 and other Unicode spaces.
    EXPECTED: the text given to config regexes has them read as ' ', so `\\s` finds them as
    Python's `re` does."""
    for space in ("\u00a0", "\u2009", "\u3000", "\u202f", "\x0b"):
        line = f"limit{space}reached"
        assert UserRegex(r"limit\sreached").search(line) is not None
        assert re.search(r"limit\sreached", line) is not None
