import asyncio
import contextlib
import socket
import ssl

import pytest

from mamori.bus.embedded import EmbeddedBus
from mamori.ingest.collectors.syslog_listener import SyslogListener
from mamori.ingest.config import IngestConfig, SenderRule, SourceConfig, SyslogConfig
from mamori.ingest.pipeline import RAW_DURABLE, RAW_SUBJECTS, IngestPipeline
from mamori.ingest.records import RawRecord
from mamori.testing import FakeSink

LOCAL = SenderRule(network="127.0.0.0/8", tenant="acme", host="fallback-host")


def config(**kw):
    base = {"bind": "127.0.0.1", "tcp_port": 0, "udp_port": 0, "senders": [LOCAL]}
    base.update(kw)
    return SyslogConfig(**base)


async def records(bus, count, timeout=10.0):
    """Wait for ``count`` raw records on the bus and return them (acked)."""
    sub = await bus.subscribe(RAW_SUBJECTS, "test-reader")
    got = []
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while len(got) < count and loop.time() < end:
        for d in await sub.fetch(1000, timeout=0.2):
            got.append(RawRecord.from_message(d.message))
            await d.ack()
    await sub.close()
    return got


async def send_tcp(port, data, *, ssl_context=None, close=True):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl_context)
    writer.write(data)
    await writer.drain()
    if close:
        writer.close()
        await writer.wait_closed()
    return reader, writer


@pytest.fixture
async def bus(tmp_path):
    bus = EmbeddedBus(tmp_path / "spool", fsync="never")
    await bus.start()
    yield bus
    await bus.close()


@pytest.fixture
async def listener(bus):
    listener = SyslogListener(config(), bus)
    await listener.start()
    yield listener
    await listener.stop()


async def test_tcp_newline_and_octet_counting_connections(bus, listener):
    await send_tcp(
        listener.tcp_port, b"<13>Nov 25 10:00:00 h1 app: one\n<13>Nov 25 10:00:01 h1 app: two\n"
    )
    msg = b"<13>Nov 25 10:00:02 h1 app: multi\nline"
    await send_tcp(listener.tcp_port, b"%d %s" % (len(msg), msg))
    got = await records(bus, 3)
    assert sorted(r.data for r in got) == sorted(
        [
            b"<13>Nov 25 10:00:00 h1 app: one",
            b"<13>Nov 25 10:00:01 h1 app: two",
            msg,
        ]
    )
    rec = got[0]
    assert rec.tenant == "acme" and rec.host == "fallback-host" and rec.source == "syslog"
    assert rec.location.startswith("syslog+tcp://127.0.0.1:")
    assert rec.record_id and len({r.record_id for r in got}) == 3


async def test_udp_datagrams(bus, listener):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(5):
        sock.sendto(
            b"<13>Nov 25 10:00:0%d h app: udp %d\n" % (i, i), ("127.0.0.1", listener.udp_port)
        )
    sock.close()
    got = await records(bus, 5)
    assert sorted(r.data[-5:] for r in got) == [b"udp %d" % i for i in range(5)]
    assert all(r.location == "syslog+udp://127.0.0.1" for r in got)


async def test_tls_client_certificate_cn_selects_tenant(bus, pki):
    cfg = config(
        tcp_port=None,
        udp_port=None,
        tls_port=0,
        tls_cert=pki.server_cert,
        tls_key=pki.server_key,
        tls_client_ca=pki.ca,
        tls_require_client_cert=True,
        senders=[LOCAL, SenderRule(cn="*.beta.example.jp", tenant="beta", source="utm_kv")],
    )
    listener = SyslogListener(cfg, bus)
    await listener.start()
    try:
        client = ssl.create_default_context(cafile=str(pki.ca))
        client.load_cert_chain(pki.client_cert, pki.client_key)
        line = b"<13>devname=fw logid=1 date=2026-11-25 time=1:0:0 a=b\n"
        await send_tcp(listener.tls_port, line, ssl_context=client)
        (rec,) = await records(bus, 1)
        assert rec.tenant == "beta"  # CN rule wins over the network rule
        assert rec.source == "utm_kv"
        assert rec.location.startswith("syslog+tls://")
        no_cert = ssl.create_default_context(cafile=str(pki.ca))
        with pytest.raises((ssl.SSLError, ConnectionError)):
            reader, writer = await send_tcp(
                listener.tls_port, b"<13>x\n", ssl_context=no_cert, close=False
            )
            await asyncio.wait_for(reader.read(), 5)  # the server refuses the handshake
            raise ConnectionError("closed")
    finally:
        await listener.stop()


