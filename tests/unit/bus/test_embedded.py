import asyncio
import json

import pytest

from mamori.bus.base import Bus, BusError, BusFull, Message
from mamori.bus.embedded import EmbeddedBus


def msgs(n, subject="mamori.raw.acme.syslog", start=0, size=10):
    return [
        Message(subject, b"x" * size + str(i).encode(), f"id-{i}") for i in range(start, start + n)
    ]


async def drain(sub, *, ack=True, timeout=0.2):
    got = []
    while True:
        batch = await sub.fetch(100, timeout=timeout)
        if not batch:
            return got
        for d in batch:
            got.append(d)
            if ack:
                await d.ack()


async def test_is_a_bus_and_round_trips_messages(tmp_path):
    async with EmbeddedBus(tmp_path) as bus:
        assert isinstance(bus, Bus)
        await bus.publish("mamori.raw.acme.syslog", b"hello", msg_id="m1", headers={"h": "v"})
        sub = await bus.subscribe("mamori.raw.>", "parser")
        (d,) = await sub.fetch(10, timeout=1)
        assert d.message == Message("mamori.raw.acme.syslog", b"hello", "m1", {"h": "v"})
        assert d.num_delivered == 1
        await d.ack()
        assert await sub.fetch(10, timeout=0.05) == []


async def test_fetch_waits_for_a_publish(tmp_path):
    async with EmbeddedBus(tmp_path, fsync="never") as bus:
        sub = await bus.subscribe("a.>", "c")
        fetch = asyncio.create_task(sub.fetch(10, timeout=5))
        await asyncio.sleep(0.05)
        await bus.publish("a.b", b"late", msg_id="x")
        (d,) = await fetch
        assert d.message.data == b"late"


async def test_unacked_messages_are_redelivered_after_ack_wait_and_nak(tmp_path):
    async with EmbeddedBus(tmp_path, fsync="never") as bus:
        await bus.publish_many(msgs(2))
        sub = await bus.subscribe("mamori.>", "c", ack_wait=0.1)
        first = await sub.fetch(10, timeout=1)
        assert [d.message.msg_id for d in first] == ["id-0", "id-1"]
        await first[0].ack()
        again = await sub.fetch(10, timeout=2)
        assert [(d.message.msg_id, d.num_delivered) for d in again] == [("id-1", 2)]
        await again[0].nak()
        third = await sub.fetch(10, timeout=2)
        assert third[0].num_delivered == 3


async def test_restart_resumes_after_acked_and_redelivers_the_rest(tmp_path):
    async with EmbeddedBus(tmp_path) as bus:
        await bus.publish_many(msgs(10))
        sub = await bus.subscribe("mamori.>", "c")
        batch = await sub.fetch(10, timeout=1)
        for d in batch[:4] + batch[6:7]:
            await d.ack()
    async with EmbeddedBus(tmp_path) as bus:
        sub = await bus.subscribe("mamori.>", "c")
        got = [d.message.msg_id for d in await drain(sub)]
        assert got == ["id-4", "id-5", "id-7", "id-8", "id-9"]
        await bus.publish_many(msgs(1, start=10))
        assert [d.message.msg_id for d in await drain(sub)] == ["id-10"]


async def test_consumer_groups_share_work_and_durables_are_independent(tmp_path):
    async with EmbeddedBus(tmp_path, fsync="never") as bus:
        await bus.publish_many(msgs(20))
        a = await bus.subscribe("mamori.>", "workers")
        b = await bus.subscribe("mamori.>", "workers")
        other = await bus.subscribe("mamori.>", "audit")
        first = await a.fetch(7, timeout=1)
        second = await drain(b)
        ids = [d.message.msg_id for d in first + second]
        assert sorted(ids) == sorted(f"id-{i}" for i in range(20))
        assert len(set(ids)) == 20
        assert len(await drain(other)) == 20


async def test_subject_filter(tmp_path):
    async with EmbeddedBus(tmp_path, fsync="never") as bus:
        await bus.publish_many(
            msgs(3, "mamori.raw.acme.syslog") + msgs(2, "mamori.raw.beta.web", start=3)
        )
        sub = await bus.subscribe("mamori.raw.beta.*", "beta")
        assert [d.message.msg_id for d in await drain(sub)] == ["id-3", "id-4"]
        with pytest.raises(BusError, match="exists with subject"):
            await bus.subscribe("mamori.raw.acme.*", "beta")


async def test_republished_ids_are_stored_once(tmp_path):
    async with EmbeddedBus(tmp_path, fsync="never") as bus:
        await bus.publish_many(msgs(3))
        await bus.publish_many(msgs(3))
    async with EmbeddedBus(tmp_path, fsync="never") as bus:  # window rebuilt from the spool
        await bus.publish_many(msgs(4))
        sub = await bus.subscribe("mamori.>", "c")
        assert [d.message.msg_id for d in await drain(sub)] == [f"id-{i}" for i in range(4)]


async def test_full_spool_refuses_then_frees_space_once_consumed(tmp_path):
    bus = EmbeddedBus(
        tmp_path, max_bytes=4000, segment_bytes=1000, fsync="never", state_interval=0.02
    )
    async with bus:
        sub = await bus.subscribe("mamori.>", "c")
        published = 0
        with pytest.raises(BusFull) as info:
            for i in range(1000):
                await bus.publish_many(msgs(1, start=i, size=100))
                published += 1
        assert info.value.retry_after > 0
        assert bus.is_full()
        assert published < 1000
        got = await drain(sub)
        assert len(got) == published
        for _ in range(100):
            if not bus.is_full():
                break
            await asyncio.sleep(0.02)
        assert not bus.is_full()
        assert len(list((tmp_path / "segments").glob("*.seg"))) <= 2
        await bus.publish("mamori.x", b"fits again", msg_id="again")


