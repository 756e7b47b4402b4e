"""The hunt service: registry sniffing, unreadable files, correlation at the end."""

from __future__ import annotations

import json
from pathlib import Path

from mamori.detect.engine import SigmaEngine
from mamori.detect.hunt import hunt, input_files, parser_for
from mamori.detect.sigma.loader import bundled_rules_dir, load_rules

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs" / "windows_json"


def test_parser_for_uses_registry():
    assert parser_for(b"ElfFile\x00" + b"\x00" * 100).NAME == "evtx"
    assert parser_for((FIXTURES / "winlogbeat.jsonl").read_bytes()).NAME == "windows_json"
    assert parser_for(b"\x00\x01garbage") is None


def test_hunt_bundled_rules_on_json(tmp_path):
    failures = [
        json.dumps(
            {
                "EventTime": f"2026-01-02 03:04:{s:02d}",
                "Hostname": "srv-01",
                "EventID": 4625,
                "Channel": "Security",
                "TargetUserName": f"user{s % 6}",
                "IpAddress": "192.0.2.10",
            }
        )
        for s in range(12)
    ]
    (tmp_path / "fail.jsonl").write_text("\n".join(failures) + "\n")
    (tmp_path / "garbage.bin").write_bytes(b"\x00\x01\x02")
    engine = SigmaEngine(load_rules([bundled_rules_dir()]), defer_correlation=True)
    result = hunt([FIXTURES / "winlogbeat.jsonl", tmp_path, tmp_path / "missing.evtx"], engine)
    titles = {a.rule_title for a in result.alerts}
    assert any("Shadow Copy" in t for t in titles)
    assert any("Log Cleared" in t for t in titles)
    assert any("Brute-Force" in t for t in titles)
    assert any("Password Spraying" in t for t in titles)
    assert not any("Failed Logon (for" in t for t in titles)  # generate: false
    unreadable = dict(result.unreadable)
    assert "unknown log format" in unreadable[str(tmp_path / "garbage.bin")]
    assert "no such file" in unreadable[str(tmp_path / "missing.evtx")]
    assert result.events == 15 and result.files == 2


def test_input_files_skips_hidden(tmp_path):
    (tmp_path / ".hidden").write_text("x")
    (tmp_path / "a.log").write_text("x")
    assert [p.name for p, _ in input_files([tmp_path])] == ["a.log"]


def test_hunt_evtx_finds_what_matching_every_event_finds(shared_data):
    """The EVTX parser asks the hunt which records are worth an Event: the alerts and
    counts are those of matching every event."""
    from mamori.ingest.base import ParseContext
    from mamori.ingest.parsers.evtx import EvtxParser
    from mamori.testing import FakeSink

    files = sorted((shared_data / "evtx-attack-samples").rglob("*.evtx"))[:40]
    ruleset = load_rules([bundled_rules_dir()])
    result = hunt(files, SigmaEngine(ruleset, defer_correlation=True))
    engine = SigmaEngine(ruleset, defer_correlation=True)
    expected = []
    events = 0
    for path in files:
        sink = FakeSink()
        with path.open("rb") as stream:
            EvtxParser().parse(stream, sink, ParseContext(location=str(path)))
        events += len(sink.events)
        for event in sink.events:
            expected.extend(engine.match(event, source_file=str(path)))
    expected.extend(engine.flush())

    def key(alert):
        return (alert.rule_id, alert.timestamp, alert.event["event_id"], repr(alert.matched))

    assert result.alerts and result.events == events > 0
    assert sorted(map(key, result.alerts)) == sorted(map(key, expected))
    assert [a.to_dict() for a in sorted(result.alerts, key=key)] == [
        a.to_dict() for a in sorted(expected, key=key)
    ]
