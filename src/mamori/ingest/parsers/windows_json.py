"""Windows events already exported as JSON: Winlogbeat, NXLog and the EVTX XML-as-JSON shape.

Input is JSON lines, one JSON array of events, or one JSON object. Three shapes are read and
flattened to the field names SigmaHQ ``windows`` rules use:

* Winlogbeat / Elastic Agent: ``winlog.event_data.*`` and ``winlog.user_data.*`` by name,
  ``winlog.channel`` -> ``Channel``, ``winlog.event_id`` -> ``EventID``,
  ``winlog.provider_name`` -> ``Provider_Name``, ``winlog.computer_name`` -> ``Computer``.
* NXLog ``to_json()``: already flat (``EventID``, ``Channel``, ``Hostname``, ``SourceName``,
  ``EventTime``...); ``SourceName``/``ProviderName`` become ``Provider_Name``,
  ``Hostname`` becomes ``Computer``.
* The ``{"Event": {"System": ..., "EventData": ...}}`` shape of ``evtx_dump -o json``.

A line that is not JSON, or JSON that is not an object, is quarantined with its reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, BinaryIO

from mamori.ingest.base import ParseContext, Parser, parsers
from mamori.ingest.parsers.evtx import flatten_windows_event, parse_timestamp
from mamori.model import Event, EventSink, Quarantined

_MARKERS = (b'"winlog"', b'"EventID"', b'"Event"', b'"event_id"', b'"EventId"')

_WINLOG_RENAMES = {
    "channel": "Channel",
    "event_id": "EventID",
    "provider_name": "Provider_Name",
    "provider_guid": "Provider_Guid",
    "computer_name": "Computer",
    "record_id": "EventRecordID",
    "task": "Task",
    "opcode": "Opcode",
    "version": "Version",
    "keywords": "Keywords",
}

_NXLOG_RENAMES = {
    "SourceName": "Provider_Name",
    "ProviderName": "Provider_Name",
    "ProviderGuid": "Provider_Guid",
    "Hostname": "Computer",
    "RecordNumber": "EventRecordID",
    "EventId": "EventID",
}


def _scalar(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, list):
        return "\n".join("" if v is None else str(_scalar(v)) for v in value)
    return value


def _put_all(target: dict[str, Any], source: Any) -> None:
    if isinstance(source, dict):
        for key, value in source.items():
            if isinstance(value, dict):
                _put_all(target, value)
            else:
                target.setdefault(str(key), _scalar(value))


def flatten_json_event(doc: dict[str, Any]) -> tuple[dict[str, Any], datetime | None]:
    """Flatten one JSON Windows event of any of the three shapes; returns fields and time."""
    if isinstance(doc.get("Event"), dict):
        fields = flatten_windows_event(doc["Event"])
        return fields, parse_timestamp(fields.get("SystemTime"))
    winlog = doc.get("winlog")
    if isinstance(winlog, dict):
        fields = {}
        _put_all(fields, winlog.get("event_data"))
        _put_all(fields, winlog.get("user_data"))
        for key, name in _WINLOG_RENAMES.items():
            if key in winlog and not isinstance(winlog[key], dict | list):
                fields[name] = winlog[key]
        process = winlog.get("process")
        if isinstance(process, dict):
            if "pid" in process:
                fields.setdefault("Execution_ProcessID", process["pid"])
            thread = process.get("thread")
            if isinstance(thread, dict) and "id" in thread:
                fields.setdefault("Execution_ThreadID", thread["id"])
        user = winlog.get("user")
        if isinstance(user, dict) and "identifier" in user:
            fields.setdefault("Security_UserID", user["identifier"])
        if "Computer" not in fields:
            host = doc.get("host")
            if isinstance(host, dict) and host.get("name"):
                fields["Computer"] = host["name"]
        if isinstance(doc.get("message"), str):
            fields.setdefault("Message", doc["message"])
        ts = parse_timestamp(doc.get("@timestamp"))
    else:
        fields = {}
        for key, value in doc.items():
            fields[_NXLOG_RENAMES.get(key, key)] = _scalar(value)
        ts = parse_timestamp(
            doc.get("EventTime") or doc.get("TimeCreated") or doc.get("@timestamp")
        )
        if ts is None and isinstance(doc.get("EventTime"), str):
            # NXLog's default "2024-01-02 03:04:05" (local time of the collector, taken as UTC)
            ts = parse_timestamp(doc["EventTime"].replace(" ", "T"))
    eid = fields.get("EventID")
    if isinstance(eid, str) and eid.strip().isdigit():
        fields["EventID"] = int(eid)
    return fields, ts


@parsers.register
class WindowsJsonParser(Parser):
    """Windows events as JSON lines or a JSON array (Winlogbeat, NXLog, evtx_dump)."""

    NAME = "windows_json"
    DATA_TYPE = "windows:json"
    DESCRIPTION = "Windows events as JSON (Winlogbeat, NXLog, evtx_dump)"

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not text.startswith((b"{", b"[")):
            return False
        window = head[:8192]
        if b'"winlog"' in window:
            return True
        return (
            (b'"EventID"' in window or b'"EventId"' in window)
            and (b'"Channel"' in window or b'"Provider' in window or b'"SourceName"' in window)
            or (b'"Event"' in window and b'"System"' in window)
        )

    def parse(self, stream: BinaryIO, sink: EventSink, context: ParseContext) -> None:
        data = stream.read()
        text = data.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
        if text.startswith("["):
            try:
                docs = json.loads(text)
            except ValueError as exc:
                self._quarantine(sink, context, f"invalid JSON array: {exc}", data[:65536])
                return
            for index, doc in enumerate(docs if isinstance(docs, list) else [docs]):
                self._emit(doc, json.dumps(doc, ensure_ascii=False), sink, context, index + 1)
            return
        # JSON lines, or concatenated (possibly pretty-printed) objects. A record that does
        # not decode is quarantined up to the end of its line and reading resumes there.
        decoder = json.JSONDecoder()
        pos, end, number = 0, len(text), 0
        while True:
            while pos < end and text[pos] in " \t\r\n":
                pos += 1
            if pos >= end:
                break
            number += 1
            try:
                doc, stop = decoder.raw_decode(text, pos)
            except ValueError as exc:
                newline = text.find("\n", pos)
                stop = end if newline == -1 else newline + 1
                line_no = text.count("\n", 0, pos) + 1
                bad = text[pos:stop].strip()
                self._quarantine(
                    sink, context, f"line {line_no}: invalid JSON: {exc}", bad.encode()
                )
                pos = stop
                continue
            self._emit(doc, text[pos:stop], sink, context, number)
            pos = stop

    def _emit(
        self, doc: Any, raw: str, sink: EventSink, context: ParseContext, number: int
    ) -> None:
        if not isinstance(doc, dict):
            self._quarantine(
                sink,
                context,
                f"record {number}: JSON {type(doc).__name__}, not an object",
                raw.encode("utf-8", "replace"),
            )
            return
        fields, ts = flatten_json_event(doc)
        computer = fields.get("Computer")
        sink.event(
            Event(
                fields=fields,
                timestamp=ts or datetime.now(UTC),
                source=self.NAME,
                raw=raw,
                data_type=self.DATA_TYPE,
                tenant=context.tenant,
                host=str(computer) if computer else context.host,
            )
        )

    def _quarantine(self, sink: EventSink, context: ParseContext, reason: str, raw: bytes) -> None:
        sink.quarantine(
            Quarantined(
                source=self.NAME,
                reason=reason,
                raw=raw,
                location=context.location,
                tenant=context.tenant,
            )
        )


__all__ = ["WindowsJsonParser", "flatten_json_event"]
