from datetime import UTC, datetime

from mamori.ingest.parsers.netfilter import NetfilterParser


def test_sniff(fixture_data):
    assert NetfilterParser.sniff(fixture_data("netfilter"))
    assert not NetfilterParser.sniff(b"Nov 25 10:00:00 h kernel: usb 1-1: new device\n")


def test_fixture_counts_and_first_record(run, fixture_data):
    sink = run("netfilter", fixture_data("netfilter"))
    assert len(sink.events) == 3
    assert sink.quarantined == [] and sink.warnings == []
    first = sink.events[0]
    assert first.timestamp == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert first.host == "gw01"
    assert first.data_type == "firewall:netfilter"
    assert first.fields == {
        "hostname": "gw01",
        "program": "kernel",
        "syslog_format": "rfc3164",
        "event_type": "netfilter",
        "log_prefix": "[UFW BLOCK]",
        "action": "blocked",
        "in_interface": "eth0",
        "out_interface": "",
        "mac": "00:16:3e:aa:bb:cc",
        "src_ip": "203.0.113.50",
        "dst_ip": "192.0.2.10",
        "packet_length": 40,
        "TOS": "0x00",
        "PREC": "0x00",
        "ttl": 241,
        "ID": "54321",
        "protocol": "tcp",
        "src_port": 43210,
        "dst_port": 3389,
        "WINDOW": "1024",
        "RES": "0x00",
        "URGP": "0",
        "flags": "SYN",
    }


def test_accept_prefix_and_plain_kernel_line(run, fixture_data):
    events = run("netfilter", fixture_data("netfilter")).events
    assert events[1].fields["action"] == "allowed"
    assert events[1].fields["protocol"] == "udp"
    assert events[1].fields["out_interface"] == "eth0"
    plain = events[2]
    assert plain.fields["protocol"] == "icmp"
    assert plain.fields["log_prefix"] == "nft-drop"
    assert plain.fields["timestamp_missing"] is True
    assert "dst_port" not in plain.fields


def test_lines_without_netfilter_fields_are_quarantined(run):
    sink = run("netfilter", b"Nov 25 10:00:00 h kernel: eth0: link up\n")
    assert sink.events == []
    assert "no netfilter fields" in sink.quarantined[0].reason
