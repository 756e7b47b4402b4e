from datetime import UTC, datetime

from mamori.ingest.parsers.syslog import SyslogParser


def test_sniff_positive_and_negative(fixture_data):
    assert SyslogParser.sniff(fixture_data("syslog"))
    assert not SyslogParser.sniff(b'{"a": 1}\n{"b": 2}\n')
    assert not SyslogParser.sniff(b"just some text\nmore text\n")
    assert not SyslogParser.sniff(b"")


def test_fixture_counts_and_first_record(run, fixture_data):
    sink = run("syslog", fixture_data("syslog"))
    assert len(sink.events) == 12
    assert sink.quarantined == []
    assert sink.warnings == []
    first = sink.events[0]
    assert first.timestamp == datetime(2026, 11, 24, 23, 59, 58, tzinfo=UTC)
    assert first.host == "web01"
    assert first.tenant == "acme"
    assert first.source == "syslog"
    assert first.data_type == "auth:sshd"
    assert first.raw.startswith("<38>Nov 24 23:59:58 web01 sshd")
    assert first.fields == {
        "facility": "auth",
        "severity": "info",
        "hostname": "web01",
        "program": "sshd",
        "pid": "2201",
        "message": "Accepted password for alice from 10.0.0.5 port 51234 ssh2",
        "syslog_format": "rfc3164",
        "event_type": "ssh_login",
        "outcome": "success",
        "user": "alice",
        "src_ip": "10.0.0.5",
        "src_port": 51234,
        "auth_method": "password",
    }


def test_sshd_failures_and_invalid_users(run, fixture_data):
    events = run("syslog", fixture_data("syslog")).events
    failed = events[1].fields
    assert failed["outcome"] == "failure"
    assert failed["invalid_user"] is True
    assert failed["user"] == "admin"
    assert failed["src_ip"] == "203.0.113.9"
    invalid = events[2].fields
    assert invalid["event_type"] == "ssh_invalid_user"
    assert invalid["user"] == "oracle"
    root = events[3].fields
    assert root["user"] == "root" and "invalid_user" not in root
    assert events[4].fields["event_type"] == "ssh_disconnect"


def test_sudo_fields(run, fixture_data):
    events = run("syslog", fixture_data("syslog")).events
    ok = events[5]
    assert ok.data_type == "auth:sudo"
    assert ok.fields["user"] == "alice"
    assert ok.fields["target_user"] == "root"
    assert ok.fields["command"] == "/usr/bin/systemctl restart nginx"
    assert ok.fields["Image"] == "/usr/bin/systemctl"
    assert ok.fields["outcome"] == "success"
    denied = events[6].fields
    assert denied["reason"] == "user NOT in sudoers"
    assert denied["outcome"] == "failure"


def test_audit_and_netfilter_inside_syslog(run, fixture_data):
    events = run("syslog", fixture_data("syslog")).events
    audit = events[7]
    assert audit.data_type == "linux:auditd"
    assert audit.fields["type"] == "EXECVE"
    assert audit.fields["a2"] == "/tmp/x.sh"
    nf = events[8]
    assert nf.data_type == "firewall:netfilter"
    assert nf.fields["src_ip"] == "198.51.100.7"
    assert nf.fields["dst_port"] == 22
    assert nf.fields["action"] == "blocked"


def test_rfc5424_structured_data_bom_and_offset(run, fixture_data):
    events = run("syslog", fixture_data("syslog")).events
    ev = events[9]
    assert ev.timestamp == datetime(2026, 11, 25, 0, 4, 0, 3000, tzinfo=UTC)
    assert ev.host == "app01.example.jp"
    assert ev.fields["syslog_format"] == "rfc5424"
    assert ev.fields["program"] == "billing"
    assert ev.fields["pid"] == "4242"
    assert ev.fields["msgid"] == "AUDIT"
    assert ev.fields["sd.origin@48577.ip"] == "10.0.0.9"
    assert ev.fields["sd.meta.sequenceId"] == "17"
    assert ev.fields["message"] == "支払い処理を開始しました"  # BOM removed
    nil = events[10]
    assert nil.fields["timestamp_missing"] is True
    assert nil.host == "default-host"  # the context's default when the record names none
    iso = events[11]
    assert iso.timestamp == datetime(2026, 11, 24, 15, 5, 0, 123456, tzinfo=UTC)
    assert iso.fields["program"] == "cron"


