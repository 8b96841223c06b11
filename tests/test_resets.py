"""resets: reset times from real limit banners (agent-cli-signals.md §1.3, §2.3, §3-§9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest

from agent_orchestrator.core.resets import is_limit_warning, parse_reset, suspicious

BERLIN = ZoneInfo("Europe/Berlin")

NOW = datetime(2026, 11, 21, 14, 10, tzinfo=BERLIN)  # the default clock: 13:10 UTC
EARLY = datetime(2026, 11, 21, 6, 50, tzinfo=BERLIN)  # when the Codex capture was taken
LATE = datetime(2026, 11, 21, 23, 30, tzinfo=BERLIN)  # for the midnight rollover
OCT = datetime(2026, 10, 20, 10, 0, tzinfo=BERLIN)
JUL = datetime(2026, 7, 25, 12, 0, tzinfo=BERLIN)
DEC = datetime(2026, 12, 30, 18, 0, tzinfo=BERLIN)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
       zone: str | timezone = "Europe/Berlin") -> datetime:
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    return datetime(year, month, day, hour, minute, tzinfo=tz)


class Case(NamedTuple):
    id: str
    text: str
    expected: datetime
    now: datetime = NOW


CODEX_PLUS = ("■ You've hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), "
              "visit https://chatgpt.com/codex/settings/usage to purchase more credits or ")

CASES = [
    # --- Claude Code, every era (§1.3) ---
    Case("claude-v1-chicago",
         "Claude usage limit reached. Your limit will reset at 9am (America/Chicago).",
         at(2026, 11, 21, 9, 0, "America/Chicago")),
    Case("claude-v1-result-line",
         " ⎿  Claude usage limit reached. Your limit will reset at 9am (America/Chicago).",
         at(2026, 11, 21, 9, 0, "America/Chicago")),
    Case("claude-v1-etc-gmt-posix-inverted",
         "Claude usage limit reached. Your limit will reset at 1pm (Etc/GMT+5).",
         at(2026, 11, 21, 18, 0, UTC)),
    Case("claude-v1-no-zone-midnight",
         "Claude usage limit reached. Your limit will reset at 12am.",
         at(2026, 11, 22, 0, 0)),
    Case("claude-v1-wrapped-line",
         "Claude usage limit reached. Your limit will reset\n     at 3pm (America/Santiago).",
         at(2026, 11, 21, 15, 0, "America/Santiago")),
    Case("claude-v1-taipei-passed-tomorrow",
         "Claude usage limit reached. Your limit will reset at 5pm (Asia/Taipei).",
         at(2026, 11, 22, 17, 0, "Asia/Taipei")),
    Case("claude-print-epoch", "Claude AI usage limit reached|1762952400",
         at(2025, 11, 12, 13, 0, UTC)),
    Case("claude-5h-passed-tomorrow", "5-hour limit reached ∙ resets 5am", at(2026, 11, 22, 5, 0)),
    Case("claude-5h-result-line", "  ⎿  5-hour limit reached ∙ resets 5pm",
         at(2026, 11, 21, 17, 0)),
    Case("claude-5h-seoul-upgrade",
         "5-hour limit reached · resets 6am (Asia/Seoul) · /upgrade to Max 20x or turn on "
         "/extra-usage",
         at(2026, 11, 22, 6, 0, "Asia/Seoul")),
    Case("claude-opus-weekly-date-time", "Opus weekly limit reached ∙ resets Oct 31, 9am",
         at(2026, 10, 31, 9, 0), OCT),
    Case("claude-opus-weekly-date-only-midnight", "Opus weekly limit reached ∙ resets Oct 24",
         at(2026, 10, 24, 0, 0), OCT),
    Case("claude-session-v2", "Session limit reached ∙ resets 8pm", at(2026, 11, 21, 20, 0)),
    Case("claude-hit-new-york", "You've hit your limit · resets 10pm (America/New_York)",
         at(2026, 11, 21, 22, 0, "America/New_York")),
    Case("claude-hit-rome-minutes", "You've hit your limit · resets 4:50am (Europe/Rome)",
         at(2026, 11, 22, 4, 50, "Europe/Rome")),
    Case("claude-hit-no-zone", "You've hit your limit · resets 3pm", at(2026, 11, 21, 15, 0)),
    Case("claude-session-los-angeles",
         "You've hit your session limit · resets 12:50am (America/Los_Angeles)",
         at(2026, 11, 22, 0, 50, "America/Los_Angeles")),
    Case("claude-session-tokyo-passed-tomorrow",
         "You've hit your session limit · resets 8:30pm (Asia/Tokyo)",
         at(2026, 11, 22, 20, 30, "Asia/Tokyo")),
    Case("claude-real-capture-utc",
         "  ⎿ \xa0You've hit your session limit · resets 7:58am (UTC)",
         at(2026, 11, 22, 7, 58, UTC)),
    Case("claude-real-capture-utc-early",
         "  ⎿ \xa0You've hit your session limit · resets 7:58am (UTC)",
         at(2026, 11, 21, 7, 58, UTC), EARLY),
    Case("claude-hit-berlin-half-hour", "You've hit your limit · resets 10:30pm (Europe/Berlin)",
         at(2026, 11, 21, 22, 30)),
    Case("claude-weekly-comma-utc", "You've hit your weekly limit · resets Jul 31, 2am (UTC)",
         at(2026, 7, 31, 2, 0, UTC), JUL),
    Case("claude-weekly-at-calcutta",
         "You've hit your weekly limit · resets Jul 27 at 4:30am (Asia/Calcutta)",
         at(2026, 7, 27, 4, 30, "Asia/Kolkata"), JUL),
    Case("claude-weekly-same-day-new-york",
         "You've hit your weekly limit · resets Jul 25, 9pm (America/New_York)",
         at(2026, 7, 25, 21, 0, "America/New_York"), JUL),
    Case("claude-weekly-date-past-next-year", "You've hit your weekly limit · resets Sep 15 at 7pm",
         at(2027, 9, 15, 19, 0)),
    Case("claude-weekly-relative-days", "resets in 6d", NOW + timedelta(days=6)),
    Case("claude-relative-hours", "resets in 2h", NOW + timedelta(hours=2)),
    Case("claude-warning-still-readable", "Approaching usage limit · resets at 2am",
         at(2026, 11, 22, 2, 0)),
    # --- Codex (§2.3) ---
    Case("codex-plus-time", CODEX_PLUS + "try again at 3:28 PM.", at(2026, 11, 21, 15, 28)),
    Case("codex-pro-date",
         "■ You've hit your usage limit. Visit https://chatgpt.com/codex/settings/usage to "
         "purchase more credits or try again at Sep 15th, 2026 11:51 AM.",
         at(2026, 9, 15, 11, 51)),
    Case("codex-team-date",
         "■ You've hit your usage limit. To get more access now, send a request to your admin "
         "or try again at Aug 8th, 2026 12:30 PM.",
         at(2026, 8, 8, 12, 30)),
    Case("codex-enterprise-time", "■ You've hit your usage limit. Try again at 3:28 PM.",
         at(2026, 11, 21, 15, 28)),
    Case("codex-evening-time", "Try again at 7:48 PM.", at(2026, 11, 21, 19, 48)),
    Case("codex-real-capture-wrapped",
         "■ You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), "
         "visit https://chatgpt.com/settings/\nusage to purchase more credits or try again at "
         "7:49 AM.",
         at(2026, 11, 21, 7, 49), EARLY),
    Case("codex-rel-days-wrapped",
         "■ You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) or "
         "try again in 5 days 22 hours 11\nminutes.",
         NOW + timedelta(days=5, hours=22, minutes=11)),
    Case("codex-rel-hours-old-glyph",
         "🖐  You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) "
         "or try again in 3 hours 2 minutes.",
         NOW + timedelta(hours=3, minutes=2)),
    Case("codex-admin-relative",
         "You've hit your usage limit. To get more access now, send a request to your admin or "
         "try again in 3 days 6 hours 57 minutes.",
         NOW + timedelta(days=3, hours=6, minutes=57)),
    Case("codex-rel-two-units", "try again in 2 hours 13 minutes",
         NOW + timedelta(hours=2, minutes=13)),
    Case("bare-compact-minutes", "in 45m", NOW + timedelta(minutes=45)),
    Case("bare-compact-hours-minutes", "in 2h 13m", NOW + timedelta(hours=2, minutes=13)),
    Case("codex-exec-json-date-only",
         '{"type":"error","message":"You\'ve hit your usage limit. Try again Aug 18."}',
         at(2027, 8, 18, 0, 0)),
    Case("codex-localized-spanish",
         "You've hit your usage limit. Upgrade your plan to continue, or try again at "
         "10 de jul. de 2026, 11:52.",
         at(2026, 7, 10, 11, 52)),
    Case("codex-status-24h", "⚠ 5h limit: only <1% left · resets at 07:48 · /status",
         at(2026, 11, 21, 7, 48), EARLY),
    # --- Gemini (§3) ---
    Case("gemini-access-resets-pst", "Usage limit reached for all Pro models.\n"
         "Access resets at 3:45 PM PST.", at(2026, 11, 21, 15, 45, timezone(timedelta(hours=-8)))),
    Case("gemini-access-resets-pdt", "Access resets at 3:45 PM PDT.",
         at(2026, 11, 21, 15, 45, timezone(timedelta(hours=-7)))),
    Case("gemini-access-resets-gmt-offset", "Access resets at 9:15 PM GMT+5:30.",
         at(2026, 11, 21, 21, 15, "Asia/Kolkata")),
    Case("gemini-rpm-retry-seconds",
         '✕ [API Error: {"error":{"code":429,"message":"You exceeded your current quota ... '
         'Please retry in 39.006833842s.","status":"RESOURCE_EXHAUSTED"}}]',
         NOW + timedelta(seconds=39.006833842)),
    # --- opencode (§4) ---
    Case("opencode-cooldown",
         "All credentials for model claude-opus-4-8 are cooling down [retrying in 7m 56s "
         "attempt #1]",
         NOW + timedelta(minutes=7, seconds=56)),
    Case("opencode-retry-footer",
         "⬝⬝⬝⬝⬝■■■ This model is currently experiencing high demand. Spikes in demand are "
         "usually t… [retrying in 5s attempt #3",
         NOW + timedelta(seconds=5)),
    Case("opencode-real-rate-limit",
         "Rate limit reached for fake-model in organization org-fake on requests per min (RPM): "
         "Limit 500, Used 500,\nRequested 1. Please try again in 2s. Visit "
         "https://platform.openai.com/account/rate-limits to learn more.",
         NOW + timedelta(seconds=2)),
    # --- Cursor, Kiro (§8, §9) ---
    Case("cursor-monthly-cycle",
         "You've hit your usage limit · you saved $312 on API model usage. Usage will reset "
         "when your monthly cycle ends on 9/23/2026.",
         at(2026, 9, 23, 0, 0)),
    Case("kiro-daily-tomorrow",
         "You've reached your daily usage limit. Please return tomorrow to continue building.",
         at(2026, 11, 22, 0, 0)),
    Case("kiro-monthly-next-month-utc",
         "You've reached your monthly usage limit. Please return next month to continue "
         "building. (Request ID: d4c274b2-56d0-4296-8122-68ec40c51e39)",
         at(2026, 12, 1, 0, 0, UTC)),
    Case("kiro-usage-iso-date", "Estimated Usage | resets on 2026-06-01 | KIRO PRO",
         at(2026, 6, 1, 0, 0)),
    # --- ISO timestamps ---
    Case("iso-zulu", "2026-11-21T15:00:00Z", at(2026, 11, 21, 15, 0, UTC)),
    Case("iso-space-offset", "2026-11-21 15:00:00+01:00", at(2026, 11, 21, 15, 0)),
    Case("iso-naive-is-local", "limit resets at 2026-11-21T16:30", at(2026, 11, 21, 16, 30)),
    # --- midnight and year rollover ---
    Case("late-1am-is-tomorrow", "You've hit your limit · resets 1am", at(2026, 11, 22, 1, 0),
         LATE),
    Case("late-midnight", "Claude usage limit reached. Your limit will reset at 12am.",
         at(2026, 11, 22, 0, 0), LATE),
    Case("late-los-angeles-next-day",
         "You've hit your session limit · resets 12:50am (America/Los_Angeles)",
         at(2026, 11, 22, 0, 50, "America/Los_Angeles"), LATE),
    Case("late-codex-morning", "try again at 7:48 AM", at(2026, 11, 22, 7, 48), LATE),
    Case("late-same-evening-zone", "You've hit your limit · resets 6:15pm (America/New_York)",
         at(2026, 11, 21, 18, 15, "America/New_York"), LATE),
    Case("december-january-next-year", "Opus weekly limit reached ∙ resets Jan 3, 9am",
         at(2027, 1, 3, 9, 0), DEC),
    # --- zones ---
    Case("unknown-zone-is-local", "You've hit your limit · resets 3pm (Mars/Olympus_Mons)",
         at(2026, 11, 21, 15, 0)),
    Case("bare-iana-zone", "You've hit your limit · resets 3pm America/New_York",
         at(2026, 11, 21, 15, 0, "America/New_York")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_parse_reset(case: Case) -> None:
    got = parse_reset(case.text, case.now)
    assert got is not None and got.tzinfo is not None and got.utcoffset() is not None
    assert got == case.expected, f"{got.isoformat()} != {case.expected.isoformat()}"


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


def test_zone_is_kept_in_the_result() -> None:
    got = parse_reset("You've hit your weekly limit · resets Jul 27 at 4:30am (Asia/Calcutta)",
                      JUL)
    assert got is not None and got.utcoffset() == timedelta(hours=5, minutes=30)
    local = parse_reset("You've hit your limit · resets 3pm", NOW)
    assert local is not None and local.tzinfo is BERLIN


class Late(NamedTuple):
    id: str
    text: str
    now: datetime
    expected: datetime


# A time of day that passed under an hour ago is a banner still on screen after its reset:
# today's (past) time is returned, so `suspicious` flags it, instead of a reset a day away.
GRACE = [
    Late("passed-15-minutes-ago", "Try again at 11:15 PM.", LATE, at(2026, 11, 21, 23, 15)),
    Late("passed-59-minutes-ago", "You've hit your limit · resets 2pm",
         at(2026, 11, 21, 14, 59), at(2026, 11, 21, 14, 0)),
    Late("passed-61-minutes-ago", "You've hit your limit · resets 2pm",
         at(2026, 11, 21, 15, 1), at(2026, 11, 22, 14, 0)),
    Late("exactly-now", "You've hit your limit · resets 2pm", at(2026, 11, 21, 14, 0),
         at(2026, 11, 21, 14, 0)),
]


@pytest.mark.parametrize("case", GRACE, ids=[c.id for c in GRACE])
def test_just_passed_time_stays_today(case: Late) -> None:
    assert parse_reset(case.text, case.now) == case.expected


def test_grace_can_be_turned_off() -> None:
    got = parse_reset("Try again at 11:15 PM.", LATE, past_grace=timedelta(0))
    assert got == at(2026, 11, 22, 23, 15)


class Zone(NamedTuple):
    name: str
    hours: float


SHORT_ZONES = [
    Zone("PST", -8), Zone("PDT", -7), Zone("MST", -7), Zone("MDT", -6), Zone("CST", -6),
    Zone("CDT", -5), Zone("EST", -5), Zone("EDT", -4), Zone("UTC", 0), Zone("GMT", 0),
    Zone("CET", 1), Zone("CEST", 2), Zone("BST", 1), Zone("IST", 5.5), Zone("JST", 9),
]


@pytest.mark.parametrize("zone", SHORT_ZONES, ids=[z.name for z in SHORT_ZONES])
def test_short_zone_names(zone: Zone) -> None:
    got = parse_reset(f"Access resets at 11:45 PM {zone.name}.", NOW)
    assert got is not None
    assert got.utcoffset() == timedelta(hours=zone.hours)
    assert (got.hour, got.minute) == (23, 45)


LOOKALIKES = {
    "usage-meter": "75% of your limit used",
    "prose-try-again": "I will try again in a moment",
    "prose-reset-at": "the tests reset at startup",
    "bare-time": "3pm",
    "time-without-keyword": "Let's meet at 3pm (Europe/Berlin) to review the tests",
    "codex-try-again-later": "■ You've hit your usage limit. Try again later.",
    "codex-free-no-time": "You've hit your usage limit. Upgrade to Plus to continue using Codex "
                          "(https://openai.com/chatgpt/pricing).",
    "codex-heads-up": "⚠ Heads up, you've used over 75% of your 5h limit. Run /status for a "
                      "breakdown.",
    "claude-rate-limit-not-usage": "● API Error: Server is temporarily limiting requests (not "
                                   "your usage limit) · This request would exceed the rate",
    "claude-overloaded-moment": "● API Error: 529 Overloaded. This is a server-side issue, "
                                "usually temporary — try again in a moment. If it",
    "claude-limit-menu": "  What do you want to do?\n  ❯ 1. Stop and wait for limit to reset\n"
                         "    2. Upgrade your plan",
    "gemini-no-time": "│ Usage limit reached for gemini-2.5-flash.      │",
    "gemini-daily-quota": "✕ [API Error: You have exhausted your daily quota on this model.]\n"
                          "  Please wait and try again later. To increase your limits, request a "
                          "quota increase through AI Studio",
    "opencode-free": "Free usage exceeded, subscribe to Go",
    "claude-spinner": "✢ Warping… (3s · esc to interrupt)",
    "claude-turn-summary": "✻ Worked for 45s",
    "codex-quota-exceeded": "Quota exceeded. Check your plan and billing details.",
    "invalid-hour": "You've hit your limit · resets 13pm",
    "invalid-24h": "⚠ 5h limit: only <1% left · resets at 25:00",
    "invalid-date": "Opus weekly limit reached ∙ resets Feb 30",
    "empty": "",
}


@pytest.mark.parametrize("text", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_lookalikes_have_no_reset(text: str) -> None:
    assert parse_reset(text, NOW) is None


def test_first_reset_in_the_text_wins() -> None:
    text = ("You've hit your weekly limit · resets Jul 25, 9pm (America/New_York)\n"
            "resets in 6d")
    assert parse_reset(text, JUL) == at(2026, 7, 25, 21, 0, "America/New_York")


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_reset("resets 3pm", datetime(2026, 11, 21, 14, 10))


WARNINGS = {
    "claude-approaching-at": "Approaching usage limit · resets at 2am",
    "claude-approaching-opus": "Approaching Opus usage limit",
    "codex-heads-up-5h": "⚠ Heads up, you've used over 75% of your 5h limit. Run /status for a "
                         "breakdown.",
    "codex-heads-up-weekly": "⚠ Heads up, you've used over 90% of your weekly limit.",
    "codex-switch-menu": "  Approaching rate limits",
    "codex-status-line": "   ⚠ 5h limit: only <1% left · resets at 07:48 · /status",
    "usage-meter": "75% of your limit used",
}
NOT_WARNINGS = {
    "claude-hit": "  ⎿ \xa0You've hit your session limit · resets 7:58am (UTC)",
    "claude-5h": "5-hour limit reached ∙ resets 5am",
    "claude-v1": "Claude usage limit reached. Your limit will reset at 9am (America/Chicago).",
    "codex-hit": "■ You’ve hit your usage limit. Try again at 3:28 PM.",
    "gemini-hit": "Usage limit reached for all Pro models.",
    "opencode-hit": "The usage limit has been reached",
    "prose": "I am approaching the end of the refactor.",
}


@pytest.mark.parametrize("line", WARNINGS.values(), ids=WARNINGS.keys())
def test_limit_warnings(line: str) -> None:
    assert is_limit_warning(line) is True


@pytest.mark.parametrize("line", NOT_WARNINGS.values(), ids=NOT_WARNINGS.keys())
def test_not_limit_warnings(line: str) -> None:
    assert is_limit_warning(line) is False


class Suspicion(NamedTuple):
    id: str
    reset: datetime
    expected: bool


SUSPICIONS = [
    Suspicion("one-hour-ahead", NOW + timedelta(hours=1), False),
    Suspicion("now", NOW, False),
    Suspicion("same-instant-other-zone", NOW.astimezone(UTC), False),
    Suspicion("exactly-seven-days", NOW + timedelta(days=7), False),
    Suspicion("seven-days-and-a-second", NOW + timedelta(days=7, seconds=1), True),
    Suspicion("a-minute-ago", NOW - timedelta(minutes=1), True),
    Suspicion("last-year", at(2025, 11, 12, 13, 0, UTC), True),
    Suspicion("next-year", at(2027, 9, 15, 19, 0), True),
]


@pytest.mark.parametrize("case", SUSPICIONS, ids=[c.id for c in SUSPICIONS])
def test_suspicious(case: Suspicion) -> None:
    assert suspicious(case.reset, NOW) is case.expected


def test_parsed_stale_banner_is_suspicious() -> None:
    reset = parse_reset("Try again at 11:15 PM.", LATE)
    assert reset is not None and suspicious(reset, LATE)
    fresh = parse_reset("You've hit your limit · resets 1am", LATE)
    assert fresh is not None and not suspicious(fresh, LATE)
