from datetime import UTC, datetime

from mamori.ingest.parsers import postfix as postfix_module
from mamori.ingest.parsers.postfix import PostfixParser


def test_sniff(fixture_data):
    assert PostfixParser.sniff(fixture_data("postfix"))
    assert not PostfixParser.sniff(b"Nov 25 10:00:00 h sshd[1]: Accepted password for a\n")


def test_fixture_counts_and_first_delivery(run, fixture_data):
    sink = run("postfix", fixture_data("postfix"))
    assert len(sink.events) == 9
    assert sink.quarantined == [] and sink.warnings == []
    delivery = sink.events[4]
    assert delivery.timestamp == datetime(2026, 11, 25, 9, 30, 2, tzinfo=UTC)
    assert delivery.host == "mx01"
    assert delivery.data_type == "mail:postfix"
    assert delivery.fields == {
        "hostname": "mx01",
        "program": "postfix/lmtp",
        "pid": "3003",
        "message": delivery.raw.split(": ", 1)[1],
        "syslog_format": "rfc3164",
        "queue_id": "4F2A31C0D2",
        "to": "keiri@corp.example.jp",
        "relay": "mailbox.corp.example.jp[10.0.0.30]:24",
        "relay_host": "mailbox.corp.example.jp",
        "relay_ip": "10.0.0.30",
        "relay_port": 24,
        "dst_ip": "10.0.0.30",
        "delay": "1.1",
        "delays": "0.1/0/0.2/0.8",
        "dsn": "2.0.0",
        "status": "sent",
        "status_detail": "250 2.0.0 Ok",
        "event_type": "mail_delivery",
        # correlated from the earlier lines of the same queue id
        "client_host": "unknown",
        "client_ip": "203.0.113.66",
        "src_ip": "203.0.113.66",
        "message_id": "20261125003001.1@mail.example.net",
        "from": "invoice@mail.example.net",
        "size": 48213,
        "nrcpt": 2,
    }


def test_deferred_reject_connect_and_other_programs(run, fixture_data):
    events = run("postfix", fixture_data("postfix")).events
    assert events[0].fields["event_type"] == "smtp_connect"
    assert events[0].fields["client_ip"] == "203.0.113.66"
    deferred = events[5].fields
    assert deferred["status"] == "deferred"
    assert deferred["relay"] == "none"
    assert deferred["from"] == "invoice@mail.example.net"
    reject = events[6].fields
    assert reject["event_type"] == "mail_reject"
    assert reject["from"] == "spam@bad.example"
    assert reject["to"] == "x@corp.example.jp"
    assert reject["src_ip"] == "198.51.100.9"
    assert reject["reply"].startswith("554 5.7.1")
    assert events[7].fields["event_type"] == "smtp_disconnect"
    dovecot = events[8]
    assert dovecot.data_type == "syslog"
    assert dovecot.fields["program"] == "dovecot"


def test_removed_queue_id_is_forgotten_and_state_is_bounded(run, monkeypatch):
    parser = PostfixParser()
    import io

    from mamori.ingest.base import ParseContext
    from mamori.testing import FakeSink

    data = (
        b"Nov 25 09:30:01 mx postfix/smtpd[1]: AAAAA11111: client=a[192.0.2.1]\n"
        b"Nov 25 09:30:02 mx postfix/qmgr[2]: AAAAA11111: removed\n"
    )
    parser.parse(io.BytesIO(data), FakeSink(), ParseContext())
    assert parser.queue == {}
    monkeypatch.setattr(postfix_module, "MAX_OPEN_QUEUE_IDS", 3)
    lines = b"".join(
        b"Nov 25 09:30:01 mx postfix/smtpd[1]: BBBBB%05d: client=a[192.0.2.1]\n" % i
        for i in range(10)
    )
    parser.parse(io.BytesIO(lines), FakeSink(), ParseContext())
    assert list(parser.queue) == ["BBBBB00007", "BBBBB00008", "BBBBB00009"]


def test_non_syslog_lines_are_quarantined(run):
    sink = run("postfix", b"garbage line\n")
    assert "not a syslog line" in sink.quarantined[0].reason
