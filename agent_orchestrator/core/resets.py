"""Reading usage-limit reset times out of agent screens (SPEC §4 limit rule).

Pure functions, standard library only:

- `parse_reset(text, now)`: the reset time a limit banner announces, as an aware datetime,
  or None when the text holds none.
- `suspicious(reset, now)`: a parsed time not to be trusted (in the past, or over 7 days off).
- `is_limit_warning(line)`: an "approaching your limit" line, which is not a limit.

Forms read (agent-cli-signals.md §1.3, §2.3, §3, §4, §8, §9):

- after a keyword (`resets`, `reset at`, `try again [at|on]`, `retry [in]`, `retrying in`,
  `available [again] at`, `cycle ends on`): a time of day (`3pm`, `10:30pm`, `7:48 AM`,
  `07:48`), a month-name date with optional year and time (`Oct 24`, `Jul 31, 2am`,
  `Jul 27 at 4:30am`, `Sep 15th, 2026 11:51 AM`, `Aug 18`), a `9/23/2026` date (month first,
  as Cursor prints it), an ISO date, Codex's Spanish date (`10 de jul. de 2026, 11:52`);
  each optionally followed by a zone (the names core/timetext.py reads);
- a relative duration after `in` (`resets in 6d`, `try again in 5 days 22 hours 11 minutes`,
  `retrying in 7m 56s`, `retry in 39.0068s`), or a bare compact one (`in 45m`, `in 2h 13m`);
- `Claude AI usage limit reached|1762952400` (epoch seconds);
- ISO timestamps anywhere (`2026-11-21T15:00:00Z`, `2026-11-21 15:00:00+01:00`);
- Kiro's `return tomorrow` (next local midnight) and `return next month` (1st, 00:00 UTC).

Zones: a time printed without a zone is in `now`'s zone (the agent host's local zone). An
unknown zone name is treated as that local zone too: the time is still returned, since a
reset off by a few hours is better than no reset, and `suspicious` catches wild results.

Dates: a time of day without a date that is already past means tomorrow (midnight rollover),
unless it passed less than `past_grace` ago (default 1 hour): then it is a banner still on
screen after its reset, and the (past) time is returned so that `suspicious` reports it,
instead of a reset a day away. A month-name date without a year more than a day in the past
means next year. When several forms appear, the one that starts first in the text wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from agent_orchestrator.core import timetext

SUSPICIOUS_AHEAD = timedelta(days=7)
PAST_GRACE = timedelta(hours=1)
YEAR_ROLLOVER_GRACE = timedelta(days=1)

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}
# Codex's Spanish-localised dates (`10 de jul. de 2026`).
_MONTHS_ES = {
    "ene": 1, "feb": 2, "mar": 3, "abr": 4, "may": 5, "jun": 6,
    "jul": 7, "ago": 8, "sep": 9, "set": 9, "oct": 10, "nov": 11, "dic": 12,
}

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?"
          r"|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
# A time of day: with am/pm (`3pm`, `10:30 pm`, `7:48 AM`, `4 a.m.`) or 24-hour `07:48`.
_TIME = (r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>[ap])\.?m\b\.?"
         r"|(?P<hour24>\d{1,2}):(?P<minute24>\d{2})(?![\d:])")
_TIME_RE = re.compile(_TIME, re.I)

# The keyword a reset time follows, with the preposition that says how it is given.
_KEYWORD_RE = re.compile(
    r"\b(?:resets?|try(?:ing)?\s+again|retry(?:ing)?|available(?:\s+again)?|cycle\s+ends)"
    r"(?:\s+(?P<prep>at|on|in|after))?\b",
    re.I,
)
_UNIT = (r"(?P<unit>weeks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)")
_DURATION_PART_RE = re.compile(
    rf"[ \t]*(?:,[ \t]*)?(?:and[ \t]+)?(?P<num>\d+(?:\.\d+)?)[ \t]*{_UNIT}(?![a-z])", re.I
)
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_BARE_RELATIVE_RE = re.compile(r"\bin\s+(?=\d+(?:\.\d+)?[dhms](?![a-z]))", re.I)
_DATE_NAME_RE = re.compile(
    rf"(?P<mon>{_MONTH})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b"
    r"(?:,?\s+(?P<year>\d{4})\b)?",
    re.I,
)
_DATE_MDY_RE = re.compile(r"(?P<mon>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})\b")
_DATE_ISO_RE = re.compile(r"(?P<year>\d{4})-(?P<mon>\d{2})-(?P<day>\d{2})(?![\dT:])")
_DATE_ES_RE = re.compile(
    r"(?P<day>\d{1,2})\s+de\s+(?P<mon>[a-z]{3,4})\.?\s+de\s+(?P<year>\d{4})\b", re.I
)
_DATE_TIME_SEP_RE = re.compile(r"\s*,?\s*(?:at\s+)?", re.I)
_EPOCH_RE = re.compile(r"usage limit reached\|(?P<epoch>\d{10})\b", re.I)
_ISO_RE = re.compile(
    r"\b(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r"(?:[ \t]*(?P<zone>Z|[+-]\d{2}(?::?\d{2})?|UTC)\b)?(?![\d:])"
)
_TOMORROW_RE = re.compile(r"\breturn\s+tomorrow\b", re.I)
_NEXT_MONTH_RE = re.compile(r"\breturn\s+next\s+month\b", re.I)
_SPACES_RE = re.compile(r"[\s\xa0]+")

_WARNING_RE = re.compile(
    r"\bapproaching\b.{0,40}\blimits?\b"
    r"|\bheads up\b.*\blimit\b"
    r"|\b\d{1,3}\s?% of (?:your|the)\b.{0,40}\blimit\b"
    r"|\blimits?:\s*(?:only\s+)?<?\s?\d{1,3}\s?%\s*(?:left|used|remaining)\b",
    re.I,
)


def is_limit_warning(line: str) -> bool:
    """True for a line that warns of a coming limit but is not one.

    Claude's `Approaching usage limit · resets at 2am` / `Approaching Opus usage limit`,
    Codex's `⚠ Heads up, you've used over 75% of your 5h limit.`, its `Approaching rate
    limits` model-switch menu and `⚠ 5h limit: only <1% left · resets at 07:48` status line,
    and meters such as `75% of your limit used`.
    """
    return _WARNING_RE.search(line) is not None


def suspicious(reset: datetime, now: datetime) -> bool:
    """True when `reset` is in the past or more than 7 days after `now`: don't trust it."""
    return reset < now or reset - now > SUSPICIOUS_AHEAD


def parse_reset(text: str, now: datetime, *,
                past_grace: timedelta = PAST_GRACE) -> datetime | None:
    """The reset time announced in `text`, aware, or None when none can be read.

    `now` must be aware, in the agent host's local zone. See the module docstring for the
    forms, zones and date rules.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    flat = _SPACES_RE.sub(" ", text)
    best: tuple[int, datetime] | None = None
    for start, found in _candidates(flat, now, past_grace):
        if best is None or start < best[0]:
            best = (start, found)
    return best[1] if best else None


# ----------------------------------------------------------------------------- internals

_Finder = Callable[[str, datetime, timedelta], Iterator[tuple[int, datetime]]]


def _candidates(text: str, now: datetime, grace: timedelta) -> Iterator[tuple[int, datetime]]:
    for finder in _FINDERS:
        yield from finder(text, now, grace)


def _after_keyword(text: str, now: datetime, grace: timedelta) -> Iterator[tuple[int, datetime]]:
    for kw in _KEYWORD_RE.finditer(text):
        pos = kw.end()
        while pos < len(text) and text[pos] == " ":
            pos += 1
        prep = (kw.group("prep") or "").lower()
        if prep == "in":
            found = _relative(text, pos, now)
        else:
            found = _absolute(text, pos, now, grace)
            if found is None and prep == "after":
                found = _relative(text, pos, now)
        if found is not None:
            yield kw.start(), found


def _bare_relative(text: str, now: datetime, grace: timedelta) -> Iterator[tuple[int, datetime]]:
    for m in _BARE_RELATIVE_RE.finditer(text):
        found = _relative(text, m.end(), now)
        if found is not None:
            yield m.start(), found


def _epoch(text: str, now: datetime, grace: timedelta) -> Iterator[tuple[int, datetime]]:
    for m in _EPOCH_RE.finditer(text):
        stamp = datetime.fromtimestamp(int(m.group("epoch")), tz=UTC)
        yield m.start(), stamp.astimezone(now.tzinfo)


def _iso(text: str, now: datetime, grace: timedelta) -> Iterator[tuple[int, datetime]]:
    for m in _ISO_RE.finditer(text):
        zone = m.group("zone") or ""
        found = timetext.parse_iso(f"{m.group('date')}T{m.group('time')}"
                                   f"{'+00:00' if zone == 'UTC' else zone}", now.tzinfo)
        if found is not None:
            yield m.start(), found


def _kiro(text: str, now: datetime, grace: timedelta) -> Iterator[tuple[int, datetime]]:
    for m in _TOMORROW_RE.finditer(text):
        yield m.start(), _at(now.date() + timedelta(days=1), time(0), now.tzinfo)
    for m in _NEXT_MONTH_RE.finditer(text):
        utc_now = now.astimezone(UTC)
        year, month = divmod(utc_now.year * 12 + utc_now.month, 12)  # month is 0-based here
        yield m.start(), datetime(year, month + 1, 1, tzinfo=UTC)


_FINDERS: tuple[_Finder, ...] = (_after_keyword, _bare_relative, _epoch, _iso, _kiro)


def _relative(text: str, pos: int, now: datetime) -> datetime | None:
    """`now` plus the duration written at `pos` (`5 days 22 hours 11 minutes`, `2h 13m`)."""
    total = 0.0
    seen = False
    while True:
        m = _DURATION_PART_RE.match(text, pos)
        if m is None:
            break
        unit = m.group("unit").lower()
        key = "m" if unit.startswith("min") or unit == "m" else unit[0]
        total += float(m.group("num")) * _UNIT_SECONDS[key]
        seen = True
        pos = m.end()
    return now + timedelta(seconds=total) if seen else None


def _absolute(text: str, pos: int, now: datetime, grace: timedelta) -> datetime | None:
    """A date and/or time of day written at `pos`, with an optional zone after it."""
    day: tuple[int | None, int, int] | None = None  # (year or None, month, day)
    m = (_DATE_NAME_RE.match(text, pos) or _DATE_MDY_RE.match(text, pos)
         or _DATE_ISO_RE.match(text, pos) or _DATE_ES_RE.match(text, pos))
    if m is not None:
        day = _date_parts(m)
        if day is None:
            return None
        pos = m.end()
        sep = _DATE_TIME_SEP_RE.match(text, pos)
        t = _TIME_RE.match(text, sep.end()) if sep else None
    else:
        t = _TIME_RE.match(text, pos)
    clock: time | None = None
    if t is not None:
        clock = _clock(t)
        if clock is None:
            return None
        pos = t.end()
    elif day is None:
        return None
    zone = timetext.zone_at(text, pos, now.tzinfo)
    if day is None:
        assert clock is not None
        return _next_time_of_day(clock, zone, now, grace)
    return _resolve_date(day, clock or time(0), zone, now)


def _date_parts(m: re.Match[str]) -> tuple[int | None, int, int] | None:
    mon = m.group("mon").lower()
    if mon.isdigit():
        month = int(mon)
    elif m.re is _DATE_ES_RE:
        month = _MONTHS_ES.get(mon[:3], 0)
    else:
        month = _MONTHS.get(mon[:3], 0)
    year = int(m.group("year")) if m.group("year") else None
    dd = int(m.group("day"))
    try:
        date(year or 2000, month, dd)  # 2000: a leap year, so Feb 29 passes without a year
    except ValueError:
        return None
    return year, month, dd


def _clock(m: re.Match[str]) -> time | None:
    if m.group("hour24") is not None:
        hour, minute = int(m.group("hour24")), int(m.group("minute24"))
        if hour > 23 or minute > 59:
            return None
        return time(hour, minute)
    hour, minute = int(m.group("hour")), int(m.group("minute") or 0)
    if not 1 <= hour <= 12 or minute > 59:
        return None
    hour %= 12
    if m.group("ampm").lower() == "p":
        hour += 12
    return time(hour, minute)


def _at(day: date, clock: time, zone: tzinfo | None) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone)


def _next_time_of_day(clock: time, zone: tzinfo | None, now: datetime,
                      grace: timedelta) -> datetime:
    """Today's `clock` in `zone`; tomorrow's when today's passed more than `grace` ago."""
    today = now.astimezone(zone).date()
    found = _at(today, clock, zone)
    if found < now - grace:
        found = _at(today + timedelta(days=1), clock, zone)
    return found


def _resolve_date(day: tuple[int | None, int, int], clock: time, zone: tzinfo | None,
                  now: datetime) -> datetime | None:
    year, month, dd = day
    if year is not None:
        try:
            return _at(date(year, month, dd), clock, zone)
        except ValueError:
            return None
    this_year = now.astimezone(zone).year
    for y in (this_year, this_year + 1):
        try:
            found = _at(date(y, month, dd), clock, zone)
        except ValueError:  # Feb 29 in a common year
            continue
        if found >= now - YEAR_ROLLOVER_GRACE:
            return found
    return None
