from datetime import UTC, datetime

from mamori.ingest.parsers.squid import SquidParser


def test_sniff(fixture_data):
    assert SquidParser.sniff(fixture_data("squid"))
    assert not SquidParser.sniff(
        b'1.2.3.4 - - [25/Nov/2026:10:00:00 +0900] "GET / HTTP/1.1" 200 1\n'
    )


def test_fixture_counts_and_first_record(run, fixture_data):
    sink = run("squid", fixture_data("squid"))
    assert len(sink.events) == 4
    assert sink.quarantined == [] and sink.warnings == []
    first = sink.events[0]
    assert first.timestamp == datetime(2025, 11, 25, 1, 0, 0, 123000, tzinfo=UTC)
    assert first.data_type == "proxy:squid"
    assert first.fields == {
        "c-ip": "10.0.0.21",
        "src_ip": "10.0.0.21",
        "squid_result": "TCP_MISS",
        "sc-status": 200,
        "sc-bytes": 10240,
        "cs-method": "GET",
        "c-uri": "http://download.example.com/tools/setup.exe?v=2",
        "elapsed_ms": 245,
        "cs-host": "download.example.com",
        "r-dns": "download.example.com",
        "c-uri-stem": "/tools/setup.exe",
        "c-uri-query": "v=2",
        "c-uri-extension": "exe",
        "squid_hierarchy": "HIER_DIRECT",
        "peer": "198.51.100.40",
        "dst_ip": "198.51.100.40",
        "content_type": "application/octet-stream",
    }


def test_connect_denied_and_user(run, fixture_data):
    events = run("squid", fixture_data("squid")).events
    tunnel = events[1].fields
    assert tunnel["cs-host"] == "login.example.net"
    assert tunnel["dst_port"] == 443
    assert tunnel["user"] == "tanaka"
    denied = events[2].fields
    assert denied["squid_result"] == "TCP_DENIED"
    assert denied["sc-status"] == 403
    assert "dst_ip" not in denied
    assert denied["c-uri-extension"] == "ps1"


def test_bad_lines_are_quarantined(run):
    sink = run("squid", b"1764032400.123 x y\n1764032400.1 5 h TCP_MISS/200 1 GET http://[::1\n")
    assert len(sink.quarantined) == 1
    assert sink.quarantined[0].reason == "not a Squid native access-log line"
    assert sink.events[0].fields["c-uri"] == "http://[::1"  # unparsable URL kept as is
