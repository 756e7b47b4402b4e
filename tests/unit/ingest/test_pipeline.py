import asyncio

from mamori.bus.base import Message
from mamori.bus.embedded import EmbeddedBus
from mamori.ingest.config import IngestConfig
from mamori.ingest.pipeline import IngestPipeline, ParserCache, parse_record
from mamori.ingest.records import RawRecord
from mamori.testing import FakeSink


class FlakySink(FakeSink):
    def __init__(self, failures):
        super().__init__()
        self.failures = failures
        self.flushes = 0

    def flush(self):
        self.flushes += 1
        if self.failures:
            self.failures -= 1
            raise OSError("store unavailable")


async def test_sink_failure_means_no_ack_and_redelivery_with_same_ids(tmp_path):
    async with EmbeddedBus(tmp_path, fsync="never") as bus:
        await bus.publish_many(
            [
                RawRecord(
                    b"Nov 25 10:00:00 h app: x %d" % i, source="syslog", tenant="acme"
                ).to_message()
                for i in range(3)
            ]
        )
        sink = FlakySink(failures=1)
        pipeline = IngestPipeline(bus, sink, retry_delay=0)
        assert await pipeline.run_once(timeout=1) == 0
        assert pipeline.failures == 1
        first_ids = [e.id for e in sink.events]
        assert await pipeline.run_once(timeout=1) == 3
        assert [e.id for e in sink.events[3:]] == first_ids  # idempotent for the store
        assert await pipeline.run_once(timeout=0.1) == 0


async def test_unreadable_messages_and_start_stop(tmp_path):
    async with EmbeddedBus(tmp_path, fsync="never") as bus:
        await bus.publish_many([Message("mamori.raw.a.b", b"raw", "m1", {})])
        sink = FakeSink()
        pipeline = IngestPipeline(bus, sink)
        await pipeline.start()
        await bus.publish_many([RawRecord(b"<13>hi", source="syslog").to_message()])
        for _ in range(100):
            if sink.events and sink.quarantined:
                break
            await asyncio.sleep(0.02)
        await pipeline.stop()
        assert sink.quarantined[0].reason.startswith("unreadable raw record")
        assert sink.events[0].fields["message"] == "hi"


def test_parser_instances_are_per_tenant_and_bad_options_quarantine():
    cache = ParserCache(IngestConfig(parser_options={"json_lines": {"mapping": "wrong"}}))
    sink = FakeSink()
    parse_record(RawRecord(b"{}", source="json_lines", tenant="t"), cache, sink)
    assert "mapping" in sink.quarantined[0].reason
    cache = ParserCache(IngestConfig())
    assert cache.get("postfix", "a") is not cache.get("postfix", "b")
    assert cache.get("postfix", "a") is cache.get("postfix", "a")


def test_record_round_trip_and_stable_location():
    rec = RawRecord(
        b"data", source="syslog", tenant="acme", host="h", location="x", truncated=True
    ).with_id()
    back = RawRecord.from_message(rec.to_message())
    assert back == rec
    assert rec.to_message().subject == "mamori.raw.acme.syslog"
