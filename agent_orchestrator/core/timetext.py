"""Times and time zones written as text: ISO 8601 timestamps and zone names, read aware.

Pure, standard library only. Used by the reset times of limit banners (core/resets.py) and
by `WAITING-UNTIL: <ISO>` markers (core/screen.py).

Zone names (`zone_at`): `(Europe/Berlin)`, `(UTC)`, `(Etc/GMT+5)`, a bare IANA name, a
short name (`PST`, `CEST`, ...) or `UTC+5:30` / `GMT-3`. Short names are fixed offsets
(`PST` = UTC-8, `PDT` = UTC-7, `IST` = India, `BST` = British Summer Time), which is what
`Intl` short names mean; `Etc/GMT+5` is POSIX-inverted (UTC-5) and goes through zoneinfo,
while a bare `GMT+5` / `UTC+5` means UTC+5. An offset beyond 14 hours or an unknown name is
no zone.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

# Short zone names as `Intl.DateTimeFormat(..., {timeZoneName: "short"})` and people print them.
SHORT_ZONES: dict[str, float] = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1,
    "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "MSK": 3,
    "IST": 5.5, "SGT": 8, "HKT": 8, "JST": 9, "KST": 9,
    "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
    "HST": -10, "AKST": -9, "AKDT": -8, "PST": -8, "PDT": -7,
    "MST": -7, "MDT": -6, "CST": -6, "CDT": -5, "EST": -5, "EDT": -4,
}
MAX_OFFSET = timedelta(hours=14)  # the widest offset any zone has
_SHORT_NAMES = "|".join(sorted(SHORT_ZONES, key=len, reverse=True))
_ZONE_RE = re.compile(
    r"[ \t]*(?:\((?P<paren>[^()\n]{1,40})\)"
    rf"|(?P<offset>(?:UTC|GMT)[+-]\d{{1,2}}(?::?\d{{2}})?)(?![\w/])"
    r"|(?P<iana>[A-Z][A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)+)"
    rf"|(?P<short>{_SHORT_NAMES})\b)"
)
_OFFSET_RE = re.compile(r"(?:UTC|GMT)([+-])(\d{1,2})(?::?(\d{2}))?")


def parse_iso(text: str, zone: tzinfo | None) -> datetime | None:
    """The time `text` is, written as `datetime.fromisoformat` reads ISO 8601
    (`2026-11-21T15:00:00Z`, `2026-11-21 15:00+01:00`, `2026-11-21`); one without an offset
    is in `zone`. None when `text` is no such time."""
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=zone)


def zone_at(text: str, pos: int, local: tzinfo | None) -> tzinfo | None:
    """The zone written at `pos` of `text` (after optional blanks); `local` when none is, or
    when its name is unknown."""
    m = _ZONE_RE.match(text, pos)
    if m is None:
        return local
    name = (m.group("paren") or m.group("offset") or m.group("iana") or m.group("short")).strip()
    return zone_named(name) or local


def zone_named(name: str) -> tzinfo | None:
    """The zone `name` stands for (see the module docstring); None when it is unknown."""
    upper = name.upper()
    if upper in SHORT_ZONES:
        return timezone(timedelta(hours=SHORT_ZONES[upper]), upper)
    offset = _OFFSET_RE.fullmatch(upper)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3) or 0))
        return timezone(sign * delta, name) if delta <= MAX_OFFSET else None
    if "/" in name or name.isalpha():
        try:
            return ZoneInfo(name)
        except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            return None
    return None
