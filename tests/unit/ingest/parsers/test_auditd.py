from datetime import UTC, datetime

from mamori.ingest.parsers.auditd import AuditdParser


def test_sniff(fixture_data):
    assert AuditdParser.sniff(fixture_data("auditd"))
    assert not AuditdParser.sniff(b"Nov 25 10:00:00 h sshd[1]: Accepted password for a\n")
    assert not AuditdParser.sniff(b'{"type": "SYSCALL"}\n')


def test_fixture_counts_and_first_record(run, fixture_data):
    sink = run("auditd", fixture_data("auditd"))
    assert len(sink.events) == 6
    assert sink.quarantined == [] and sink.warnings == []
    first = sink.events[0]
    assert first.timestamp == datetime(2025, 11, 25, 0, 0, 0, 101000, tzinfo=UTC)
    assert first.data_type == "linux:auditd"
    assert first.fields == {
        "type": "SYSCALL",
        "audit_serial": 701,
        "arch": "c000003e",
        "syscall": "59",
        "SYSCALL": "execve",
        "success": "yes",
        "exit": "0",
        "a0": "55d5c1",
        "a1": "55d5c2",
        "a2": "55d5c3",
        "a3": "0",
        "items": "2",
        "ppid": "1200",
        "pid": "1234",
        "auid": "1000",
        "uid": "0",
        "gid": "0",
        "euid": "0",
        "suid": "0",
        "fsuid": "0",
        "egid": "0",
        "sgid": "0",
        "fsgid": "0",
        "tty": "pts0",
        "ses": "3",
        "comm": "wget",
        "exe": "/usr/bin/wget",
        "subj": "unconfined",
        "key": "susp_activity",
        "Image": "/usr/bin/wget",
    }


def test_execve_hex_arguments_and_proctitle_are_decoded(run, fixture_data):
    events = run("auditd", fixture_data("auditd")).events
    assert events[1].fields["a2"] == "http://203.0.113.9/x"
    assert events[1].fields["a0"] == "wget"
    assert events[4].fields["proctitle"] == "wget -q"
    assert {e.fields["audit_serial"] for e in events[:5]} == {701}


def test_nested_user_message_is_flattened(run, fixture_data):
    login = run("auditd", fixture_data("auditd")).events[5].fields
    assert login["acct"] == "root"
    assert login["addr"] == "203.0.113.9"
    assert login["res"] == "failed"
    assert login["exe"] == "/usr/sbin/sshd"


def test_node_prefix_and_enriched_format(run):
    line = (
        b"node=srv01 type=SYSCALL msg=audit(1764028800.000:9): arch=c000003e syscall=319 "
        b'comm="x" exe="/tmp/x"\x1dARCH=x86_64 SYSCALL=memfd_create AUID="alice"\n'
    )
    ev = run("auditd", line).events[0]
    assert ev.host == "srv01"
    assert ev.fields["SYSCALL"] == "memfd_create"
    assert ev.fields["AUID"] == "alice"


def test_non_audit_lines_are_quarantined(run):
    sink = run("auditd", b"type=SYSCALL but no msg\nrandom words\n")
    assert len(sink.quarantined) == 2
    assert all("not an audit record" in q.reason for q in sink.quarantined)
