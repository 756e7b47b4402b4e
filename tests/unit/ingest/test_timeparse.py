from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.errors import ParseError
from mamori.ingest.timeparse import from_epoch, get_tz, infer_year, parse_any, parse_iso


@pytest.mark.parametrize(
    "value",
    [1764028800, 1764028800000, 1764028800000000, 1764028800000000000, "1764028800", 1764028800.0],
)
def test_epoch_units_are_told_apart(value):
    assert from_epoch(value) == datetime(2025, 11, 25, tzinfo=UTC)


def test_iso_variants():
    assert parse_iso("2026-11-25T09:00:00+09:00") == datetime(2026, 11, 25, tzinfo=UTC)
    assert parse_iso("2026-11-25 09:00:00,5+0900") == datetime(
        2026, 11, 25, 0, 0, 0, 500000, tzinfo=UTC
    )
    assert parse_iso("2026-11-25T00:00:00.123456789Z").microsecond == 123456
    assert parse_iso("2026-11-25T09:00:00", get_tz("Asia/Tokyo")) == datetime(
        2026, 11, 25, tzinfo=UTC
    )
    with pytest.raises(ParseError):
        parse_iso("yesterday")


def test_time_zones():
    assert get_tz("+0900").utcoffset(None) == timedelta(hours=9)
    assert get_tz("JST").utcoffset(None) == timedelta(hours=9)
    assert get_tz(None) is UTC
    with pytest.raises(ParseError, match="unknown time zone"):
        get_tz("Mars/Olympus")


def test_parse_any_rejects_non_timestamps():
    for bad in (True, None, "soon", 10**30):
        with pytest.raises(ParseError):
            parse_any(bad)


def test_infer_year_around_new_year_and_leap_day():
    ref = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    assert infer_year(12, 31, ref, UTC) == 2026
    assert infer_year(1, 1, ref, UTC) == 2027
    assert infer_year(2, 29, datetime(2027, 3, 1, tzinfo=UTC), UTC) == 2024


def _reference_parse_iso(text, default_tz=UTC):
    """parse_iso without its per-second cache (the straightforward reading)."""
    import re

    m = re.match(
        r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
        r"\s*(Z|z|[+-]\d{2}:?\d{2}|UTC)?$",
        text.strip(),
    )
    if not m:
        raise ParseError("no")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    zone = m.group(8)
    tz = default_tz
    if zone:
        from mamori.ingest.timeparse import parse_offset

        tz = UTC if zone.upper() in ("Z", "UTC") else (parse_offset(zone) or default_tz)
    micro = int((m.group(7) + "000000")[:6]) if m.group(7) else 0
    try:
        value = datetime(year, month, day, hour, minute, min(second, 59), micro, tzinfo=tz)
    except ValueError as exc:
        raise ParseError("impossible") from exc
    return value.astimezone(UTC)


_ISO_TEXT = st.builds(
    lambda y, mo, d, h, mi, s, sep, frac, zone, pad: (
        f"{pad}{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{zone}{pad}"
    ),
    st.integers(1, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 24),
    st.integers(0, 60),
    st.integers(0, 61),
    st.sampled_from(["T", " "]),
    st.one_of(st.just(""), st.from_regex(r"[.,]\d{1,10}", fullmatch=True)),
    st.sampled_from(["", "Z", "z", "UTC", " Z", "+09:00", "-0530", "+00:00", "+2359", "-1901"]),
    st.sampled_from(["", " ", "\t"]),
)


@settings(max_examples=400, deadline=None)
@given(text=_ISO_TEXT, tz=st.sampled_from(["UTC", "Asia/Tokyo", "America/New_York", "+0530"]))
def test_parse_iso_cache_gives_what_a_fresh_reading_gives(text, tz):
    zone = get_tz(tz)
    try:
        expected = _reference_parse_iso(text, zone)
    except (ParseError, OverflowError) as exc:
        with pytest.raises(type(exc)):
            parse_iso(text, zone)
        return
    # twice: the first reading fills the cache, the second comes from it
    for _ in range(2):
        got = parse_iso(text, zone)
        assert got == expected
        assert got.tzinfo is UTC and got.microsecond == expected.microsecond


def test_parse_iso_cache_keeps_fractions_and_zones_apart():
    assert parse_iso("2026-11-25T10:00:00.5Z").microsecond == 500000
    assert parse_iso("2026-11-25T10:00:00.25Z").microsecond == 250000
    assert parse_iso("2026-11-25T10:00:00Z").microsecond == 0
    assert parse_iso("2026-11-25T10:00:00+09:00") == datetime(2026, 11, 25, 1, tzinfo=UTC)
    assert parse_iso("2026-11-25T10:00:00", get_tz("Asia/Tokyo")) == datetime(
        2026, 11, 25, 1, tzinfo=UTC
    )
    assert parse_iso("2026-11-25 10:00:00") == datetime(2026, 11, 25, 10, tzinfo=UTC)
