from datetime import UTC, datetime, timedelta

import pytest

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
