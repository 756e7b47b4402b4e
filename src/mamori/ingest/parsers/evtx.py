"""Windows EVTX files, read with the Rust-based PyPI ``evtx`` package.

Each record's XML-as-JSON is flattened into the field names SigmaHQ's ``windows`` rules use:
``System`` leaves keep their names (``EventID``, ``Channel``, ``Computer``, ``Level``...),
``System`` attributes are prefixed with their element (``Provider_Name``, ``Provider_Guid``,
``Execution_ProcessID``, ``Security_UserID``), ``EventData`` items appear by their ``Name``
(``Image``, ``CommandLine``, ``SubjectUserName``...), unnamed ``Data`` items are joined into
``Data``, and ``UserData`` is flattened to its leaf names. The JSON of the record is kept as
``raw``.

A file that is not EVTX, a header that declares more chunks than the file holds (truncated
copy) and a chunk that cannot be decoded each become a quarantined record with the reason; the
records that can be read are still emitted.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import stat
import struct
from datetime import UTC, datetime
from typing import Any, BinaryIO

import evtx

from mamori.ingest.base import ParseContext, Parser, parsers
from mamori.model import Event, EventSink, Quarantined

_orjson: Any
try:  # optional: about 1.5x faster than json.loads on EVTX records (4 us of ~12 per record)
    _orjson = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

EVTX_MAGIC = b"ElfFile\x00"
HEADER_SIZE = 4096
CHUNK_SIZE = 65536


def loads(text: str | bytes) -> Any:
    """The JSON text of one EVTX record as Python: orjson when installed, else
    :func:`json.loads`; text orjson refuses goes to :func:`json.loads` too.

    Only for what the ``evtx`` package writes: its integers have at most 64 bits, which
    orjson reads exactly (beyond 64 bits orjson would give a float, json an int).

    Raises:
        ValueError: the text is not JSON.
    """
    if _orjson is not None:
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(text)


def record_event_id(*parts: str | None) -> str:
    """:func:`~mamori.model.event_id_for` of text parts (the same id), in one hash update."""
    text = "\x1f".join("" if part is None else part for part in parts) + "\x1f"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _leaf(value: Any) -> Any:
    """A scalar for a JSON node: ``#text`` of elements, lists joined, dicts kept as JSON."""
    if isinstance(value, dict):
        if "#text" in value:
            return _leaf(value["#text"])
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, list):
        return "\n".join("" if v is None else str(_leaf(v)) for v in value)
    return value


