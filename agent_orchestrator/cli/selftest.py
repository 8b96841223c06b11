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
    # Real CLIs (shared/reference/screens, agent-cli-signals.md): one banner each and the
    # agent's own prose that mentions it.
    ("claude", "limit_re", "  ⎿  You've hit your limit · resets 3pm (Europe/Berlin)", True),
    ("claude", "limit_re", "● The docs say \"You've hit your limit\" means wait.", False),
    ("claude", "prompt_re", " Do you want to proceed?\n ❯ 1. Yes\n   2. No", True),
    ("codex", "limit_re", "■ You’ve hit your usage limit. Upgrade to Pro or try again at "
     "7:49 AM.", True),
    ("codex", "limit_re", "• I read that you’ve hit your usage limit before; not now.", False),
    ("codex", "active_re", "• Working (12s • esc to interrupt)", True),
    ("gemini", "limit_re", "│ Usage limit reached for gemini-2.5-pro.", True),
    ("gemini", "fatal_re", "✕ [API Error: API key not valid. Please pass a valid API key.]",
     True),
    ("gemini", "prompt_re", "│ Allow execution of: 'ls'?", True),
    ("opencode", "limit_re", "  ┃  The usage limit has been reached", True),
    ("opencode", "limit_re", "  ┃  Rate limit reached for fake-model in organization org-fake "
     "on requests per min (RPM)", False),
    ("opencode", "prompt_re", "  ┃  △ Permission required", True),
    ("aider", "limit_re", "The API provider has rate limited you. Try again later or check "
     "your quotas.", True),
    ("aider", "prompt_re", "Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]:", True),
    ("aider", "prompt_re", "Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]: y", False),
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
