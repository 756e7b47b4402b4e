from datetime import datetime, timedelta, timezone

import pytest

from mamori.model import Alert, Event, Severity
from mamori.testing import make_event


def test_event_id_is_deterministic_and_depends_on_raw():
    a = make_event({"EventID": 1}, raw="line 1")
    b = make_event({"EventID": 1}, raw="line 1")
    c = make_event({"EventID": 1}, raw="line 2")
    assert a.id == b.id
    assert a.id != c.id


def test_timestamps_become_utc():
    jst = timezone(timedelta(hours=9))
    ev = make_event(timestamp=datetime(2026, 4, 1, 9, 0, tzinfo=jst))
    assert ev.timestamp.utcoffset() == timedelta(0)
    assert ev.to_dict()["@timestamp"] == "2026-04-01T00:00:00Z"


def test_event_round_trip_keeps_envelope_and_fields():
    ev = make_event({"Image": r"C:\x.exe", "EventID": 1})
    back = Event.from_dict(ev.to_dict())
    assert back == ev
    assert back.get("host") == "pc-01"
    assert back.get("Image") == r"C:\x.exe"


def test_severity_order_and_parse():
    assert Severity.parse("HIGH") is Severity.HIGH
    assert Severity.CRITICAL.rank > Severity.LOW.rank
    with pytest.raises(ValueError, match="unknown severity"):
        Severity.parse("urgent")


def test_alert_attack_tags_split_into_techniques_and_tactics():
    alert = Alert(
        rule_id="r1",
        rule_title="t",
        level=Severity.HIGH,
        timestamp=datetime(2026, 1, 1),
        tags=("attack.credential-access", "attack.t1003.001", "attack.s0002", "cve.2021-1"),
    )
    assert alert.attack_ids == ("T1003.001",)
    assert alert.attack_tactics == ("credential-access",)
    assert Alert.from_dict(alert.to_dict()).to_dict() == alert.to_dict()
