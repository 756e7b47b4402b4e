import asyncio

from mamori.bus.embedded import EmbeddedBus
from mamori.ingest.config import IngestConfig, SyslogConfig
from mamori.ingest.service import IngestService
from mamori.testing import FakeSink


async def test_service_receives_parses_and_stops(tmp_path):
    config = IngestConfig(syslog=SyslogConfig(bind="127.0.0.1", tcp_port=0, default_tenant="acme"))
    sink = FakeSink()
    service = IngestService(config, EmbeddedBus(tmp_path, fsync="never"), sink)
    await service.start()
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", service.listener.tcp_port)
        writer.write(b"<38>Nov 25 10:00:00 h sshd[1]: Invalid user x from 192.0.2.7 port 9\n")
        await writer.drain()
        writer.close()
        for _ in range(200):
            if sink.events:
                break
            await asyncio.sleep(0.02)
    finally:
        await service.stop()
    (event,) = sink.events
    assert event.fields["event_type"] == "ssh_invalid_user" and event.tenant == "acme"


def test_without_ports_there_is_no_listener(tmp_path):
    service = IngestService(IngestConfig(), EmbeddedBus(tmp_path), FakeSink())
    assert service.listener is None and service.pipeline is not None