async def test_torn_tail_is_cut_and_earlier_records_survive(tmp_path):
    async with EmbeddedBus(tmp_path) as bus:
        await bus.publish_many(msgs(5))
    (segment,) = (tmp_path / "segments").glob("*.seg")
    with open(segment, "ab") as fh:
        fh.write(b"\x00\x00\x01\x00garbage-half-record")
    async with EmbeddedBus(tmp_path) as bus:
        sub = await bus.subscribe("mamori.>", "c")
        assert len(await drain(sub)) == 5
        await bus.publish("mamori.raw.x.y", b"next", msg_id="next")
        assert [d.message.msg_id for d in await drain(sub)] == ["next"]


async def test_many_segments_are_read_in_order(tmp_path):
    async with EmbeddedBus(tmp_path, segment_bytes=500, fsync="never") as bus:
        for i in range(0, 60, 6):
            await bus.publish_many(msgs(6, start=i))
        assert bus.stats()["segments"] > 3
        sub = await bus.subscribe("mamori.>", "c")
        assert [d.message.msg_id for d in await drain(sub)] == [f"id-{i}" for i in range(60)]


async def test_concurrent_publishers_are_group_committed(tmp_path):
    async with EmbeddedBus(tmp_path) as bus:
        await asyncio.gather(*(bus.publish_many(msgs(5, start=i * 5)) for i in range(40)))
        sub = await bus.subscribe("mamori.>", "c")
        assert len(await drain(sub)) == 200
        assert bus.stats()["last_seq"] == 200


async def test_bad_use_is_refused(tmp_path):
    with pytest.raises(BusError, match="fsync"):
        EmbeddedBus(tmp_path, fsync="sometimes")  # type: ignore[arg-type]
    bus = EmbeddedBus(tmp_path)
    with pytest.raises(BusError, match="closed"):
        await bus.publish("a", b"", msg_id="1")
    async with bus:
        with pytest.raises(BusError, match="durable"):
            await bus.subscribe("a", "../x")


async def test_damaged_consumer_state_restarts_from_the_oldest_message(tmp_path):
    async with EmbeddedBus(tmp_path) as bus:
        await bus.publish_many(msgs(3))
        sub = await bus.subscribe("mamori.>", "c")
        await drain(sub)
    (tmp_path / "consumers" / "c.json").write_text("{not json")
    async with EmbeddedBus(tmp_path) as bus:
        assert bus.damaged == 1
        sub = await bus.subscribe("mamori.>", "c")
        assert len(await drain(sub)) == 3  # delivered again; consumers de-duplicate
    assert (tmp_path / "consumers" / "c.damaged").exists()


async def test_damaged_record_in_an_old_segment_is_skipped_not_fatal(tmp_path):
    async with EmbeddedBus(tmp_path, segment_bytes=300, fsync="never") as bus:
        await bus.publish_many(msgs(12))
    first = sorted((tmp_path / "segments").glob("*.seg"))[0]
    data = bytearray(first.read_bytes())
    data[30] ^= 0xFF  # corrupt the body of the first record
    first.write_bytes(bytes(data))
    async with EmbeddedBus(tmp_path, fsync="never") as bus:
        sub = await bus.subscribe("mamori.>", "c")
        got = [d.message.msg_id for d in await drain(sub)]
        assert bus.damaged >= 1
        assert got[-1] == "id-11" and "id-0" not in got


async def test_consumer_positions_are_plain_json(tmp_path):
    async with EmbeddedBus(tmp_path) as bus:
        await bus.publish_many(msgs(3))
        sub = await bus.subscribe("mamori.>", "c")
        await drain(sub)
    state = json.loads((tmp_path / "consumers" / "c.json").read_text())
    assert state == {"subject": "mamori.>", "floor": 3, "acked": []}


async def test_deleting_a_consumer_releases_its_spool(tmp_path):
    async with EmbeddedBus(tmp_path, segment_bytes=300, fsync="never") as bus:
        await bus.publish_many(msgs(20))
        fast = await bus.subscribe("mamori.>", "fast")
        slow = await bus.subscribe("mamori.>", "slow")
        await drain(fast)
        await bus._persist_consumers()
        assert bus.stats()["segments"] > 1  # "slow" still holds everything
        with pytest.raises(BusError, match="subscriptions"):
            await bus.delete_consumer("slow")
        await slow.close()
        assert await bus.delete_consumer("slow") is True
        assert await bus.delete_consumer("slow") is False
        assert bus.stats()["segments"] == 1


async def test_a_second_bus_on_the_same_spool_is_refused_until_the_first_closes(tmp_path):
    from mamori.bus.base import BusError
    from mamori.bus.embedded import EmbeddedBus

    first = EmbeddedBus(tmp_path / "spool", fsync="never")
    await first.start()
    second = EmbeddedBus(tmp_path / "spool", fsync="never")
    with pytest.raises(BusError, match="in use by another mamori process"):
        await second.start()
    await first.close()
    await second.start()  # the lock went with the first bus
    await second.close()
