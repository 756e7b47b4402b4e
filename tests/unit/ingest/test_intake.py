import gzip
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.bus.base import BusFull
from mamori.bus.embedded import EmbeddedBus
from mamori.ingest.intake import BadPayload, PayloadTooLarge, accept_bulk, inflate
from mamori.ingest.pipeline import IngestPipeline
from mamori.testing import FakeSink


async def test_ndjson_and_array_bodies_become_records_for_the_parser(tmp_path):
    ndjson = b'{"ts": 1764028800, "user": "a"}\n\n[1]\nnot json\n{"ts": 1764028801, "user": "b"}\n'
    array = json.dumps([{"user": "c"}, "text", {"user": "d"}]).encode()
    async with EmbeddedBus(tmp_path, fsync="never") as bus:
        first = await accept_bulk(bus, ndjson, source="json_lines", tenant="acme", peer="10.0.0.9")
        assert (first.accepted, first.rejected) == (2, 2)
        assert [q.reason.split(":")[0] for q in first.quarantined] == [
            "JSON value is not an object (got list)",
            "invalid JSON",
        ]
        assert first.quarantined[0].tenant == "acme"
        assert first.quarantined[1].raw == b"not json"
        second = await accept_bulk(
            bus, gzip.compress(array), source="json_lines", tenant="acme", content_encoding="gzip"
        )
        assert (second.accepted, second.rejected) == (2, 1)
        again = await accept_bulk(bus, ndjson, source="json_lines", tenant="acme", peer="10.0.0.9")
        assert again.accepted == 2  # a retried request...
        sink = FakeSink()
        await IngestPipeline(bus, sink).drain()
    assert sorted(e.fields["user"] for e in sink.events) == ["a", "b", "c", "d"]  # ...stored once
    assert all(e.tenant == "acme" and e.source == "json_lines" for e in sink.events)


def test_gzip_bomb_is_refused_without_inflating_it():
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    assert len(bomb) < 100_000
    with pytest.raises(PayloadTooLarge, match="inflated body"):
        inflate(bomb, "gzip", max_bytes=1024 * 1024)


def test_size_limits_and_bad_bodies():
    with pytest.raises(PayloadTooLarge):
        inflate(b"x" * 2000, None, max_bytes=1024)
    with pytest.raises(BadPayload, match="damaged"):
        inflate(b"not gzip", "gzip", max_bytes=1024)
    with pytest.raises(BadPayload, match="truncated"):
        inflate(gzip.compress(b"abc" * 100)[:-12], "gzip", max_bytes=10_000)
    with pytest.raises(BadPayload, match="unsupported"):
        inflate(b"x", "br", max_bytes=10)
    assert inflate(zlib.compress(b"hello"), "deflate", max_bytes=100) == b"hello"


async def test_broken_array_and_full_bus(tmp_path):
    async with EmbeddedBus(tmp_path, fsync="never", max_bytes=1) as bus:
        with pytest.raises(BadPayload, match="JSON array"):
            await accept_bulk(bus, b'[{"a": 1}', source="json_lines", tenant="t")
        await bus.publish("x.y", b"fills the tiny bus", msg_id="fill")
        with pytest.raises(BusFull) as info:
            await accept_bulk(bus, b'{"a": 1}\n', source="json_lines", tenant="t")
        assert info.value.retry_after > 0


async def test_large_bodies_travel_in_chunks_with_distinct_stable_ids(tmp_path, monkeypatch):
    from mamori.ingest import intake

    monkeypatch.setattr(intake, "CHUNK_RECORDS", 10)
    body = b"".join(b'{"n": %d}\n' % i for i in range(35))
    async with EmbeddedBus(tmp_path, fsync="never") as bus:
        result = await accept_bulk(bus, body, source="json_lines", tenant="acme")
        assert result.accepted == 35
        assert bus.stats()["last_seq"] == 4  # 10 + 10 + 10 + 5
        sink = FakeSink()
        await IngestPipeline(bus, sink).drain()
    assert sorted(e.fields["n"] for e in sink.events) == list(range(35))
    assert len({e.id for e in sink.events}) == 35


@settings(max_examples=300, deadline=None)
@given(
    line=st.binary(max_size=40)
    | st.from_regex(rb'[{}\[\]":,0-9a-z \\\xed\xa0\x80\xef\xbb\xbf-]{0,30}', fullmatch=True)
    | st.sampled_from([b"NaN", b'{"a": Infinity}', b'{"a": "\\ud800"}', b"[" * 2000])
)
def test_split_records_tells_objects_apart_as_json_does(line):
    import json as std_json

    from mamori.ingest.intake import _value_of

    try:
        expected = isinstance(std_json.loads(line), dict)
    except (ValueError, RecursionError):
        expected = None
    try:
        got = isinstance(_value_of(line), dict)
    except (ValueError, RecursionError):
        got = None
    assert got is expected
