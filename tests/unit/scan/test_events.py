from __future__ import annotations

import json

from mamori.scan.events import DATA_TYPE, verdict_event
from mamori.scan.scanners.eicar import EICAR


def test_verdict_becomes_flat_event(engine):
    verdict = engine.scan_bytes(EICAR, name="e.txt")
    event = verdict_event(
        verdict, source="scan:mail", tenant="acme", host="gw1", context={"mail.from": "a@b.jp"}
    )
    assert event.data_type == DATA_TYPE
    assert event.tenant == "acme"
    assert event.fields["scan.outcome"] == "blocked"
    assert event.fields["event.kind"] == "alert"
    assert event.fields["file.hash.sha256"] == verdict.sha256
    assert "EICAR-Test-File" in event.fields["scan.signatures"]
    assert event.fields["mail.from"] == "a@b.jp"
    assert json.loads(event.raw)["verdict"]["outcome"] == "blocked"
    assert event.get("@timestamp")


def test_clean_event(engine):
    event = verdict_event(engine.scan_bytes(b"ok"))
    assert event.fields["event.kind"] == "event"
    assert event.fields["scan.reasons"] == []