def test_missing_year_uses_the_year_before_reception(run):
    received = datetime(2027, 1, 2, 0, 0, tzinfo=UTC)
    ev = run("syslog", b"Dec 31 23:59:00 h app: late\n", received_at=received).events[0]
    assert ev.timestamp.year == 2026
    ev = run("syslog", b"Jan  1 00:01:00 h app: early\n", received_at=received).events[0]
    assert ev.timestamp == datetime(2027, 1, 1, 0, 1, tzinfo=UTC)


def test_timezone_option_applies_to_bsd_timestamps(run):
    ev = run("syslog", b"Nov 25 09:00:00 h app: x\n", timezone="Asia/Tokyo").events[0]
    assert ev.timestamp == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


def test_line_without_timestamp_gets_reception_time(run):
    sink = run("syslog", b"no header at all here\n")
    ev = sink.events[0]
    assert ev.timestamp == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert ev.fields["timestamp_missing"] is True
    assert ev.fields["message"] == "no header at all here"


def test_invalid_utf8_and_nul_bytes_are_kept_escaped(run):
    sink = run("syslog", b"<13>Nov 25 10:00:00 h app: bad \xff\xfe and nul \x00 here\n")
    assert sink.quarantined == []
    ev = sink.events[0]
    assert ev.fields["decode_error"] is True
    assert "\\xff\\xfe" in ev.fields["message"]
    assert "\\x00" in ev.raw and "\x00" not in ev.raw


def test_64_kib_line_is_read_whole(run):
    body = b"A" * (64 * 1024)
    sink = run("syslog", b"<13>Nov 25 10:00:00 h app: " + body + b"\n")
    assert len(sink.events) == 1
    assert sink.events[0].fields["message"] == body.decode()


def test_line_over_the_limit_is_quarantined_not_lost(run, monkeypatch):
    monkeypatch.setattr(SyslogParser, "MAX_LINE", 100)
    sink = run(
        "syslog", b"<13>Nov 25 10:00:00 h app: " + b"B" * 500 + b"\nNov 25 10:00:01 h app: ok\n"
    )
    assert len(sink.quarantined) == 1
    assert "longer than 100 bytes" in sink.quarantined[0].reason
    assert sink.quarantined[0].raw.startswith(b"<13>Nov 25")
    assert [e.fields["message"] for e in sink.events] == ["ok"]


def test_broken_headers_are_quarantined_with_reason(run):
    data = (
        b"<999>Nov 25 10:00:00 h app: pri too big\n"
        b'<14>1 2026-11-25T00:00:00Z h app - - [unterminated x="1 msg\n'
        b"<14>1 2026-13-45T00:00:00Z h app - - - impossible date\n"
        b"Nov 25 10:00:02 h app: fine\n"
    )
    sink = run("syslog", data)
    assert [q.reason for q in sink.quarantined] == [
        "invalid syslog priority <999>",
        "unterminated RFC 5424 structured data value",
        "impossible timestamp '2026-13-45T00:00:00Z': month must be in 1..12",
    ]
    assert sink.quarantined[0].location == "test.log:1"
    assert sink.quarantined[0].tenant == "acme"
    assert len(sink.events) == 1


def test_event_ids_are_stable_and_distinct_for_repeated_lines(run):
    line = b"Nov 25 10:00:00 h app: same\n"
    first = run("syslog", line * 2).events
    again = run("syslog", line * 2).events
    assert first[0].id != first[1].id
    assert [e.id for e in first] == [e.id for e in again]


def test_file_bom_and_crlf_line_endings(run):
    data = b"\xef\xbb\xbfNov 25 10:00:00 h app: one\r\nNov 25 10:00:01 h app: two\r\n"
    sink = run("syslog", data)
    assert [e.fields["message"] for e in sink.events] == ["one", "two"]
    assert sink.events[0].raw == "Nov 25 10:00:00 h app: one"
