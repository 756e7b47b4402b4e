import pytest

from mamori.bus.base import Bus, BusError, BusFull, Message
from mamori.bus.jetstream import JetStreamBus
from mamori.bus.subjects import raw_subject


def msgs(n, tenant="acme", start=0, size=10):
    subject = raw_subject(tenant, "syslog")
    return [
        Message(subject, b"x" * size + b"%d" % i, f"id-{i}", {"peer": "1.2.3.4"})
        for i in range(start, start + n)
    ]


async def drain(sub, ack=True, timeout=0.5):
    got = []
    while batch := await sub.fetch(100, timeout=timeout):
        for d in batch:
            got.append(d)
            if ack:
                await d.ack()
    return got


async def test_publish_subscribe_ack_and_dedup(nats_url):
    async with JetStreamBus(nats_url, consumers={"parser": "mamori.raw.>"}) as bus:
        assert isinstance(bus, Bus)
        await bus.publish_many(msgs(5))
        await bus.publish_many(msgs(5))  # same ids: stored once
        sub = await bus.subscribe("mamori.raw.>", "parser")
        got = await drain(sub)
        assert [d.message.msg_id for d in got] == [f"id-{i}" for i in range(5)]
        assert got[0].message.headers == {"peer": "1.2.3.4"}
        assert got[0].message.subject == "mamori.raw.acme.syslog"
        await sub.close()


async def test_declared_consumer_keeps_messages_across_reconnect(nats_url):
    async with JetStreamBus(nats_url, consumers={"parser": "mamori.raw.>"}) as bus:
        await bus.publish_many(msgs(3))
        sub = await bus.subscribe("mamori.raw.>", "parser", ack_wait=1)
        (first, *_rest) = await sub.fetch(10, timeout=2)
        await first.ack()  # the other two are left unacked
    async with JetStreamBus(nats_url, consumers={"parser": "mamori.raw.>"}) as bus:
        sub = await bus.subscribe("mamori.raw.>", "parser", ack_wait=1)
        got = await drain(sub, timeout=3)
        assert sorted(d.message.msg_id for d in got) == ["id-1", "id-2"]
        assert all(d.num_delivered >= 2 for d in got)


async def test_nak_redelivers_and_tenants_have_their_own_subjects(nats_url):
    async with JetStreamBus(nats_url, consumers={"beta": "mamori.raw.beta.>"}) as bus:
        await bus.publish_many(msgs(2, "acme") + msgs(2, "beta", start=2))
        sub = await bus.subscribe("mamori.raw.beta.>", "beta")
        batch = await sub.fetch(10, timeout=2)
        assert [d.message.msg_id for d in batch] == ["id-2", "id-3"]
        await batch[0].nak()
        await batch[1].ack()
        again = await sub.fetch(10, timeout=2)
        assert [(d.message.msg_id, d.num_delivered) for d in again] == [("id-2", 2)]


async def test_full_stream_raises_bus_full(nats_url):
    bus = JetStreamBus(
        nats_url, stream="SMALL", subjects=["small.>"], max_bytes=4096, consumers={"c": "small.>"}
    )
    async with bus:
        with pytest.raises(BusFull):
            for i in range(200):
                await bus.publish("small.x", b"y" * 200, msg_id=f"m{i}")
        assert bus.is_full()


async def test_errors_are_clear(nats_url):
    with pytest.raises(BusError, match="durable"):
        JetStreamBus(nats_url, consumers={"a.b": "x"})
    with pytest.raises(BusError, match="cannot connect"):
        await JetStreamBus("nats://127.0.0.1:1", connect_timeout=0.5).start()
    with pytest.raises(BusError, match="closed"):
        await JetStreamBus(nats_url).publish("a", b"", msg_id="x")
    async with JetStreamBus(nats_url, consumers={"p": "mamori.raw.>"}) as bus:
        with pytest.raises(BusError, match="exists with subject"):
            await bus.subscribe("mamori.raw.acme.>", "p")


async def test_delete_consumer(nats_url):
    async with JetStreamBus(nats_url, consumers={"tmp": "mamori.raw.>"}) as bus:
        assert await bus.delete_consumer("tmp") is True
        assert await bus.delete_consumer("tmp") is False
