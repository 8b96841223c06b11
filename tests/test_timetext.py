"""timetext: ISO timestamps and zone names read aware (the parser resets and screen share)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest

from agent_orchestrator.core.timetext import parse_iso, zone_at, zone_named

BERLIN = ZoneInfo("Europe/Berlin")


class Iso(NamedTuple):
    text: str
    expected: datetime | None


ISO_CASES = [
    Iso("2026-11-21T15:00:00Z", datetime(2026, 11, 21, 15, tzinfo=UTC)),
    Iso("2026-11-21 15:00+01:00", datetime(2026, 11, 21, 15, tzinfo=BERLIN)),
    Iso("2026-11-21T15:00:00.250", datetime(2026, 11, 21, 15, 0, 0, 250000, tzinfo=BERLIN)),
    Iso("2026-11-21", datetime(2026, 11, 21, tzinfo=BERLIN)),
    Iso("2026-11-21T25:00", None),
    Iso("soon", None),
    Iso("", None),
]


@pytest.mark.parametrize("case", ISO_CASES, ids=[c.text or "empty" for c in ISO_CASES])
def test_parse_iso(case: Iso) -> None:
    got = parse_iso(case.text, BERLIN)
    assert got == case.expected
    if got is not None:
        assert got.tzinfo is not None


def test_parse_iso_naive_takes_the_given_zone() -> None:
    assert parse_iso("2026-11-21T15:00", BERLIN).tzinfo is BERLIN  # type: ignore[union-attr]


class Zone(NamedTuple):
    name: str
    offset: timedelta | None  # at 2026-11-21 12:00 UTC; None: unknown


ZONE_CASES = [
    Zone("PST", timedelta(hours=-8)),
    Zone("ist", timedelta(hours=5, minutes=30)),
    Zone("UTC+5:30", timedelta(hours=5, minutes=30)),
    Zone("GMT-3", timedelta(hours=-3)),
    Zone("GMT+15", None),
    Zone("Etc/GMT+5", timedelta(hours=-5)),  # POSIX-inverted
    Zone("America/Santiago", timedelta(hours=-3)),
    Zone("Mars/Olympus", None),
    Zone("3pm", None),
]


@pytest.mark.parametrize("case", ZONE_CASES, ids=[c.name for c in ZONE_CASES])
def test_zone_named(case: Zone) -> None:
    zone = zone_named(case.name)
    at = datetime(2026, 11, 21, 12, tzinfo=UTC)
    assert (zone and at.astimezone(zone).utcoffset()) == (case.offset or None)


def test_zone_at_reads_the_name_after_a_time_or_keeps_local() -> None:
    local: tzinfo = timezone(timedelta(hours=2))
    text = "resets 3pm (Europe/Berlin) or 4pm CEST or 5pm"
    assert zone_at(text, text.index(" (Eu"), local) == BERLIN
    assert zone_at(text, text.index(" CEST"), local) == timezone(timedelta(hours=2), "CEST")
    assert zone_at(text, len(text), local) is local
    assert zone_at("(Nowhere/Land)", 0, local) is local
