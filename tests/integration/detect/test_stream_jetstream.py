"""Streaming detection on a real ``nats-server -js``: alerts out, un-acked events redelivered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mamori.bus.base import Message
from mamori.bus.jetstream import JetStreamBus
from mamori.bus.subjects import ALERTS_ALL, EVENTS_ALL, events_subject
from mamori.detect.engine import SigmaEngine
from mamori.detect.stream import DETECT_DURABLE, DetectionConsumer, load_stream_rules
from mamori.model import Event
from tests.integration.bus.conftest import nats_url  # noqa: F401 - the nats-server fixture

BRUTE_FORCE = "24d8d391-9aff-4075-8513-3e4d774ab822"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def failed_logon(n: int) -> Event:
    fields = {
        "Channel": "Security",
        "EventID": 4625,
        "Computer": "dc-01",
        "IpAddress": "198.51.100.9",
        "TargetUserName": f"user{n % 3}",
    }
    return Event(
        fields=fields,
        timestamp=T0 + timedelta(seconds=n),
        source="evtx",
        raw=json.dumps({**fields, "n": n}),
        data_type="windows:evtx",
        tenant="acme",
        host="dc-01",
    )


def _bus(url: str) -> JetStreamBus:
    return JetStreamBus(url, consumers={DETECT_DURABLE: EVENTS_ALL, "alerts-test": ALERTS_ALL})


async def test_jetstream_events_to_alerts_and_redelivery(
    nats_url: str,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    ruleset = load_stream_rules([], cache_dir=tmp_path / "cache")
    events = [failed_logon(i) for i in range(10)]
    messages = [Message(events_subject("acme", "evtx"), e.to_json().encode(), e.id) for e in events]
    async with _bus(nats_url) as bus:
        await bus.publish_many(messages[:4])
        sub = await bus.subscribe(EVENTS_ALL, DETECT_DURABLE, ack_wait=1.0)
        taken = await sub.fetch(10, timeout=2)  # a worker takes them and dies without acking
        assert len(taken) == 4
        await sub.close()
    async with _bus(nats_url) as bus:  # restart
        await bus.publish_many(messages[4:])
        det = DetectionConsumer(bus, SigmaEngine(ruleset), ack_wait=1.0, retry_delay=0.05)
        total = 0
        for _ in range(40):  # the 4 taken come back once their ack_wait is over
            total += await det.run_once(timeout=0.5)
            if det.stats.events >= 10:
                break
        assert det.stats.events == 10
        await det.stop()
        alerts_sub = await bus.subscribe(ALERTS_ALL, "alerts-test")
        got = []
        while batch := await alerts_sub.fetch(100, timeout=1):
            for d in batch:
                got.append(json.loads(d.message.data))
                await d.ack()
        await alerts_sub.close()
    brute = [a for a in got if a["rule_id"] == BRUTE_FORCE]
    assert len(brute) == 1
    assert brute[0]["matched"]["count"] == 10
    assert {d["event_id"] for d in brute[0]["events"]} == {e.id for e in events}
