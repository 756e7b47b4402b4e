"""Generic JSON lines (NDJSON), with a field mapping given in config.

Each line must be a JSON object; nested objects are flattened to dotted names
(``{"a": {"b": 1}}`` -> ``a.b``) and lists are kept as lists. Options (from the ingest
config, see :class:`mamori.ingest.config.JsonMapping`):

* ``mapping``: ``{"source.field": "target_field"}`` renames (dotted paths on the input),
* ``timestamp_field`` (default: first of ``@timestamp``, ``timestamp``, ``time``, ``ts``),
  ``timestamp_format`` (strptime format; default ISO 8601 or epoch s/ms/us/ns),
* ``host_field`` (default: first of ``host``, ``hostname``, ``host.name``),
* ``data_type`` (default ``json``), ``timezone`` for timestamps without offset.

A line that is not JSON, or JSON that is not an object, is quarantined with the reason.
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Any, ClassVar

import orjson

from mamori.bus.batch import has_long_digits
from mamori.errors import ParseError
from mamori.ingest.base import ParseContext, parsers
from mamori.ingest.lines import LineParser, first_lines
from mamori.ingest.timeparse import get_tz, parse_any
from mamori.model import ENVELOPE_FIELDS, Event

TIMESTAMP_FIELDS = ("@timestamp", "timestamp", "time", "ts", "date", "eventTime")
HOST_FIELDS = ("host", "hostname", "host.name", "host.hostname", "computer_name")
MAX_DEPTH = 32
#: Envelope names a record's own fields must not take: they are kept as ``orig.<name>``.
_RENAMED = frozenset(ENVELOPE_FIELDS) - {"@timestamp"}


def _field_name(name: str) -> str:
    return f"orig.{name}" if name in _RENAMED else name


def _clean(text: str) -> str:
    """NUL (``\\u0000`` in JSON) written as ``\\x00``: databases refuse it in text."""
    return text.replace("\x00", "\\x00") if "\x00" in text else text


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, list):
        return [_clean_value(v) for v in value]
    if isinstance(value, dict):
        return {_clean(str(k)): _clean_value(v) for k, v in value.items()}
    return value


def flatten(
    obj: dict[str, Any],
    prefix: str = "",
    out: dict[str, Any] | None = None,
    depth: int = 0,
    *,
    clean: bool = True,
) -> dict[str, Any]:
    """Nested objects to dotted keys; lists stay values. Depth beyond 32 is kept as JSON text.

    ``clean=False`` skips the NUL clean-up, for objects known to hold no NUL character.
    """
    out = {} if out is None else out
    for key, value in obj.items():
        if clean:
            name = _clean(f"{prefix}{key}")
            if isinstance(value, str | list):
                value = _clean_value(value)
        else:
            name = f"{prefix}{key}" if prefix else key
        if isinstance(value, dict) and value:
            if depth >= MAX_DEPTH:
                out[name] = json.dumps(value, ensure_ascii=False)
            else:
                flatten(value, f"{name}.", out, depth + 1, clean=clean)
        else:
            out[name] = value
    return out


def _loads(line: str) -> Any:
    """The JSON value of a line: orjson, and ``json`` for what orjson refuses (lone
    surrogate escapes, ``NaN``) or reads differently (integers beyond 64 bits, which
    orjson turns into floats)."""
    # (JSON numbers are ASCII digits: other digits never make an integer orjson misreads)
    if has_long_digits(line.encode("utf-8", "surrogatepass")):
        return json.loads(line)
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


@parsers.register
class JsonLinesParser(LineParser):
    """One JSON object per line, mapped by configuration."""

    NAME: ClassVar[str] = "json_lines"
    DATA_TYPE: ClassVar[str] = "json"
    DESCRIPTION: ClassVar[str] = "Generic JSON lines with a configured field mapping"
    PRIORITY: ClassVar[int] = 80

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        mapping = options.get("mapping") or {}
        if not isinstance(mapping, dict):
            raise ParseError("json_lines: 'mapping' must be a table of source -> target names")
        self.mapping: dict[str, str] = {str(k): str(v) for k, v in mapping.items()}
        self.timestamp_field: str | None = options.get("timestamp_field")
        self.timestamp_format: str | None = options.get("timestamp_format")
        self.host_field: str | None = options.get("host_field")
        self.data_type: str = str(options.get("data_type") or self.DATA_TYPE)
        self.tz: tzinfo = get_tz(options.get("timezone"))

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        lines = first_lines(head, 3)
        if not lines:
            return False
        for line in lines:
            try:
                value = json.loads(line)
            except ValueError:
                return False
            if not isinstance(value, dict):
                return False
        return True

    def parse_line(self, line: str, context: ParseContext, lineno: int) -> Event | None:
        try:
            value = _loads(line)
        except ValueError as exc:
            raise ParseError(f"invalid JSON: {exc}") from None
        except RecursionError:
            raise ParseError("invalid JSON: nested too deeply") from None
        if not isinstance(value, dict):
            raise ParseError(f"JSON value is not an object (got {type(value).__name__})")
        # JSON text holds a NUL only as the escape \u0000 (a raw one is invalid JSON)
        flat = flatten(value, clean="\\u0000" in line)
        # the host is read first: the fields may be ``flat`` itself, which loses its
        # ``@timestamp`` to the envelope below
        host = self._host(flat)
        mapping = self.mapping
        fields: dict[str, Any]
        if mapping:
            fields = {_field_name(mapping.get(k, k)): v for k, v in flat.items()}
        elif _RENAMED.isdisjoint(flat):
            fields = flat
        else:
            fields = {_field_name(k): v for k, v in flat.items()}
        timestamp = self._timestamp(flat, fields)
        return self.make_event(
            fields,
            line=line,
            context=context,
            lineno=lineno,
            timestamp=timestamp,
            host=host,
            data_type=self.data_type,
        )

    def _timestamp(self, flat: dict[str, Any], fields: dict[str, Any]) -> datetime | None:
        names = (self.timestamp_field,) if self.timestamp_field else TIMESTAMP_FIELDS
        for name in names:
            value = flat.get(name)
            if value not in (None, ""):
                fields.pop("@timestamp", None)
                return parse_any(value, self.tz, self.timestamp_format)
        if self.timestamp_field:
            raise ParseError(f"timestamp field {self.timestamp_field!r} missing")
        return None

    def _host(self, flat: dict[str, Any]) -> str | None:
        names = (self.host_field,) if self.host_field else HOST_FIELDS
        for name in names:
            value = flat.get(name)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return str(value)
        return None


__all__ = ["JsonLinesParser", "flatten"]