async def test_unknown_sender_is_refused(bus):
    listener = SyslogListener(config(senders=[SenderRule(network="10.0.0.0/8", tenant="x")]), bus)
    await listener.start()
    try:
        reader, writer = await send_tcp(listener.tcp_port, b"<13>hello\n", close=False)
        # closed by the server (possibly with a reset, as the line was never read)
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        assert listener.stats["refused_unknown_sender"] == 1
        assert await records(bus, 1, timeout=0.5) == []
    finally:
        await listener.stop()


async def test_silent_sender_does_not_block_others_and_times_out(bus):
    listener = SyslogListener(config(idle_timeout=0.5), bus)
    await listener.start()
    try:
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", listener.tcp_port)
        await send_tcp(listener.tcp_port, b"<13>Nov 25 10:00:00 h app: busy\n")
        (rec,) = await records(bus, 1)
        assert rec.data.endswith(b"busy")
        assert await asyncio.wait_for(idle_reader.read(), 5) == b""  # idle one is closed
        idle_writer.close()
        assert listener.stats["idle_timeouts"] >= 1
    finally:
        await listener.stop()


async def test_big_lines_nul_bytes_invalid_utf8_and_no_timestamp_end_to_end(bus, tmp_path):
    listener = SyslogListener(config(max_message_bytes=128 * 1024), bus)
    await listener.start()
    big = b"<13>Nov 25 10:00:00 h app: " + b"Z" * (64 * 1024)
    lines = [
        big,
        b"<13>Nov 25 10:00:01 h app: nul\x00inside and bad \xff\xfe utf8",
        b"no timestamp or priority at all",
        b"<13>Nov 25 10:00:02 h app: last",
    ]
    try:
        await send_tcp(listener.tcp_port, b"\n".join(lines) + b"\n")
        got = await records(bus, 4)
    finally:
        await listener.stop()
    assert sorted(r.data for r in got) == sorted(lines)  # raw bytes arrive untouched
    sink = FakeSink()
    for rec in got:
        await bus.publish_many([rec.to_message()])  # a re-send: same id, kept once
    pipeline = IngestPipeline(bus, sink, IngestConfig())
    await pipeline.drain()
    assert len(sink.events) == 4 and sink.quarantined == []
    by_msg = {e.fields["message"][:10]: e for e in sink.events}
    assert len(by_msg["Z" * 10].fields["message"]) == 64 * 1024
    nul = by_msg["nul\\x00ins"]
    assert nul.fields["decode_error"] is True and "\\xff\\xfe" in nul.fields["message"]
    assert by_msg["no timesta"].fields["timestamp_missing"] is True
    assert by_msg["no timesta"].host == "fallback-host"
    assert all(e.tenant == "acme" for e in sink.events)


async def test_over_limit_record_is_quarantined_by_the_pipeline(bus):
    listener = SyslogListener(config(max_message_bytes=2048), bus)
    await listener.start()
    try:
        await send_tcp(
            listener.tcp_port, b"<13>" + b"Q" * 10_000 + b"\n<13>Nov 25 10:00:00 h a: ok\n"
        )
        sink = FakeSink()
        pipeline = IngestPipeline(bus, sink)
        for _ in range(50):
            await pipeline.run_once(timeout=0.2)
            if len(sink.events) + len(sink.quarantined) >= 2:
                break
    finally:
        await listener.stop()
    assert len(sink.events) == 1
    (q,) = sink.quarantined
    assert "limit" in q.reason and len(q.raw) == 2048 and q.tenant == "acme"
    assert listener.stats["truncated"] == 1


