"""The log-collection services of ``mamori up``: parse and store consumers, retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from mamori.bus.base import Message
from mamori.bus.embedded import EmbeddedBus
from mamori.cli.runtime import default_services
from mamori.cli.wiring import ingest as wiring
from mamori.ingest.config import IngestConfig
from mamori.ingest.intake import accept_bulk
from mamori.ingest.records import RawRecord
from mamori.model import Event
from mamori.store.repos import audit
from mamori.store.repos import ingest as repo
from mamori.store.tables import AuditLog, QuarantinedRecord, StoredEvent


def _count(db, table) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def _body(n: int) -> bytes:
    return b"".join(
        json.dumps({"@timestamp": f"2026-11-25T01:00:{i % 60:02d}Z", "seq": i}).encode() + b"\n"
        for i in range(n)
    )


async def test_raw_records_reach_the_store_once_even_when_redelivered(tmp_path, db, world):
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        await accept_bulk(bus, _body(1200), source="json_lines", tenant="tenant-a")
        parse = wiring.ParseConsumer(bus, IngestConfig())
        store = wiring.StoreConsumer(bus, db)
        assert await parse.drain() == 3  # 1200 records in chunks of 500
        assert parse.events == 1200
        # the store consumer crashes after committing, before acking: all comes back
        sub = await bus.subscribe("mamori.events.>", wiring.STORE_DURABLE, ack_wait=0.2)
        batch = await sub.fetch(2000, timeout=1)
        store._write(batch)  # committed, never acked
        await sub.close()
        assert _count(db, StoredEvent) == 1200
        assert await store.drain() == 1200  # delivered again ...
        assert store.duplicates == 1200  # ... and recognised
        # the same body sent again (a client retry) is stored once too
        await accept_bulk(bus, _body(1200), source="json_lines", tenant="tenant-a")
        await parse.drain()
        await store.drain()
    assert _count(db, StoredEvent) == 1200
    with db.session() as s:
        items, _ = repo.search_events(
            s, query=repo.EventQuery(fields={"seq": "7"}, tenant_ids=[world.tenant_a.id])
        )
    assert len(items) == 1 and items[0].source == "json_lines"
    assert items[0].ts == datetime(2026, 11, 25, 1, 0, 7, tzinfo=UTC)


async def test_unreadable_records_and_unknown_tenants_are_quarantined(tmp_path, db, world):
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        result = await accept_bulk(bus, b'{"ok": 1}\n[1]\n', source="json_lines", tenant="tenant-a")
        assert result.rejected == 1
        raw = RawRecord(data=b"<999>broken\n", source="syslog", tenant="tenant-a")
        ghost = RawRecord(data=b"<13>Nov 25 10:00:00 h app: hi\n", source="syslog", tenant="gone")
        nosource = RawRecord(data=b"x", source="no-such-parser", tenant="tenant-a")
        await bus.publish_many([raw.to_message(), ghost.to_message(), nosource.to_message()])
        await wiring.ParseConsumer(bus, IngestConfig()).drain()
        service = wiring.StoreService(bus, db)
        await service.events.drain()
        await service.quarantine.drain()
    assert _count(db, StoredEvent) == 1
    with db.session() as s:
        rows = {r.reason: r for r in s.scalars(select(QuarantinedRecord))}
    assert rows["invalid syslog priority <999>"].raw == b"<999>broken"
    assert rows["invalid syslog priority <999>"].tenant_id == world.tenant_a.id
    assert rows["unknown tenant 'gone'"].tenant_id is None
    assert rows["unknown tenant 'gone'"].tenant_label == "gone"
    assert any("unknown source 'no-such-parser'" in reason for reason in rows)
    # the intake's rejected record is not stored by this path (the web layer publishes it)
    assert len(rows) == 3


async def test_a_failing_store_acks_nothing_and_retries(tmp_path, db, world, monkeypatch):
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        events = [
            Event(
                fields={"n": i},
                timestamp=datetime.now(UTC),
                source="x",
                raw=f"r{i}",
                tenant="tenant-a",
            )
            for i in range(5)
        ]
        sink = wiring._CollectSink()
        for e in events:
            sink.event(e)
        await bus.publish_many(sink.messages)
        store = wiring.StoreConsumer(bus, db, retry_delay=0.01, ack_wait=0.2)
        down = {"now": True}
        real = store.writer.write

        def flaky(*args, **kwargs):
            if down["now"]:
                raise RuntimeError("database is down")
            return real(*args, **kwargs)

        monkeypatch.setattr(store.writer, "write", flaky)
        # the database is down: nothing is written, nothing acked (not even quarantined)
        assert await store.run_once(timeout=0.5) == 0
        assert store.failures == 1 and _count(db, StoredEvent) == 0
        assert _count(db, QuarantinedRecord) == 0
        down["now"] = False
        assert await store.drain() == 5
    assert _count(db, StoredEvent) == 5


def test_retention_job_purges_and_audits(db, world):
    now = datetime.now(UTC)
    with db.session() as s:
        repo.insert_events(
            s,
            rows=[
                {"tenant_id": world.tenant_a.id, "event_id": "old", "ts": now - timedelta(181)},
                {"tenant_id": world.tenant_a.id, "event_id": "new", "ts": now - timedelta(179)},
            ],
        )
    assert world.tenant_a.retention_days == 180  # the default for new tenants
    job = wiring.RetentionJob(db)
    (result,) = job.run_once()
    assert (result.slug, result.events) == ("tenant-a", 1)
    with db.session() as s:
        assert list(s.scalars(select(StoredEvent.event_id))) == ["new"]
        (entry,) = [e for e in audit.list_entries(s) if e.action == "events.purge"]
        assert entry.actor == wiring.RETENTION_ACTOR
        assert entry.tenant_id == world.tenant_a.id
        assert entry.detail["events"] == 1 and entry.detail["quarantined"] == 0
        assert audit.verify(s).ok
    assert job.run_once() == []
    with db.session() as s:
        assert (
            s.scalar(
                select(func.count()).select_from(AuditLog).where(AuditLog.action == "events.purge")
            )
            == 1
        )


def test_retention_job_purges_records_of_no_tenant_with_the_configured_retention(
    db, world, settings
):
    now = datetime.now(UTC)
    with db.session() as s:
        repo.insert_quarantined(
            s,
            rows=[
                {"tenant_id": None, "record_key": "ghost-old", "received_at": now - timedelta(8)},
                {"tenant_id": None, "record_key": "ghost-new", "received_at": now - timedelta(6)},
            ],
        )
    settings.quarantine_retention_days = 7
    settings.retention_interval = 3600
    job = wiring.make_retention_job(_ctx(settings, db))
    assert isinstance(job, wiring.RetentionJob) and job.unattributed_days == 7
    (result,) = job.run_once()
    assert (result.tenant_id, result.quarantined) == (None, 1)
    with db.session() as s:
        assert list(s.scalars(select(QuarantinedRecord.record_key))) == ["ghost-new"]
        (entry,) = [e for e in audit.list_entries(s) if e.action == "events.purge"]
        assert entry.tenant_id is None and entry.target == "quarantine:unattributed"
        assert entry.detail["quarantined"] == 1
        assert audit.verify(s).ok
    assert job.run_once() == []


async def test_retention_job_runs_in_the_background(db, world):
    import asyncio

    with db.session() as s:
        repo.insert_events(
            s,
            rows=[{"tenant_id": world.tenant_a.id, "event_id": "old", "ts": datetime(2000, 1, 1)}],
        )
    job = wiring.RetentionJob(db, interval=0.05, first_delay=0.0)
    await job.start()
    for _ in range(100):
        if _count(db, StoredEvent) == 0:
            break
        await asyncio.sleep(0.05)
    await job.stop()
    assert _count(db, StoredEvent) == 0 and job.runs >= 1


def test_syslog_settings_and_factories_per_role(settings, db):
    assert wiring.make_syslog_listener(_ctx(settings, db)) is None  # off by default
    settings.syslog_tcp_port = 0
    settings.syslog_bind = "127.0.0.1"
    settings.syslog_senders = [{"network": "127.0.0.0/8", "tenant": "tenant-a", "host": "fw"}]
    cfg = wiring.syslog_config(settings)
    assert cfg.tcp_port == 0 and cfg.udp_port is None and cfg.bind == "127.0.0.1"
    rule = cfg.resolve("127.0.0.5", None)
    assert rule is not None and (rule.tenant, rule.host) == ("tenant-a", "fw")
    assert cfg.resolve("10.0.0.1", None) is None  # unknown senders refused
    up = [s.name for s in default_services(settings, db=db, bus=_NoBus(), role="up")]
    worker = [s.name for s in default_services(settings, db=db, bus=_NoBus(), role="worker")]
    for name in ("ingest-parse", "store-consumer", "syslog-listener", "retention"):
        assert name in up
    assert "ingest-parse" in worker and "store-consumer" in worker
    assert "syslog-listener" not in worker and "retention" not in worker
    settings.syslog_senders = [{"network": "not a net", "tenant": "x"}]
    with pytest.raises(Exception, match="MAMORI_SYSLOG_SENDERS"):
        wiring.syslog_config(settings)


class _NoBus:
    """Enough of a bus for building (not starting) services."""

    def is_full(self) -> bool:
        return False


def _ctx(settings, db, role="up"):
    from mamori.cli.runtime import ServiceContext

    return ServiceContext(settings=settings, db=db, bus=_NoBus(), role=role)  # type: ignore[arg-type]


async def test_lone_surrogates_and_poison_messages_do_not_block_the_pipeline(tmp_path, db, world):
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        # JSON input may carry a lone surrogate escape; the parser's output stays valid
        await accept_bulk(
            bus, b'{"user": "\\ud800x", "n": 1}\n{"n": 2}\n', source="json_lines", tenant="tenant-a"
        )
        await wiring.ParseConsumer(bus, IngestConfig()).drain()
        good = Event(
            fields={"n": 3}, timestamp=datetime.now(UTC), source="x", raw="ok", tenant="tenant-a"
        ).to_dict()
        poison = dict(good, event_id="poison", host="\ud800")  # host the store cannot encode
        await bus.publish_many(
            [
                Message("mamori.events.tenant-a.x", json.dumps(good).encode(), "g1"),
                Message("mamori.events.tenant-a.x", json.dumps(poison).encode(), "p1"),
            ]
        )
        store = wiring.StoreService(bus, db)
        assert await store.events.drain() == 4
        await store.quarantine.drain()
    with db.session() as s:
        events = list(s.scalars(select(StoredEvent)))
        refused = list(s.scalars(select(QuarantinedRecord)))
    assert len(events) == 3
    assert {e.fields.get("user") for e in events} >= {"\ud800x"}
    (record,) = refused
    assert record.reason.startswith("the store refused this message")
    assert b'"poison"' in record.raw
