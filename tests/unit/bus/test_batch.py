"""Batch envelopes: packing, reading, and per-item deliveries acked together."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.bus import batch
from mamori.bus.base import Message
from mamori.bus.embedded import EmbeddedBus

SUBJECT = "mamori.events.acme.syslog"


def _items(n: int, size: int = 10) -> list[tuple[str, bytes]]:
    return [(f"id{i}", json.dumps({"i": i, "pad": "x" * size}).encode()) for i in range(n)]


def test_pack_bounds_items_and_bytes_and_keeps_order():
    messages = batch.pack(SUBJECT, _items(1200))
    assert [m.headers[batch.COUNT_HEADER] for m in messages] == ["500", "500", "200"]
    assert all(batch.is_batch(m) and m.subject == SUBJECT for m in messages)
    lines = [line for m in messages for line in batch.items_of(m)]
    assert [json.loads(x)["i"] for x in lines] == list(range(1200))
    by_bytes = batch.pack(SUBJECT, _items(10, size=400), max_bytes=1000)
    assert [int(m.headers[batch.COUNT_HEADER]) for m in by_bytes] == [2] * 5
    # one item bigger than the limit still travels, alone
    (big,) = batch.pack(SUBJECT, [("big", b'"' + b"x" * 5000 + b'"')], max_bytes=1000)
    assert batch.items_of(big) == [b'"' + b"x" * 5000 + b'"']
    assert batch.pack(SUBJECT, []) == []


def test_batch_ids_follow_the_item_ids_and_headers_are_kept():
    one = batch.pack(SUBJECT, _items(3), headers={"x-extra": "1"})[0]
    again = batch.pack(SUBJECT, _items(3))[0]
    other = batch.pack(SUBJECT, _items(4))[0]
    assert one.msg_id == again.msg_id != other.msg_id
    assert one.headers["x-extra"] == "1" and batch.is_batch(one)


def test_items_with_line_breaks_are_refused_and_single_messages_are_one_item():
    with pytest.raises(ValueError, match="line break"):
        batch.pack(SUBJECT, [("a", b"{}\n{}")])
    single = Message(SUBJECT, b'{"a": 1}', "e1")
    assert not batch.is_batch(single) and batch.items_of(single) == [b'{"a": 1}']


def test_json_lines_round_trip_what_orjson_refuses():
    value = {
        "lone": "\ud800x",
        "big": 2**80,
        "when": datetime(2026, 11, 25, 1, 2, 3, tzinfo=UTC),
        "日本": "語",
    }
    line = batch.dumps_line(value)
    assert b"\n" not in line
    back = batch.loads(line)
    assert back["lone"] == "\ud800x" and back["big"] == 2**80 and back["日本"] == "語"
    assert back["when"] == str(value["when"])  # as json.dumps(default=str) writes it
    assert batch.loads(b'{"n": NaN}')["n"] != batch.loads(b'{"n": NaN}')["n"]  # NaN
    with pytest.raises(ValueError):
        batch.loads(b"{not json")


@given(
    st.dictionaries(
        st.text(),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda c: st.lists(c, max_size=3),
            max_leaves=8,
        ),
        max_size=5,
    )
)
def test_any_json_object_survives_a_batch(value):
    line = batch.dumps_line(value)
    (message,) = batch.pack(SUBJECT, [("x", line)])
    (item,) = batch.items_of(message)
    assert batch.loads(item) == value


async def test_unbatching_acks_a_batch_once_every_item_is_acked(tmp_path):
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        await bus.publish_many(
            [*batch.pack(SUBJECT, _items(5)), Message(SUBJECT, b'{"single": 1}', "s1")]
        )
        sub = await batch.UnbatchingBus(bus).subscribe("mamori.events.>", "d", ack_wait=0.2)
        first = await sub.fetch(3, timeout=1)
        assert [json.loads(d.message.data)["i"] for d in first] == [0, 1, 2]
        rest = await sub.fetch(100, timeout=1)  # what is left of the batch first
        assert [json.loads(d.message.data)["i"] for d in rest] == [3, 4]
        (single,) = await sub.fetch(100, timeout=1)
        assert json.loads(single.message.data) == {"single": 1}
        await single.ack()
        for delivery in [*first, rest[0]]:
            await delivery.ack()
        await rest[1].nak()  # one item failed: the whole batch comes back
        again = await sub.fetch(100, timeout=1)
        assert [json.loads(d.message.data)["i"] for d in again] == [0, 1, 2, 3, 4]
        assert all(d.num_delivered == 2 for d in again)
        for delivery in again:
            await delivery.ack()
            await delivery.ack()  # a second ack is harmless
        assert await sub.fetch(100, timeout=0.3) == []
        await sub.close()
        # everything was acked: a new subscription of the same consumer gets nothing
        sub = await batch.UnbatchingBus(bus).subscribe("mamori.events.>", "d")
        assert await sub.fetch(100, timeout=0.3) == []
        await sub.close()


async def test_an_empty_batch_is_acked_and_skipped(tmp_path):
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        empty = Message(SUBJECT, b"", "empty", {batch.BATCH_HEADER: batch.NDJSON})
        await bus.publish_many([empty, Message(SUBJECT, b"{}", "s1")])
        wrapped = batch.UnbatchingBus(bus)
        sub = await wrapped.subscribe("mamori.events.>", "d")
        (only,) = await sub.fetch(10, timeout=1)
        assert only.message.msg_id == "s1"
        await only.ack()
        await sub.close()
        assert not wrapped.is_full()
        assert await wrapped.delete_consumer("d")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=80) | st.from_regex(rb"[0-9a\xd9\xa0 ]{0,60}", fullmatch=True))
def test_long_digit_runs_are_found_as_the_regex_finds_them(data):
    import re

    assert batch.has_long_digits(data) == bool(re.search(rb"\d{19}", data))
    assert batch.has_long_digits(b"x" + b"7" * 19) and not batch.has_long_digits(b"7" * 18)
