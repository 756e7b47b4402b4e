import json

from mamori.bus.embedded import EmbeddedBus
from mamori.ingest.sinks import BusEventSink, CountingSink, DedupSink, JsonlSink
from mamori.model import Quarantined
from mamori.testing import FakeSink, make_event


def test_jsonl_sink_writes_events_and_quarantine(tmp_path):
    sink = JsonlSink(tmp_path / "o" / "e.jsonl")
    sink.event(make_event({"a": 1}))
    sink.quarantine(Quarantined(source="s", reason="bad", raw=b"\xff\x00x"))
    sink.warning("w")
    sink.close()
    (event,) = [json.loads(x) for x in (tmp_path / "o" / "e.jsonl").read_text().splitlines()]
    assert event["a"] == 1 and event["tenant"] == "acme"
    (q,) = [json.loads(x) for x in sink.quarantine_path.read_text().splitlines()]
    assert q["raw_b64"] == "/wB4" and q["reason"] == "bad"
    assert sink.counts == {"events": 1, "quarantined": 1, "warnings": 1}


def test_dedup_and_counting_sinks():
    inner = FakeSink()
    sink = CountingSink(DedupSink(inner))
    ev = make_event({"a": 1})
    sink.event(ev)
    sink.event(ev)
    sink.quarantine(Quarantined(source="s", reason="r", raw=b""))
    sink.warning("w")
    sink.flush()
    assert len(inner.events) == 1 and sink.events == 2 and sink.inner.duplicates == 1
    assert len(inner.quarantined) == 1 and inner.warnings == ["w"]


def test_bus_event_sink_publishes_durably(tmp_path):
    sink = BusEventSink(EmbeddedBus(tmp_path, fsync="never"), batch=2)
    for i in range(5):
        sink.event(make_event({"i": i}, raw=str(i)))
    sink.quarantine(Quarantined(source="syslog", reason="r", raw=b"x", tenant="acme"))
    sink.close()
    assert sink.published == 6

    import asyncio

    async def read():
        async with EmbeddedBus(tmp_path) as bus:
            sub = await bus.subscribe("mamori.>", "check")
            return [d.message.subject for d in await sub.fetch(100, timeout=1)]

    subjects = asyncio.run(read())
    assert subjects.count("mamori.events.acme.test") == 5
    assert subjects[-1] == "mamori.quarantine.acme.syslog"
