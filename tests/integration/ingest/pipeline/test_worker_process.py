"""The pipeline worker process of ``mamori up``: parsing and writing events in a child
process, write-through, a worker killed mid-way, and ``write_events`` = ``write``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select

from mamori.bus.embedded import EmbeddedBus
from mamori.cli.runtime import ServiceContext
from mamori.cli.wiring import ingest as wiring
from mamori.errors import MamoriError
from mamori.ingest.config import IngestConfig
from mamori.ingest.intake import accept_bulk
from mamori.ingest.records import RawRecord
from mamori.model import Event
from mamori.store.tables import QuarantinedRecord, StoredEvent


def _count(db, table) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def _body(n: int, start: int = 0) -> bytes:
    return b"".join(
        json.dumps({"@timestamp": f"2026-11-25T01:00:{i % 60:02d}Z", "seq": i}).encode() + b"\n"
        for i in range(start, start + n)
    )


def _seqs(db) -> list[int]:
    with db.session() as s:
        return sorted(int(f["seq"]) for f in s.scalars(select(StoredEvent.fields)))


async def test_one_worker_parses_and_writes_through(tmp_path, settings, db, world):
    settings.ingest_worker_processes = 1
    ctx = ServiceContext(settings=settings, db=db, bus=None)
    config = IngestConfig()
    worker = wiring.pipeline_worker(ctx, config, "parse")
    assert worker is not None and worker.write_through
    assert wiring.pipeline_worker(ctx, config, "store") is worker  # one process for both
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        parse = wiring.ParseConsumer(bus, config, worker=worker)
        store = wiring.StoreService(bus, db, worker=worker)
        await parse.start()
        await store.start()
        await parse.stop()  # the store consumer still uses the process: it keeps running
        assert worker.running
        await store.stop()
        assert not worker.running
        await worker.start()
        try:
            await accept_bulk(bus, _body(1200), source="json_lines", tenant="tenant-a")
            ghost = RawRecord(
                data=b"<13>Nov 25 10:00:00 h app: hi\n", source="syslog", tenant="gone"
            )
            await bus.publish_many([ghost.to_message()])
            assert await parse.drain() == 4
            # written through by the worker before the events were published ...
            assert _count(db, StoredEvent) == 1200
            # ... so the store consumer acks those envelopes without writing them again
            # (the event of the unknown tenant too: written through as a quarantined record)
            assert await store.events.drain() == 1201
            assert store.events.written_through == 1201 and store.events.stored == 0
            # the same body again (a client retry): parsed and written, stored once
            await accept_bulk(bus, _body(1200), source="json_lines", tenant="tenant-a")
            await parse.drain()
            await store.events.drain()
        finally:
            await worker.stop()
    assert not worker.running
    assert _seqs(db) == list(range(1200))
    with db.session() as s:
        (ghost_row,) = s.scalars(select(QuarantinedRecord))
    assert ghost_row.tenant_id is None and ghost_row.reason == "unknown tenant 'gone'"


async def test_two_workers_and_a_worker_killed_mid_way(tmp_path, settings, db, world):
    settings.ingest_worker_processes = 2
    ctx = ServiceContext(settings=settings, db=db, bus=None)
    config = IngestConfig()
    parse_worker = wiring.pipeline_worker(ctx, config, "parse")
    store_worker = wiring.pipeline_worker(ctx, config, "store")
    assert parse_worker is not None and store_worker is not None
    assert parse_worker is not store_worker and not parse_worker.write_through
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        parse = wiring.ParseConsumer(bus, config, worker=parse_worker, retry_delay=0.01)
        store = wiring.StoreConsumer(bus, db, worker=store_worker, retry_delay=0.01)
        await parse.start()
        await parse.stop()
        await store.start()
        await store.stop()
        await parse_worker.start()
        await store_worker.start()
        try:
            await accept_bulk(bus, _body(1000), source="json_lines", tenant="tenant-a")
            assert await parse.drain() == 2
            assert _count(db, StoredEvent) == 0  # no write-through with two processes
            # the store's worker dies: the batch is nak'ed and a new process takes over
            os.kill(await store_worker.call(wiring._worker_ready), signal.SIGKILL)
            await asyncio.sleep(0.2)
            assert await store.run_once(timeout=1) == 0 and store.failures == 1
            assert store_worker.restarts == 1 and store_worker.running
            assert await store.drain() == 1000
            # the parser's worker dies too: nothing is lost, nothing doubled
            await accept_bulk(bus, _body(1000, start=1000), source="json_lines", tenant="tenant-a")
            os.kill(await parse_worker.call(wiring._worker_ready), signal.SIGKILL)
            await asyncio.sleep(0.2)
            assert await parse.run_once(timeout=1) == 0 and parse_worker.restarts == 1
            await asyncio.sleep(1.1)  # the nak'ed raw records are due again
            assert await parse.drain() == 2
            assert await store.drain() == 1000
        finally:
            await parse_worker.stop()
            await store_worker.stop()
    assert _seqs(db) == list(range(2000))
    with pytest.raises(MamoriError, match="not running"):
        await store_worker.call(wiring._worker_ready)


def test_no_worker_process_when_switched_off_or_in_memory(settings, db):
    settings.ingest_worker_processes = 0
    ctx = ServiceContext(settings=settings, db=db, bus=None)
    assert wiring.pipeline_worker(ctx, IngestConfig(), "parse") is None
    settings.ingest_worker_processes = 1
    from mamori.store.db import Database

    memory = Database("sqlite://")
    try:
        assert wiring.database_url(memory) is None
        memory_ctx = ServiceContext(settings=settings, db=memory, bus=None)
        assert wiring.pipeline_worker(memory_ctx, IngestConfig(), "parse") is None
    finally:
        memory.dispose()


def test_write_events_stores_what_write_of_the_dicts_stores(db, world):
    naive = datetime(2026, 11, 25, 1, 2, 3)
    events = [
        Event(
            fields={"user": "太郎", "n": i, "when": naive, "host": "shadowed"},
            timestamp=naive if i % 2 else datetime(2026, 11, 25, 10, 2, 3, tzinfo=UTC),
            source="syslog",
            raw=f"line {i}",
            data_type="syslog:line",
            tenant="tenant-a" if i < 3 else "nobody",
            host=f"h{i}",
            id=f"ev{i}",
        )
        for i in range(4)
    ]
    writer = wiring.StoreWriter(db)

    def snapshot() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        with db.session() as s:
            rows = [
                (e.tenant_id, e.event_id, e.ts, e.host, e.source, e.data_type, e.fields, e.raw)
                for e in s.scalars(select(StoredEvent).order_by(StoredEvent.event_id))
            ]
            qrows = [
                (q.tenant_id, q.tenant_label, q.record_key, q.reason, q.raw)
                for q in s.scalars(select(QuarantinedRecord))
            ]
            s.execute(delete(StoredEvent))
            s.execute(delete(QuarantinedRecord))
        return rows, qrows

    first = writer.write_events(events)
    direct = snapshot()
    second = writer.write([json.loads(e.to_json()) for e in events])
    assert snapshot() == direct
    assert (first.events, first.unknown_tenant) == (second.events, second.unknown_tenant) == (3, 1)
    assert direct[0][0][6] == {"user": "太郎", "n": 0, "when": str(naive)}
    assert writer.write_events(events[:3]).events == 3
    assert writer.write_events(events[:3]).duplicates == 3
