"""Timestamps as log formats write them, read into aware UTC datetimes."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mamori.errors import ParseError

MONTHS = {
    name: i
    for i, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2}|UTC)?$"
)
_NUMBER = re.compile(r"^\d{9,19}(?:\.\d+)?$")
# abbreviations commonly found in device logs; anything else goes through zoneinfo
_ABBREVIATIONS = {"UTC": 0, "GMT": 0, "Z": 0, "JST": 9 * 60, "KST": 9 * 60}


def get_tz(name: str | None) -> tzinfo:
    """A time zone from an IANA name (``Asia/Tokyo``), an offset (``+0900``) or ``UTC``.

    Raises:
        ParseError: the name is not known.
    """
    if not name or name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    offset = parse_offset(name)
    if offset is not None:
        return offset
    if name.upper() in _ABBREVIATIONS:
        return timezone(timedelta(minutes=_ABBREVIATIONS[name.upper()]))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ParseError(f"unknown time zone {name!r}") from exc


@functools.lru_cache(maxsize=256)
def parse_offset(text: str) -> timezone | None:
    """``+09:00``, ``+0900``, ``-05`` or ``Z`` as a fixed offset; None if it is not one."""
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})?", text.strip())
    if not m:
        return UTC if text.strip() in ("Z", "z") else None
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    if minutes > 18 * 60:
        return None
    sign = -1 if m.group(1) == "-" else 1
    return timezone(timedelta(minutes=sign * minutes))


def _fraction(text: str | None) -> int:
    if not text:
        return 0
    return int((text + "000000")[:6])


#: ``(date and time to the second, zone as written, default zone) -> that second in UTC``:
#: timestamps of a log share few distinct seconds, and building an aware datetime and
#: converting it costs more than everything else :func:`parse_iso` does.
_SECONDS: dict[tuple[str, str | None, tzinfo], datetime] = {}
_SECONDS_MAX = 4096
#: ``(text, default zone) -> datetime`` of :func:`parse_any` (no format): the same text
#: comes again and again in a log whose timestamps have whole seconds.
_TEXTS: dict[tuple[str, tzinfo], datetime] = {}


def _second(m: re.Match[str], zone: str | None, default_tz: tzinfo, text: str) -> datetime:
    """The whole second ``m`` names, in UTC.

    Raises:
        ParseError: impossible values.
    """
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    tz: tzinfo = default_tz
    if zone:
        tz = UTC if zone.upper() in ("Z", "UTC") else (parse_offset(zone) or default_tz)
    try:
        value = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=tz)
    except ValueError as exc:
        raise ParseError(f"impossible timestamp {text[:40]!r}: {exc}") from exc
    return value.astimezone(UTC)


def parse_iso(text: str, default_tz: tzinfo = UTC) -> datetime:
    """An RFC 3339 / ISO 8601 timestamp; without an offset, ``default_tz`` applies.

    Raises:
        ParseError: not such a timestamp, or impossible values.
    """
    m = _ISO.match(text.strip())
    if not m:
        raise ParseError(f"not an ISO 8601 timestamp: {text[:40]!r}")
    zone = m.group(8)
    # the first 19 characters are the date and time to the second (fixed widths); UTC
    # offsets are whole seconds, so the fraction is the same before and after converting
    key = (m.string[:19], zone, default_tz)
    value = _SECONDS.get(key)
    if value is None:
        value = _second(m, zone, default_tz, text)
        if len(_SECONDS) >= _SECONDS_MAX:
            _SECONDS.clear()
        _SECONDS[key] = value
    fraction = m.group(7)
    return value.replace(microsecond=_fraction(fraction)) if fraction else value


def from_epoch(value: float | int | str) -> datetime:
    """Seconds, milliseconds, microseconds or nanoseconds since 1970, told apart by size.

    Raises:
        ParseError: not a number, or out of range.
    """
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ParseError(f"not an epoch timestamp: {value!r}") from exc
    for divisor in (1, 1e3, 1e6, 1e9):
        if abs(number / divisor) < 1e11:  # later than year 5000 means a smaller unit
            number = number / divisor
            break
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ParseError(f"epoch timestamp out of range: {value!r}") from exc


def parse_any(value: Any, default_tz: tzinfo = UTC, fmt: str | None = None) -> datetime:
    """A timestamp from a JSON value: ISO text, epoch number/text, or ``fmt`` (strptime).

    Raises:
        ParseError: the value is none of these.
    """
    if fmt is None and value.__class__ is str:
        found = _TEXTS.get((value, default_tz))
        if found is not None:
            return found
        parsed = _parse_text(value.strip(), default_tz)
        if len(_TEXTS) >= _SECONDS_MAX:
            _TEXTS.clear()
        _TEXTS[(value, default_tz)] = parsed
        return parsed
    if isinstance(value, bool) or value is None:
        raise ParseError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return from_epoch(value)
    text = str(value).strip()
    if fmt:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError as exc:
            raise ParseError(f"timestamp {text[:40]!r} does not match {fmt!r}") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=default_tz)
        return parsed.astimezone(UTC)
    return _parse_text(text, default_tz)


def _parse_text(text: str, default_tz: tzinfo) -> datetime:
    if _NUMBER.match(text):
        return from_epoch(text)
    return parse_iso(text, default_tz)


def infer_year(month: int, day: int, reference: datetime, tz: tzinfo) -> int:
    """The year of a ``Mmm dd`` timestamp: the one that puts it closest before ``reference``.

    A record dated more than a day after the reference time belongs to the previous
    year (a December line read in January).
    """
    ref = reference.astimezone(tz)
    year = ref.year
    try:
        candidate = datetime(year, month, day, tzinfo=tz)
    except ValueError:  # 29 February in a non-leap year: look back for a leap year
        for back in range(1, 8):
            try:
                datetime(year - back, month, day, tzinfo=tz)
            except ValueError:
                continue
            return year - back
        return year
    if candidate - ref > timedelta(days=1):
        year -= 1
    return year


__all__ = [
    "MONTHS",
    "from_epoch",
    "get_tz",
    "infer_year",
    "parse_any",
    "parse_iso",
    "parse_offset",
]
