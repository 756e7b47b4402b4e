"""``mamori up``/``worker`` declare every pipeline consumer when the bus starts.

On JetStream a message published before its consumer exists would be lost to that consumer;
here events published right after start reach both the store and the detection consumers.
"""

from __future__ import annotations

from mamori.cli.runtime import PIPELINE_CONSUMERS, start_bus
from mamori.config import Settings


async def test_events_published_before_any_subscriber_reach_every_consumer(nats_url, tmp_path):
    settings = Settings(data_dir=tmp_path, bus_url=nats_url)
    bus = await start_bus(settings)
    try:
        await bus.publish("mamori.events.acme.syslog", b"{}", msg_id="e1")
        for durable in ("store", "detect"):
            sub = await bus.subscribe(PIPELINE_CONSUMERS[durable], durable)
            (delivery,) = await sub.fetch(10, timeout=5)
            assert delivery.message.msg_id == "e1"
            await delivery.ack()
            await sub.close()
    finally:
        await bus.close()