def _flatten_leaves(node: Any, out: dict[str, Any], prefix: str = "") -> None:
    """Leaf names of a nested element tree (``UserData``); earlier names win."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "#attributes":
                if isinstance(value, dict):
                    for attr, attr_value in value.items():
                        if not attr.startswith("xmlns"):
                            out.setdefault(f"{prefix}_{attr}" if prefix else attr, attr_value)
                continue
            if key == "#text":
                if prefix:
                    out.setdefault(prefix, _leaf(value))
                continue
            if isinstance(value, dict):
                _flatten_leaves(value, out, key)
            else:
                out.setdefault(key, _leaf(value))
    elif prefix:
        out.setdefault(prefix, _leaf(node))


_SCALARS = frozenset({str, int, float, bool, type(None)})
"""Value types :func:`_leaf` returns unchanged."""
_ATTR_NAMES: dict[str, dict[str, str]] = {}
"""``System`` attribute field names by element and attribute (``Provider_Name``...), made once."""


def flatten_windows_event(event: dict[str, Any]) -> dict[str, Any]:
    """Flatten the ``{"System": ..., "EventData": ...}`` element of one Windows event.

    Shared with the JSON parser for events exported in the same XML-as-JSON shape.
    """
    fields: dict[str, Any] = {}
    system = event.get("System")
    if type(system) is dict:
        for key, value in system.items():
            if type(value) is not dict:
                if key != "Correlation":
                    fields[key] = value
                continue
            attrs = value.get("#attributes")
            if key == "TimeCreated":
                if type(attrs) is dict and "SystemTime" in attrs:
                    fields["SystemTime"] = attrs["SystemTime"]
                continue
            if type(attrs) is dict:
                names = _ATTR_NAMES.get(key)
                if names is None:
                    names = {}
                    if len(_ATTR_NAMES) < 256:
                        _ATTR_NAMES[key] = names
                for attr, attr_value in attrs.items():
                    name = names.get(attr)
                    if name is None:
                        name = f"{key}_{attr}"
                        if len(names) < 256:
                            names[attr] = name
                    fields[name] = attr_value
            if "#text" in value:
                fields[key] = _leaf(value["#text"])
    event_data = event.get("EventData")
    if (
        type(event_data) is dict
        and "#attributes" not in event_data
        and _SCALARS.issuperset(map(type, event_data.values()))
        and fields.keys().isdisjoint(event_data)
    ):  # the common case, taken as it is: what the loop below would do
        fields.update(event_data)
    elif isinstance(event_data, dict):
        for key, value in event_data.items():
            if key in fields or key == "#attributes":
                continue
            kind = type(value)
            fields[key] = value if kind is str or kind is int else _leaf(value)
    elif event_data is not None:
        fields.setdefault("Data", _leaf(event_data))
    user_data = event.get("UserData")
    if isinstance(user_data, dict):
        for value in user_data.values():
            _flatten_leaves(value, fields)
    # EventID as an int, whatever the qualifiers or text form.
    eid = fields.get("EventID")
    if isinstance(eid, str) and eid.isdigit():
        fields["EventID"] = int(eid)
    return fields


def parse_timestamp(text: Any) -> datetime | None:
    """Parse the ISO timestamps Windows exports (``2020-10-05T20:43:58.351744Z``)."""
    if not isinstance(text, str) or not text:
        return None
    try:  # the common form, e.g. 2020-10-05T20:43:58.351744Z
        ts = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    value = text.strip().replace(" ", "T", 1)
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    # Python accepts at most 6 fractional digits; Windows writes up to 7 (100 ns).
    dot = value.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(value) and value[end].isdigit():
            end += 1
        if end - dot - 1 > 6:
            value = value[: dot + 7] + value[end:]
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def declared_size(head: bytes) -> int | None:
    """Size the EVTX header promises (header + chunks), or None for a header too short."""
    if len(head) < 0x2C or not head.startswith(EVTX_MAGIC):
        return None
    chunk_count = int(struct.unpack_from("<H", head, 0x2A)[0])
    return HEADER_SIZE + chunk_count * CHUNK_SIZE


def _own_path(stream: BinaryIO) -> str | None:
    """A path by which the ``evtx`` package opens the very file ``stream`` reads (Linux
    ``/proc/self/fd``), for a regular file read from its start: reading by path spares a
    Python call per block (about 1 us per record). None when there is no such path."""
    try:
        if stream.tell() != 0:
            return None
        path = f"/proc/self/fd/{stream.fileno()}"
        return path if stat.S_ISREG(os.stat(path).st_mode) else None
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return None


@parsers.register
class EvtxParser(Parser):
    """Windows event log files (``.evtx``): Security, System, Sysmon, PowerShell and others."""

    NAME = "evtx"
    DATA_TYPE = "windows:evtx"
    DESCRIPTION = "Windows EVTX event log files (PyPI evtx)"

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.startswith(EVTX_MAGIC)

    def parse(self, stream: BinaryIO, sink: EventSink, context: ParseContext) -> None:
        # A seekable file is handed to the evtx package as it is (memory stays bounded);
        # anything else is read into memory first.
        source: BinaryIO
        try:
            start = stream.tell()
            head = stream.read(4096)
            size = stream.seek(0, 2) - start
            stream.seek(start)
            source = stream
        except (OSError, AttributeError, ValueError):
            whole = stream.read()
            head, size, source = whole[:4096], len(whole), io.BytesIO(whole)
        location = context.location
        data = head
        if not data.startswith(EVTX_MAGIC):
            sink.quarantine(
                Quarantined(
                    source=self.NAME,
                    reason="not an EVTX file (missing ElfFile header)",
                    raw=data[:4096],
                    location=location,
                    tenant=context.tenant,
                )
            )
            return
        expected = declared_size(data)
        if expected is not None and size < expected:
            sink.quarantine(
                Quarantined(
                    source=self.NAME,
                    reason=(
                        f"truncated EVTX file: header declares {expected} bytes, "
                        f"file has {size}; the records that remain are read"
                    ),
                    raw=data[:512],
                    location=location,
                    tenant=context.tenant,
                )
            )
        try:
            parser = evtx.PyEvtxParser(_own_path(source) or source)
        except (OSError, RuntimeError, ValueError) as exc:
            sink.quarantine(
                Quarantined(
                    source=self.NAME,
                    reason=f"unreadable EVTX file: {exc}",
                    raw=data[:4096],
                    location=location,
                    tenant=context.tenant,
                )
            )
            return
        self._emit_records(parser, sink, context)

    def _emit_records(
        self, parser: evtx.PyEvtxParser, sink: EventSink, context: ParseContext
    ) -> None:
        records = parser.records_json()
        source = self.NAME
        data_type = self.DATA_TYPE
        tenant = context.tenant
        default_host = context.host
        tenant_text = "" if tenant is None else tenant
        emit = sink.event
        # A sink may turn records down by their fields before their Event is made (a hunt:
        # those no rule can match); it then counts them itself.
        wants = getattr(sink, "wants", None)
        sha256 = hashlib.sha256
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except (RuntimeError, OSError, ValueError) as exc:
                sink.quarantine(
                    Quarantined(
                        source=source,
                        reason=f"corrupt EVTX chunk: {exc}",
                        raw=str(exc).encode("utf-8", "replace"),
                        location=context.location,
                        tenant=tenant,
                    )
                )
                continue
            if not isinstance(record, dict):
                continue
            raw = record.get("data") or ""
            if type(raw) is not str:
                raw = str(raw)
            try:
                doc = loads(raw)
                event = doc["Event"] if type(doc) is dict and "Event" in doc else doc
                fields = flatten_windows_event(event)
            except (ValueError, TypeError, KeyError) as exc:
                sink.quarantine(
                    Quarantined(
                        source=source,
                        reason=f"EVTX record {record.get('event_record_id')}: {exc}",
                        raw=str(raw).encode("utf-8", "replace"),
                        location=context.location,
                        tenant=tenant,
                    )
                )
                continue
            if wants is not None and not wants(fields):
                continue
            system_time = fields.get("SystemTime")
            ts = parse_timestamp(system_time) or parse_timestamp(record.get("timestamp"))
            computer = fields.get("Computer")
            host = str(computer) if computer else default_host
            # A Windows record is identified by computer, channel, record number and time:
            # cheaper than hashing the whole record, and the same on every replay. The text
            # hashed is record_event_id()'s, written out (str() of each part, None as "").
            record_id = fields.get("EventRecordID")
            event_id = (
                sha256(
                    f"{source}\x1f{tenant_text}\x1f{'' if host is None else host}\x1f"
                    f"{fields.get('Channel')!s}\x1f{record_id!s}\x1f{system_time!s}\x1f".encode(
                        "utf-8", "surrogateescape"
                    )
                ).hexdigest()[:32]
                if record_id is not None
                else ""
            )
            emit(
                Event(
                    fields=fields,
                    timestamp=ts or datetime.now(UTC),
                    source=source,
                    raw=raw,
                    data_type=data_type,
                    tenant=tenant,
                    host=host,
                    id=event_id,
                )
            )


__all__ = [
    "EvtxParser",
    "declared_size",
    "flatten_windows_event",
    "loads",
    "parse_timestamp",
    "record_event_id",
]
