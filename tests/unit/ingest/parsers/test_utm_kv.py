from datetime import UTC, datetime

from mamori.ingest.parsers.utm_kv import UtmKvParser


def test_sniff(fixture_data):
    assert UtmKvParser.sniff(fixture_data("utm_kv"))
    assert not UtmKvParser.sniff(b"Nov 25 10:00:00 h sshd[1]: a=b\n")
    assert not UtmKvParser.sniff(b"a=1 b=2\n")


def test_fixture_counts_and_first_record(run, fixture_data):
    sink = run("utm_kv", fixture_data("utm_kv"))
    assert len(sink.events) == 3
    assert sink.quarantined == [] and sink.warnings == []
    first = sink.events[0]
    assert first.timestamp == datetime(2026, 11, 25, 1, 15, 30, 123457, tzinfo=UTC)
    assert first.host == "FGT60F-honsha"
    assert first.data_type == "firewall:utm"
    assert first.fields == {
        "date": "2026-11-25",
        "time": "10:15:30",
        "devname": "FGT60F-honsha",
        "devid": "FGT60FTK2000000",
        "eventtime": "1795569330123456789",
        "tz": "+0900",
        "logid": "0000000013",
        "type": "traffic",
        "subtype": "forward",
        "level": "notice",
        "vd": "root",
        "srcip": "10.1.1.20",
        "srcport": "52100",
        "srcintf": "internal",
        "dstip": "203.0.113.80",
        "dstport": "443",
        "dstintf": "wan1",
        "proto": "6",
        "action": "deny",
        "policyid": "0",
        "service": "HTTPS",
        "msg": "Denied by forward policy check",
        "src_ip": "10.1.1.20",
        "dst_ip": "203.0.113.80",
        "src_port": 52100,
        "dst_port": 443,
        "protocol": "tcp",
        "device": "FGT60F-honsha",
    }


def test_event_log_without_tz_and_sophos_in_syslog(run, fixture_data):
    events = run("utm_kv", fixture_data("utm_kv"), timezone="+09:00").events
    assert events[1].timestamp == datetime(2026, 11, 25, 1, 15, 31, tzinfo=UTC)
    assert events[1].fields["user"] == "admin"
    sophos = events[2]
    assert sophos.timestamp == datetime(2026, 11, 25, 1, 15, 32, tzinfo=UTC)  # timezone="JST"
    assert sophos.host == "XG230"
    assert sophos.fields["user"] == "tanaka"
    assert sophos.fields["action"] == "Allow"
    assert sophos.fields["dst_port"] == 25


def test_quoted_values_with_escapes_and_spaces(run):
    line = b'devname="fw 1" logid="1" date=2026-11-25 time=00:00:00 msg="say \\"hi\\" now" x=1\n'
    ev = run("utm_kv", line).events[0]
    assert ev.fields["msg"] == 'say "hi" now'
    assert ev.fields["device"] == "fw 1"


def test_lines_without_pairs_are_quarantined(run):
    sink = run("utm_kv", b"nothing to see\nonly=one\n")
    assert [q.reason for q in sink.quarantined] == [
        "no key=value pairs in the line",
        "fewer than two key=value pairs in the line",
    ]
