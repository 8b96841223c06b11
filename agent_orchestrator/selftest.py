"""`agents selftest`: regression checks of the screen classifiers, with no config needed.

Each preset is checked against sample screens: the screen must (or must not) match a given
regex of the preset. The samples are copied from the real screens in the reference set (and
the demo agent's, which copy Claude Code's), including look-alikes that must NOT match.
"""

from __future__ import annotations

from agent_orchestrator import config as config_mod

# (preset, regex key, screen, should match)
SAMPLES: tuple[tuple[str, str, str, bool], ...] = (
    ("demo", "active_re", "✢ Warping… (3s · esc to interrupt)\n───\n❯ \n───\n"
     "  esc to interrupt", True),
    ("demo", "active_re", "● Done: hello\n✻ Worked for 3s\n───\n❯ \n───\n  ? for shortcuts",
     False),
    ("demo", "limit_re", "  ⎿  You've hit your session limit · resets 7:58am (UTC)", True),
    ("demo", "limit_re", "● I checked: 75% of your limit used, plenty left.", False),
    ("demo", "fatal_re", '  ⎿  API Error: 401 {"type":"error","error":{"type":'
     '"authentication_error"}} · Please run /login', True),
    ("demo", "fatal_re", "● Done: fixed the error handling", False),
    ("demo", "prompt_re", " Bash command\n   npm test\n Do you want to proceed?\n ❯ 1. Yes",
     True),
)


def run() -> list[tuple[str, bool, str]]:
    """(check name, passed, detail) for every sample."""
    results = []
    for preset, key, screen, should_match in SAMPLES:
        name = f"{preset}.{key} {'matches' if should_match else 'ignores'} " \
               f"{screen.strip().splitlines()[0][:50]!r}"
        try:
            pattern = getattr(config_mod.builtin_backend(preset), key)
        except ValueError as exc:
            results.append((name, False, f"preset does not compile: {exc}"))
            continue
        if pattern is None:
            results.append((name, False, "preset has no such regex"))
            continue
        matched = pattern.search(screen) is not None
        results.append((name, matched == should_match,
                        "matched" if matched else "did not match"))
    return results
