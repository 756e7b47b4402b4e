from datetime import UTC, datetime

import pytest

from mamori.errors import ParseError
from mamori.ingest.parsers.web_access import WebAccessParser, parse_clf_time


def test_sniff(fixture_data):
    assert WebAccessParser.sniff(fixture_data("web_access"))
    assert not WebAccessParser.sniff(b"Nov 25 10:00:00 h sshd[1]: hi\n")
    assert not WebAccessParser.sniff(
        b"1764032400.123 245 10.0.0.21 TCP_MISS/200 1 GET http://x/ -\n"
    )


def test_fixture_counts_and_first_record(run, fixture_data):
    sink = run("web_access", fixture_data("web_access"))
    assert len(sink.events) == 5
    assert sink.quarantined == [] and sink.warnings == []
    first = sink.events[0]
    assert first.timestamp == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert first.data_type == "web:access"
    assert first.fields == {
        "c-ip": "203.0.113.77",
        "src_ip": "203.0.113.77",
        "cs-request": "GET /index.php?page=../../../../etc/passwd HTTP/1.1",
        "cs-method": "GET",
        "cs-uri": "/index.php?page=../../../../etc/passwd",
        "cs-uri-stem": "/index.php",
        "cs-uri-query": "page=../../../../etc/passwd",
        "cs-version": "HTTP/1.1",
        "sc-status": 200,
        "sc-bytes": 512,
        "cs-user-agent": "sqlmap/1.7.2#stable (https://sqlmap.org)",
    }


def test_user_referer_vhost_escapes_and_common_format(run, fixture_data):
    events = run("web_access", fixture_data("web_access")).events
    assert events[1].fields["cs-username"] == "tanaka"
    assert events[1].fields["cs-referer"] == "https://intra.example.jp/login"
    vhost = events[2].fields
    assert vhost["cs-host"] == "intra.example.jp:443"
    assert vhost["cs-user-agent"] == 'Mozilla/5.0 "quoted"'
    assert "sc-bytes" not in vhost
    binary = events[3].fields
    assert binary["cs-request"] == "\\x16\\x03\\x01\\x00"
    assert "cs-method" not in binary
    common = events[4].fields
    assert common["cs-method"] == "HEAD" and "cs-user-agent" not in common


def test_bad_lines_are_quarantined(run):
    data = (
        b"not an access log line\n"
        b'1.2.3.4 - - [99/Foo/2026:10:00:00 +0900] "GET / HTTP/1.1" 200 1\n'
        b'1.2.3.4 - - [31/Feb/2026:10:00:00 +0900] "GET / HTTP/1.1" 200 1\n'
    )
    sink = run("web_access", data)
    assert len(sink.quarantined) == 3
    assert sink.quarantined[1].reason.startswith("bad access-log time")
    assert sink.quarantined[2].reason.startswith("impossible access-log time")


def test_clf_time():
    assert parse_clf_time("10/Oct/2000:13:55:36 -0700") == datetime(
        2000, 10, 10, 20, 55, 36, tzinfo=UTC
    )
    with pytest.raises(ParseError):
        parse_clf_time("10/Oct/2000 13:55:36")
