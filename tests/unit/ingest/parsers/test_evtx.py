"""EVTX parser: sniff, flattening to Sigma field names, truncated and corrupt files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mamori.ingest.base import ParseContext, parsers
from mamori.ingest.parsers.evtx import (
    EvtxParser,
    declared_size,
    flatten_windows_event,
    parse_timestamp,
)
from mamori.testing import FakeSink

CLEARED = "Defense Evasion/DE_1102_security_log_cleared.evtx"


@pytest.fixture(scope="module")
def cleared(shared_data: Path) -> bytes:
    return (shared_data / "evtx-attack-samples" / CLEARED).read_bytes()


def parse(data: bytes) -> FakeSink:
    sink = FakeSink()
    EvtxParser().parse(io.BytesIO(data), sink, ParseContext(location="test.evtx", tenant="acme"))
    return sink


def test_registered():
    assert parsers.get("evtx") is EvtxParser


def test_sniff(cleared):
    assert EvtxParser.sniff(cleared[:65536])
    assert not EvtxParser.sniff(b'{"winlog": {}}')
    assert not EvtxParser.sniff(b"")


def test_parse_counts_and_fields(cleared):
    sink = parse(cleared)
    assert len(sink.events) == 112
    assert sink.quarantined == [] and sink.warnings == []
    first = sink.events[0]
    assert first.source == "evtx" and first.data_type == "windows:evtx"
    assert first.host == "PC01.example.corp" and first.tenant == "acme"
    assert first.timestamp.isoformat() == "2019-03-19T23:35:07.524202+00:00"
    fields = first.fields
    assert fields["EventID"] == 1102
    assert fields["Channel"] == "Security"
    assert fields["Provider_Name"] == "Microsoft-Windows-Eventlog"
    assert fields["Computer"] == "PC01.example.corp"
    assert fields["EventRecordID"] == 452811
    assert fields["Execution_ProcessID"] == 812
    # UserData (LogFileCleared) flattened to leaf names
    assert fields["SubjectUserName"] == "user01"
    assert fields["SubjectDomainName"] == "EXAMPLE"
    assert not any(k.startswith("xmlns") for k in fields)
    assert '"EventID":1102' in first.raw.replace(" ", "")
    # ids are stable across replays and distinct per record
    again = parse(cleared).events
    assert [e.id for e in again] == [e.id for e in sink.events]
    assert len({e.id for e in sink.events}) == 112


def test_sysmon_event_data_by_name(shared_data):
    path = (
        shared_data
        / "evtx-attack-samples"
        / "Credential Access"
        / "CA_sysmon_hashdump_cmd_meterpreter.evtx"
    )
    if not path.exists():
        path = next((shared_data / "evtx-attack-samples").rglob("*sysmon*.evtx"))
    sink = parse(path.read_bytes())
    sysmon = [
        e for e in sink.events if e.fields.get("Channel") == "Microsoft-Windows-Sysmon/Operational"
    ]
    assert sysmon
    assert all("UtcTime" in e.fields for e in sysmon)
    creates = [e for e in sysmon if e.fields["EventID"] == 1]
    for e in creates:
        assert {"Image", "CommandLine", "ParentImage"} <= set(e.fields)


def test_truncated_file_quarantines_and_keeps_the_rest(cleared):
    cut = cleared[: 4096 + 65536 + 30000]
    sink = parse(cut)
    assert sink.quarantined, "truncation must be reported"
    assert any("truncated" in q.reason for q in sink.quarantined)
    assert 0 < len(sink.events) < 112


def test_corrupt_chunk_quarantined(cleared):
    data = bytearray(cleared)
    data[70000:80000] = b"\xff" * 10000
    sink = parse(bytes(data))
    assert any("corrupt" in q.reason for q in sink.quarantined)
    assert len(sink.events) >= 90


def test_not_evtx():
    sink = parse(b"hello world, not a log")
    assert sink.events == []
    assert "not an EVTX" in sink.quarantined[0].reason
    assert sink.quarantined[0].raw.startswith(b"hello")


def test_header_only():
    sink = parse(b"ElfFile\x00" + b"\x00" * 40)
    assert sink.events == [] and sink.quarantined


def test_declared_size():
    assert declared_size(b"short") is None


def test_flatten_shapes():
    fields = flatten_windows_event(
        {
            "System": {
                "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": "7045"},
                "Provider": {"#attributes": {"Name": "Service Control Manager"}},
            },
            "EventData": {"Data": ["a", "b"], "Binary": None},
        }
    )
    assert fields["EventID"] == 7045
    assert fields["EventID_Qualifiers"] == 16384
    assert fields["Provider_Name"] == "Service Control Manager"
    assert fields["Data"] == "a\nb"


def test_parse_timestamp():
    assert parse_timestamp("2020-01-02T03:04:05.1234567Z").microsecond == 123456
    assert parse_timestamp("nonsense") is None
    assert parse_timestamp(None) is None


class _Pipe(io.RawIOBase):
    """A non-seekable stream, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        raise OSError("not seekable")


def test_non_seekable_stream(cleared):
    sink = FakeSink()
    EvtxParser().parse(_Pipe(cleared), sink, ParseContext(location="pipe"))
    assert len(sink.events) == 112 and not sink.quarantined


def test_loads_matches_json_loads_on_evtx_values() -> None:
    import json

    from mamori.ingest.parsers.evtx import loads

    text = (
        '{"a": 18446744073709551615, "n": -9223372036854775808, "b": "\\u00e9x\\\\y",'
        ' "c": [1.5, null, true], "d": {"#attributes": {"Name": "x"}, "#text": "0x1"}}'
    )
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text)
    with pytest.raises(ValueError):
        loads("{not json")


def test_record_event_id_is_event_id_for() -> None:
    from mamori.ingest.parsers.evtx import record_event_id
    from mamori.model import event_id_for

    for parts in (
        ("evtx", "acme", "pc", "Security", "1", "2020-01-01T00:00:00Z"),
        ("evtx", None, "ホスト", "Microsoft-Windows-Sysmon/Operational", "99", "None"),
        ("evtx", None, None, "\udcff", "", ""),
    ):
        assert record_event_id(*parts) == event_id_for(*parts)
