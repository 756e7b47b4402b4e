"""Windows JSON parser: Winlogbeat, NXLog and evtx_dump shapes; bad lines quarantined."""

from __future__ import annotations

import io
import json
from pathlib import Path

from mamori.ingest.base import ParseContext, parsers
from mamori.ingest.parsers.windows_json import WindowsJsonParser
from mamori.testing import FakeSink

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "logs" / "windows_json"


def parse(data: bytes) -> FakeSink:
    sink = FakeSink()
    WindowsJsonParser().parse(
        io.BytesIO(data), sink, ParseContext(location="x.json", host="fallback")
    )
    return sink


def test_registered():
    assert parsers.get("windows_json") is WindowsJsonParser


def test_sniff():
    assert WindowsJsonParser.sniff((FIXTURES / "winlogbeat.jsonl").read_bytes())
    assert WindowsJsonParser.sniff((FIXTURES / "nxlog.jsonl").read_bytes())
    assert not WindowsJsonParser.sniff(b'{"msg": "hello"}\n')
    assert not WindowsJsonParser.sniff(b"<14>Jan  1 00:00:00 host sshd[1]: hi")
    assert not WindowsJsonParser.sniff(b"ElfFile\x00")


def test_winlogbeat():
    sink = parse((FIXTURES / "winlogbeat.jsonl").read_bytes())
    assert len(sink.events) == 3 and sink.quarantined == [] and sink.warnings == []
    first = sink.events[0]
    assert first.fields == {
        "SubjectUserName": "alice",
        "NewProcessName": "C:\\Windows\\System32\\whoami.exe",
        "CommandLine": "whoami /all",
        "ParentProcessName": "C:\\Windows\\System32\\cmd.exe",
        "Channel": "Security",
        "EventID": 4688,
        "Provider_Name": "Microsoft-Windows-Security-Auditing",
        "Computer": "pc-07.example.local",
        "EventRecordID": 991,
        "Execution_ProcessID": 4,
        "Execution_ThreadID": 80,
        "Message": "A new process has been created.",
    }
    assert first.host == "pc-07.example.local"
    assert first.timestamp.isoformat() == "2026-01-02T03:04:05.123000+00:00"
    assert sink.events[1].fields["EventID"] == 1  # "1" as text becomes a number
    assert sink.events[2].fields["SubjectUserName"] == "alice"  # user_data flattened


def test_nxlog():
    sink = parse((FIXTURES / "nxlog.jsonl").read_bytes())
    assert len(sink.events) == 2
    fields = sink.events[0].fields
    assert fields["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    assert fields["Computer"] == "srv-01" and fields["EventID"] == 4625
    assert sink.events[0].timestamp.isoformat() == "2026-01-02T03:04:05+00:00"


def test_evtx_dump_shape_and_array():
    doc = {
        "Event": {
            "System": {
                "EventID": 11,
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Computer": "w1",
                "TimeCreated": {"#attributes": {"SystemTime": "2025-10-24T23:41:00.601559Z"}},
            },
            "EventData": {"TargetFilename": "C:\\tdh.dll"},
        }
    }
    sink = parse(json.dumps(doc, indent=2).encode())
    assert len(sink.events) == 1
    assert sink.events[0].fields["TargetFilename"] == "C:\\tdh.dll"
    assert sink.events[0].host == "w1"
    sink = parse(json.dumps([doc, doc]).encode())
    assert len(sink.events) == 2


def test_bad_lines_are_quarantined():
    data = b'{"EventID": 1, "Channel": "x"}\nnot json\n[1, 2]\n\n{"EventID": 2, "Channel": "x"}\n'
    sink = parse(data)
    assert len(sink.events) == 2
    reasons = [q.reason for q in sink.quarantined]
    assert any("line 2" in r and "invalid JSON" in r for r in reasons)
    assert any("not an object" in r for r in reasons)
    assert sink.events[0].host == "fallback"


def test_array_of_non_objects():
    sink = parse(b'[1, "x", {"EventID": 4, "Channel": "c"}]')
    assert len(sink.events) == 1 and len(sink.quarantined) == 2