async def test_full_bus_pauses_reading_and_loses_nothing(tmp_path):
    bus = EmbeddedBus(
        tmp_path / "small",
        max_bytes=32 * 1024,
        segment_bytes=4096,
        fsync="never",
        state_interval=0.02,
    )
    await bus.start()
    listener = SyslogListener(config(), bus)
    await listener.start()
    n = 3000
    payload = b"".join(
        b"<13>Nov 25 10:00:00 h app: event %05d padding-padding\n" % i for i in range(n)
    )
    try:
        sender = asyncio.create_task(send_tcp(listener.tcp_port, payload))
        await asyncio.sleep(0.5)
        assert bus.is_full()
        assert listener.stats["paused"] > 0
        assert not sender.done() or listener.stats["records"] < n  # the reader is held back
        sink = FakeSink()
        pipeline = IngestPipeline(bus, sink)
        for _ in range(400):
            await pipeline.run_once(timeout=0.1)
            if len(sink.events) >= n:
                break
        await sender
    finally:
        await listener.stop()
        await bus.close()
    numbers = sorted(int(e.fields["message"].split()[1]) for e in sink.events)
    assert numbers == list(range(n))


async def test_configured_source_parser_runs_in_the_pipeline(bus):
    cfg = IngestConfig(
        sources={"fw": SourceConfig(parser="netfilter", options={"timezone": "+09:00"})}
    )
    await bus.publish_many(
        [
            RawRecord(
                b"Nov 25 09:00:00 gw kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 PROTO=TCP "
                b"SPT=1 DPT=22",
                source="fw",
                tenant="acme",
            ).to_message(),
            RawRecord(b"x", source="nope", tenant="acme").to_message(),
        ]
    )
    sink = FakeSink()
    await IngestPipeline(bus, sink, cfg, durable=RAW_DURABLE).drain()
    (ev,) = sink.events
    assert ev.source == "netfilter" and ev.fields["dst_port"] == 22
    assert ev.timestamp.hour == 0
    (q,) = sink.quarantined
    assert q.reason.startswith("unknown source 'nope'")


async def test_udp_unknown_senders_and_oversized_datagrams(bus):
    cfg = config(
        tcp_port=None,
        max_message_bytes=1024,
        senders=[SenderRule(network="127.0.0.1/32", tenant="acme")],
    )
    listener = SyslogListener(cfg, bus)
    await listener.start()
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.sendto(b"<13>" + b"U" * 5000, ("127.0.0.1", listener.udp_port))
        sock.sendto(b"\n\x00", ("127.0.0.1", listener.udp_port))  # nothing in it: ignored
        sock.sendto(b"<13>fine\n", ("127.0.0.1", listener.udp_port))
        sock.close()
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stranger.bind(("127.0.0.2", 0))  # another loopback address: not in the mapping
        stranger.sendto(b"<13>who am i\n", ("127.0.0.1", listener.udp_port))
        stranger.close()
        got = await records(bus, 2)
        for _ in range(100):
            if listener.stats["refused_unknown_sender"]:
                break
            await asyncio.sleep(0.02)
    finally:
        await listener.stop()
    assert sorted((r.truncated, len(r.data)) for r in got) == [(False, 8), (True, 1024)]
    assert listener.stats["refused_unknown_sender"] == 1


async def test_octet_counted_multiline_message_stays_one_event(bus, listener):
    msg = b"<11>Nov 25 10:00:00 app01 java[7]: Exception in thread main\n\tat a.b(C.java:1)"
    await send_tcp(listener.tcp_port, b"%d %s" % (len(msg), msg))
    sink = FakeSink()
    pipeline = IngestPipeline(bus, sink)
    for _ in range(50):
        await pipeline.run_once(timeout=0.2)
        if sink.events:
            break
    (event,) = sink.events
    assert event.fields["message"] == "Exception in thread main\n\tat a.b(C.java:1)"
    assert event.fields["program"] == "java"


async def test_configuration_errors_are_clear(bus, listener, tmp_path):
    from mamori.errors import ConfigError

    taken = SyslogListener(config(udp_port=None, tcp_port=listener.tcp_port), bus)
    with pytest.raises(ConfigError, match="cannot bind"):
        await taken.start()
    no_files = SyslogListener(
        config(
            tcp_port=None,
            udp_port=None,
            tls_port=0,
            tls_cert=tmp_path / "no.pem",
            tls_key=tmp_path / "no.key",
        ),
        bus,
    )
    with pytest.raises(ConfigError, match="cannot be loaded"):
        await no_files.start()
    no_key = SyslogListener(config(tcp_port=None, udp_port=None, tls_port=0), bus)
    with pytest.raises(ConfigError, match="tls_cert and tls_key"):
        await no_key.start()
