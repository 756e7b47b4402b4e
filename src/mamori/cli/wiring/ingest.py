"""Log collection in the running product: parse, store, listen, purge.

``mamori up`` (and ``mamori worker``) build these from :data:`SERVICE_FACTORIES`:

* :class:`ParseConsumer` - raw records (``mamori.raw.>``, durable ``ingest-parser``) are
  parsed and the events / quarantined records published on ``mamori.events.<t>.<s>`` /
  ``mamori.quarantine.<t>.<s>``; the raw records are acked only once those are stored.
  Events travel in batch envelopes (:mod:`mamori.bus.batch`, up to 500 per message);
  single-event messages (scan verdicts) stay readable by every consumer;
* :class:`StoreConsumer` - events (durable ``store``) and quarantined records (durable
  ``store-quarantine``) are written to SQL in batches and acked only after the commit;
  the insert ignores ids already stored, so redeliveries are stored once;
* :class:`SyslogService` - the syslog listener (``up`` only, off until a port is set);
* :class:`RetentionJob` - purges each tenant's events older than its retention, and
  quarantined records of no tenant after ``MAMORI_QUARANTINE_RETENTION_DAYS``.

Using more than one core: with ``MAMORI_INGEST_WORKER_PROCESSES=1`` (the default) a
:class:`PipelineWorker` child process parses the raw records and writes their events to
SQL before the parent publishes them (write-through: the envelopes carry
:data:`STORED_HEADER` and the store consumer acks them without writing); with ``2`` one
process parses and another writes; with ``0`` everything runs in the main process. The
bus and every ack stay in the main process, so the crash rules do not change.

:class:`StoreWriter` / :class:`StoreEventSink` are the same storage path for callers
outside the bus (``mamori ingest`` without ``-o``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import json
import logging
import multiprocessing
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy

from mamori.bus import batch as envelopes
from mamori.bus.base import Bus, BusFull, Delivery, Message, Subscription
from mamori.bus.subjects import EVENTS_ALL, QUARANTINE_ALL, events_subject, quarantine_subject
from mamori.bus.watermark import HighWaterBus
from mamori.config import Settings
from mamori.errors import MamoriError
from mamori.ingest.collectors.syslog_listener import SyslogListener
from mamori.ingest.config import IngestConfig, SenderRule, SyslogConfig
from mamori.ingest.pipeline import RAW_DURABLE, RAW_SUBJECTS, ParserCache, parse_record
from mamori.ingest.records import RawRecord
from mamori.ingest.sinks import quarantined_to_dict
from mamori.model import ENVELOPE_FIELDS, Event, Quarantined, event_id_for
from mamori.store.db import Database
from mamori.store.repos import audit
from mamori.store.repos import ingest as repo

if TYPE_CHECKING:
    from mamori.cli.runtime import ServiceContext

log = logging.getLogger(__name__)

STORE_DURABLE = "store"
#: Header on event envelopes whose events are already committed to SQL (written through
#: by the parsing worker process): the store consumer acks them without writing.
STORED_HEADER = "mamori-stored"
STORE_QUARANTINE_DURABLE = "store-quarantine"
RETENTION_ACTOR = "system:retention"


def _parse_ts(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if value:
        try:
            ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return datetime.now(UTC)


_ENVELOPE = frozenset(ENVELOPE_FIELDS)


def _record_key(*parts: str | bytes | None) -> str:
    return event_id_for("quarantine", *parts)


# ---- the storage path ---------------------------------------------------------------------


@dataclass
class WriteResult:
    events: int = 0
    duplicates: int = 0
    quarantined: int = 0
    unknown_tenant: int = 0


@dataclass
class StoreWriter:
    """Writes events (``Event.to_dict`` form) and quarantined records in one transaction.

    Events of a tenant that does not exist become quarantined records without a tenant
    (reason ``unknown tenant``), so nothing is dropped. Thread-safe in the sense that each
    :meth:`write` opens its own session.
    """

    db: Database
    _tenants: dict[str, int] = field(default_factory=dict)

    def _tenant_ids(self, slugs: Iterable[str]) -> dict[str, int]:
        missing = {s for s in slugs if s not in self._tenants}
        if missing:
            with self.db.session() as session:
                self._tenants.update(repo.tenant_ids_by_slug(session, slugs=missing))
        return self._tenants

    def write(
        self, events: Sequence[dict[str, Any]], quarantined: Sequence[dict[str, Any]] = ()
    ) -> WriteResult:
        """Store both lists durably (committed) before returning.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database failed (nothing is committed).
        """
        result = WriteResult()
        slugs = {str(e.get("tenant") or "") for e in events}
        slugs |= {str(q.get("tenant") or "") for q in quarantined}
        ids = self._tenant_ids(s for s in slugs if s)
        rows: list[dict[str, Any]] = []
        qrows: list[dict[str, Any]] = []
        for data in events:
            slug = str(data.get("tenant") or "")
            tenant_id = ids.get(slug)
            raw = str(data.get("raw") or "")
            if tenant_id is None:
                result.unknown_tenant += 1
                qrows.append(
                    {
                        "tenant_id": None,
                        "tenant_label": slug,
                        "record_key": _record_key("unknown-tenant", slug, data.get("event_id")),
                        "source": data.get("source") or "",
                        "reason": f"unknown tenant {slug!r}" if slug else "event without tenant",
                        "raw": raw.encode("utf-8", "surrogateescape"),
                        "location": "",
                    }
                )
                continue
            fields = dict(data)  # the event's own fields: everything but the envelope
            for key in ENVELOPE_FIELDS:
                fields.pop(key, None)
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "event_id": data.get("event_id")
                    or event_id_for(data.get("source"), slug, data.get("host"), raw),
                    "ts": _parse_ts(data.get("@timestamp")),
                    "host": data.get("host"),
                    "source": data.get("source") or "",
                    "data_type": data.get("data_type") or "",
                    "fields": fields,
                    "raw": raw,
                }
            )
        for item in quarantined:
            slug = str(item.get("tenant") or "")
            raw_b64 = item.get("raw_b64")
            qraw = (
                base64.b64decode(raw_b64)
                if raw_b64
                else str(item.get("raw") or "").encode("utf-8", "surrogateescape")
            )
            qrows.append(
                {
                    "tenant_id": ids.get(slug),
                    "tenant_label": slug,
                    "record_key": item.get("record_key")
                    or _record_key(item.get("source"), slug, item.get("location"), qraw),
                    "source": item.get("source") or "",
                    "reason": item.get("reason") or "",
                    "raw": qraw,
                    "location": item.get("location") or "",
                    "received_at": _parse_ts(item.get("received_at")),
                }
            )
        with self.db.session() as session:
            result.events = repo.insert_events(session, rows=rows)
            result.quarantined = repo.insert_quarantined(session, rows=qrows)
        result.duplicates = max(len(rows) - result.events, 0)
        return result

    def write_events(
        self, events: Sequence[Event], fields_json: Sequence[bytes | None] | None = None
    ) -> WriteResult:
        """Store :class:`~mamori.model.Event` objects: the same rows and quarantined
        records as ``write([e.to_dict() for e in events])``, without the detour through
        JSON (the parsing worker's write-through).

        ``fields_json``, parallel to ``events``, may give each event's fields as
        :func:`mamori.store.repos.ingest.encode_fields` writes them (None where not).
        """
        envelope = _ENVELOPE
        ids = self._tenant_ids({e.tenant for e in events if e.tenant})
        rows: list[repo.EventRow] = []
        others: list[dict[str, Any]] = []  # unknown tenants: the general path says how
        encoded = fields_json if fields_json is not None else [None] * len(events)
        for event, field_json in zip(events, encoded, strict=True):
            tenant_id = ids.get(event.tenant or "")
            if tenant_id is None:
                others.append(event.to_dict())
                continue
            fields = event.fields
            if not envelope.isdisjoint(fields):
                fields = {k: v for k, v in fields.items() if k not in envelope}
                field_json = None
            ts = event.timestamp
            rows.append(
                repo.EventRow(
                    tenant_id,
                    event.id or event_id_for(event.source, event.tenant, event.host, event.raw),
                    ts if ts.tzinfo else ts.replace(tzinfo=UTC),
                    event.host,
                    event.source or "",
                    event.data_type or "",
                    fields,
                    event.raw or "",
                    None,
                    field_json,
                )
            )
        result = self.write(others) if others else WriteResult()
        if rows:
            with self.db.session() as session:
                stored = repo.insert_event_rows(session, rows=rows)
            result.events += stored
            result.duplicates += len(rows) - stored
        return result


class StoreEventSink:
    """An :class:`~mamori.model.EventSink` straight into the store (for ``mamori ingest``).

    Buffers ``batch`` events and commits them; ``flush``/``close`` commit the rest.
    """

    def __init__(self, db: Database, *, batch: int = 2000) -> None:
        self.writer = StoreWriter(db)
        self.batch = batch
        self.stored = 0
        self.duplicates = 0
        self.quarantined = 0
        self.warnings: list[str] = []
        self._events: list[dict[str, Any]] = []
        self._quarantined: list[dict[str, Any]] = []

    def event(self, event: Event) -> None:
        self._events.append(event.to_dict())
        if len(self._events) >= self.batch:
            self.flush()

    def quarantine(self, item: Quarantined) -> None:
        data = quarantined_to_dict(item)
        data["record_key"] = _record_key(item.source, item.tenant, item.location, item.raw)
        self._quarantined.append(data)
        if len(self._quarantined) >= self.batch:
            self.flush()

    def warning(self, message: str) -> None:
        if len(self.warnings) < 1000:
            self.warnings.append(message)

    def flush(self) -> None:
        if not self._events and not self._quarantined:
            return
        events, self._events = self._events, []
        quarantined, self._quarantined = self._quarantined, []
        result = self.writer.write(events, quarantined)
        self.stored += result.events
        self.duplicates += result.duplicates
        self.quarantined += result.quarantined

    def close(self) -> None:
        self.flush()


# ---- consumers ------------------------------------------------------------------------------


class _Consumer:
    """A fetch -> handle -> ack loop with retries; subclasses implement :meth:`handle`."""

    name = "consumer"

    def __init__(
        self,
        bus: Bus,
        subject: str,
        durable: str,
        *,
        batch_size: int = 1000,
        ack_wait: float = 120.0,
        retry_delay: float = 1.0,
    ) -> None:
        self.bus = bus
        self.subject = subject
        self.durable = durable
        self.batch_size = batch_size
        self.ack_wait = ack_wait
        self.retry_delay = retry_delay
        self.handled = 0
        self.failures = 0
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._extra: list[asyncio.Task[None]] = []
        self.loops = 1  # fetch -> handle -> ack loops run by start()
        self._stop = asyncio.Event()

    async def handle(self, batch: list[Delivery]) -> None:
        raise NotImplementedError

    async def _fetch(self, sub: Subscription, timeout: float) -> list[Delivery]:
        return await sub.fetch(self.batch_size, timeout=timeout)

    async def run_once(self, timeout: float = 1.0) -> int:
        """One batch: fetch, handle, ack (or nak everything on failure). Returns its size."""
        if self._sub is None:
            self._sub = await self.bus.subscribe(self.subject, self.durable, ack_wait=self.ack_wait)
        batch = await self._fetch(self._sub, timeout)
        if not batch:
            return 0
        try:
            await self.handle(batch)
        except Exception as exc:
            self.failures += 1
            delay = exc.retry_after if isinstance(exc, BusFull) else self.retry_delay
            log.warning("%s: batch of %d not handled (%s); retrying", self.name, len(batch), exc)
            for delivery in batch:
                await delivery.nak()
            await asyncio.sleep(delay)
            return 0
        for delivery in batch:
            await delivery.ack()
        size = self._size(batch)
        self.handled += size
        return size

    def _size(self, batch: list[Delivery]) -> int:
        """What a batch counts as in :attr:`handled` and :meth:`run_once` (messages)."""
        return len(batch)

    async def drain(self, idle: float = 0.3) -> int:
        total = 0
        while count := await self.run_once(timeout=idle):
            total += count
        return total

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not await self.run_once(timeout=0.5):
                    # nothing came: yield, even if the fetch returned at once (a closed bus)
                    await asyncio.sleep(0.01)
            except Exception:
                self.failures += 1
                log.exception("%s: fetching from the bus failed", self.name)
                await asyncio.sleep(self.retry_delay)

    async def start(self) -> None:
        worker: PipelineWorker | None = getattr(self, "worker", None)
        if worker is not None:
            await worker.start()
        self._stop.clear()
        self._sub = await self.bus.subscribe(self.subject, self.durable, ack_wait=self.ack_wait)
        self._task = asyncio.create_task(self._run(), name=f"mamori-{self.name}")
        # more loops on the same subscription (each takes other messages): while one
        # publishes its batch, the next batch is already being worked on
        self._extra = [
            asyncio.create_task(self._run(), name=f"mamori-{self.name}-{i}")
            for i in range(1, self.loops)
        ]

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        for task in self._extra:
            await task
        self._extra = []
        if self._sub is not None:
            with contextlib.suppress(MamoriError):
                await self._sub.close()
            self._sub = None
        worker: PipelineWorker | None = getattr(self, "worker", None)
        if worker is not None and worker.running:
            await worker.stop()


class _CollectSink:
    """Collects a batch's parser output as bus messages.

    Events go out as batch envelopes (:mod:`mamori.bus.batch`), one per subject and up to
    ``MAX_ITEMS`` events each; quarantined records one per message. With ``keep=True``
    the events themselves stay available (:attr:`kept`) for writing them straight away.
    """

    def __init__(self, *, keep: bool = False) -> None:
        self._events: dict[str, list[tuple[str, bytes]]] = {}
        self._subjects: dict[tuple[str | None, str], str] = {}
        self._quarantined: list[Message] = []
        self.keep = keep
        self.kept: list[Event] = []
        #: with ``keep``: each kept event's fields as ``repo.encode_fields`` wrote them
        self.kept_json: list[bytes | None] = []
        self.events = 0
        self.quarantined = 0

    @property
    def messages(self) -> list[Message]:
        return self.pack()

    def pack(self, event_headers: dict[str, str] | None = None) -> list[Message]:
        """The bus messages; ``event_headers`` go on the events' envelopes."""
        out: list[Message] = []
        for subject, items in self._events.items():
            out.extend(envelopes.pack(subject, items, headers=event_headers))
        out.extend(self._quarantined)
        return out

    def event(self, event: Event) -> None:
        key = (event.tenant, event.source)
        subject = self._subjects.get(key)
        if subject is None:
            subject = self._subjects[key] = events_subject(event.tenant, event.source)
        items = self._events.get(subject)
        if items is None:
            items = self._events[subject] = []
        fields = event.fields
        fields_json = repo.encode_fields(fields) if fields else None
        line = None
        if fields_json is not None and _ENVELOPE.isdisjoint(fields):
            # ``to_dict`` is the fields followed by the envelope: its JSON is theirs joined
            head = repo.encode_fields(event.envelope())
            if head is not None:
                line = b"%b,%b" % (fields_json[:-1], head[1:])
        if line is None:
            line = envelopes.dumps_line(event.to_dict())
        items.append((event.id, line))
        if self.keep:
            self.kept.append(event)
            self.kept_json.append(fields_json)
        self.events += 1

    def quarantine(self, item: Quarantined) -> None:
        key = _record_key(item.source, item.tenant, item.location, item.raw)
        data = quarantined_to_dict(item)
        data["record_key"] = key
        body = json.dumps(data, ensure_ascii=False).encode("utf-8", "backslashreplace")
        self._quarantined.append(Message(quarantine_subject(item.tenant, item.source), body, key))
        self.quarantined += 1

    def warning(self, message: str) -> None:
        log.debug("parser warning: %s", message)


class ParseConsumer(_Consumer):
    """Raw records -> parsers -> events and quarantined records on the bus."""

    name = "ingest-parse"

    def __init__(
        self,
        bus: Bus,
        config: IngestConfig,
        *,
        worker: PipelineWorker | None = None,
        **kwargs: Any,
    ) -> None:
        # a raw record may hold hundreds of lines (bulk intake chunks): small batches keep
        # memory flat and let the store start on the first events early
        kwargs.setdefault("batch_size", 50 if worker is None else 20)
        super().__init__(bus, RAW_SUBJECTS, RAW_DURABLE, **kwargs)
        self.config = config
        self.parsers = ParserCache(config)
        self.worker = worker  # parse in this process when None
        if worker is not None:
            self.loops = 2  # keep the worker process busy while a batch is published
        self.events = 0

    #: With a worker process a batch is bounded by its bytes rather than its count: raw
    #: records are single syslog lines (~100 bytes) or bulk chunks (up to 512 KiB).
    max_batch_bytes = 2 * 1024 * 1024
    max_batch_messages = 2000

    async def _fetch(self, sub: Subscription, timeout: float) -> list[Delivery]:
        if self.worker is None:
            return await sub.fetch(self.batch_size, timeout=timeout)
        out: list[Delivery] = []
        size = 0
        wait = timeout
        while len(out) < self.max_batch_messages and size < self.max_batch_bytes:
            if out:  # as many more as the bytes so far say will fit
                room = (self.max_batch_bytes - size) * len(out) // max(size, 1)
                want = max(1, min(self.max_batch_messages - len(out), room))
            else:
                want = 1
            got = await sub.fetch(want, timeout=wait)
            if not got:
                break
            wait = 0.0
            out.extend(got)
            size += sum(len(d.message.data) for d in got)
        return out

    def _parse(self, batch: list[Delivery]) -> _CollectSink:
        return parse_messages([d.message for d in batch], self.parsers)

    def _parse_and_pack(self, deliveries: list[Delivery]) -> tuple[list[Message], int]:
        sink = self._parse(deliveries)
        return sink.messages, sink.events

    async def handle(self, batch: list[Delivery]) -> None:
        if self.worker is not None:
            wire, events = await self.worker.call(
                _worker_parse, [_to_wire(d.message) for d in batch], self.worker.write_through
            )
            messages = [_from_wire(w) for w in wire]
        else:
            messages, events = await asyncio.to_thread(self._parse_and_pack, batch)
        if messages:
            await self.bus.publish_many(messages)
        self.events += events


def parse_messages(
    messages: list[Message], parsers_for: ParserCache, *, keep: bool = False
) -> _CollectSink:
    """Parse raw-record messages; the output (events in batch envelopes, quarantined
    records) is in the returned sink's :attr:`_CollectSink.messages`."""
    sink = _CollectSink(keep=keep)
    for message in messages:
        try:
            record = RawRecord.from_message(message)
        except ValueError as exc:
            sink.quarantine(
                Quarantined(
                    source="bus",
                    reason=f"unreadable raw record: {exc}",
                    raw=message.data,
                    location=message.subject,
                )
            )
            continue
        parse_record(record, parsers_for, sink)
    return sink


def _item_count(message: Message) -> int:
    """How many items a message carries (its count header for a batch envelope)."""
    if not envelopes.is_batch(message):
        return 1
    count = message.headers.get(envelopes.COUNT_HEADER, "")
    return int(count) if count.isdigit() else len(envelopes.items_of(message))


class StoreConsumer(_Consumer):
    """Events or quarantined records from the bus into SQL; acks after the commit."""

    def __init__(
        self,
        bus: Bus,
        db: Database,
        *,
        quarantine: bool = False,
        max_items: int = 10_000,
        worker: PipelineWorker | None = None,
        **kwargs: Any,
    ) -> None:
        subject, durable = (
            (QUARANTINE_ALL, STORE_QUARANTINE_DURABLE)
            if quarantine
            else (EVENTS_ALL, STORE_DURABLE)
        )
        super().__init__(bus, subject, durable, **kwargs)
        self.name = f"store-{'quarantine' if quarantine else 'events'}"
        self.quarantine = quarantine
        self.max_items = max_items
        self.worker = worker  # write from this process when None
        self.writer = StoreWriter(db)
        self.stored = 0
        self.duplicates = 0
        self.written_through = 0  # events the parsing worker had stored already

    async def _fetch(self, sub: Subscription, timeout: float) -> list[Delivery]:
        """Up to ``batch_size`` messages holding at most about ``max_items`` items: batch
        envelopes are taken one at a time once one came, so a transaction stays bounded."""
        out: list[Delivery] = []
        items = 0
        batched = False
        wait = timeout
        while len(out) < self.batch_size and items < self.max_items:
            # one message first: only once it is known not to be a batch envelope may a
            # fetch take many (a batch of envelopes would be hundreds of times bigger)
            want = (
                1 if batched or not out else min(self.batch_size - len(out), self.max_items - items)
            )
            got = await sub.fetch(want, timeout=wait)
            if not got:
                break
            wait = 0.0
            for delivery in got:
                batched = batched or envelopes.is_batch(delivery.message)
                items += _item_count(delivery.message)
            out.extend(got)
        return out

    def _size(self, batch: list[Delivery]) -> int:
        """Items, not messages: a batch envelope counts as the events it holds."""
        return sum(_item_count(d.message) for d in batch)

    def _items(self, batch: list[Delivery]) -> list[Message]:
        """Every item of the batch as a message of its own (batch envelopes opened),
        except those already written through by the parsing worker."""
        out: list[Message] = []
        for delivery in batch:
            message = delivery.message
            if not envelopes.is_batch(message):
                out.append(message)
                continue
            if message.headers.get(STORED_HEADER) == "1" and not self.quarantine:
                self.written_through += _item_count(message)
                continue
            out.extend(
                Message(message.subject, item, f"{message.msg_id}:{i}")
                for i, item in enumerate(envelopes.items_of(message))
            )
        return out

    def _write(self, batch: list[Delivery]) -> WriteResult:
        """Write the items of ``batch`` in one transaction (the caller acks after)."""
        return self._write_items(self._items(batch))

    def _write_items(self, messages: list[Message]) -> WriteResult:
        return write_items(self.writer, messages, quarantine=self.quarantine)

    def _write_or_isolate(self, batch: list[Delivery]) -> WriteResult:
        return write_or_isolate(
            self.writer,
            self._items(batch),
            quarantine=self.quarantine,
            first_attempt=batch[0].num_delivered < 3,
            name=self.name,
        )

    async def handle(self, batch: list[Delivery]) -> None:
        items = self._items(batch)
        if not items:  # all written through already
            return
        if self.worker is not None:
            result: WriteResult = await self.worker.call(
                _worker_store,
                [_to_wire(m) for m in items],
                self.quarantine,
                batch[0].num_delivered < 3,
                self.name,
            )
        else:
            result = await asyncio.to_thread(
                write_or_isolate,
                self.writer,
                items,
                quarantine=self.quarantine,
                first_attempt=batch[0].num_delivered < 3,
                name=self.name,
            )
        self.stored += result.events + result.quarantined
        self.duplicates += result.duplicates


def write_items(writer: StoreWriter, messages: list[Message], *, quarantine: bool) -> WriteResult:
    """Decode event (or quarantined-record) messages and write them in one transaction;
    a message that is not a JSON object becomes a quarantined record of its own."""
    items: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    loads = envelopes.loads
    key_field = "record_key" if quarantine else "event_id"
    for message in messages:
        try:
            data = loads(message.data)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (ValueError, RecursionError) as exc:
            bad.append(
                {
                    "record_key": _record_key("bus", message.msg_id, message.data),
                    "source": "bus",
                    "reason": f"unreadable message on {message.subject}: {exc}",
                    "raw_b64": base64.b64encode(message.data).decode("ascii"),
                    "location": message.subject,
                }
            )
            continue
        if not data.get(key_field):
            data[key_field] = message.msg_id
        items.append(data)
    if quarantine:
        return writer.write([], items + bad)
    return writer.write(items, bad)


def write_or_isolate(
    writer: StoreWriter,
    messages: list[Message],
    *,
    quarantine: bool,
    first_attempt: bool,
    name: str = "store",
) -> WriteResult:
    """Write the items; if the store refuses them, write them one by one and quarantine
    those the store refuses on their own (so one bad item cannot block the pipeline). A
    lone item is retried (``first_attempt``) before it is quarantined. When even the
    quarantine write fails the store is down: raise."""
    try:
        return write_items(writer, messages, quarantine=quarantine)
    except Exception as exc:
        if len(messages) == 1 and first_attempt:
            raise
        log.warning("%s: batch refused (%s); writing one by one", name, exc)
    total = WriteResult()
    for message in messages:
        try:
            part = write_items(writer, [message], quarantine=quarantine)
        except Exception as exc:
            part = writer.write(
                [],
                [
                    {
                        "record_key": _record_key("refused", message.msg_id, message.data),
                        "source": "store",
                        "reason": f"the store refused this message: {type(exc).__name__}:"
                        f" {str(exc)[:300]}",
                        "raw_b64": base64.b64encode(message.data).decode("ascii"),
                        "location": message.subject,
                    }
                ],
            )
        total.events += part.events
        total.duplicates += part.duplicates
        total.quarantined += part.quarantined
        total.unknown_tenant += part.unknown_tenant
    return total


class StoreService:
    """Both store consumers as one background service."""

    name = "store-consumer"

    def __init__(self, bus: Bus, db: Database, *, worker: PipelineWorker | None = None) -> None:
        self.events = StoreConsumer(bus, db, worker=worker)
        self.quarantine = StoreConsumer(bus, db, quarantine=True, batch_size=200)

    async def start(self) -> None:
        await self.events.start()
        await self.quarantine.start()

    async def stop(self) -> None:
        try:
            await self.events.stop()
        finally:
            await self.quarantine.stop()


# ---- a worker process for the CPU-heavy steps ----------------------------------------------

#: A bus message as it crosses the process boundary (plain, cheap to pickle).
WireMessage = tuple[str, bytes, str, dict[str, str]]


def _to_wire(message: Message) -> WireMessage:
    return (message.subject, message.data, message.msg_id, dict(message.headers))


def _from_wire(wire: WireMessage) -> Message:
    return Message(wire[0], wire[1], wire[2], wire[3])


_WORKER: dict[str, Any] = {}  # the worker process's own parsers and store writer


def _watch_parent(parent: int) -> None:
    """End the worker once its parent is gone (``kill -9``): its pipes would never say so."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _worker_init(config: dict[str, Any], db_url: str) -> None:
    """Runs once in the worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when it stops
    threading.Thread(
        target=_watch_parent, args=(os.getppid(),), daemon=True, name="mamori-parent-watch"
    ).start()
    _WORKER["parsers"] = ParserCache(IngestConfig.model_validate(config))
    _WORKER["writer"] = worker_writer(Database(db_url))


def worker_writer(db: Database) -> StoreWriter:
    """The worker process's store writer (a bigger page cache on SQLite)."""
    if db.engine.dialect.name == "sqlite":
        sqlalchemy.event.listen(db.engine, "connect", _worker_sqlite_cache)
        db.engine.dispose()  # connections opened before get it too
    return StoreWriter(db)


#: Page cache of the worker's SQLite connection (KiB). The event indexes take random
#: inserts (event ids are hashes): with SQLite's default 2 MiB most index pages are read
#: again for every batch once the table has grown past a few ten thousand rows.
WORKER_SQLITE_CACHE_KIB = 64 * 1024


def _worker_sqlite_cache(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(f"PRAGMA cache_size=-{WORKER_SQLITE_CACHE_KIB}")
    finally:
        cursor.close()


def _plain_error(exc: Exception) -> MamoriError:
    """An exception that surely crosses back to the parent (driver errors may not pickle)."""
    return MamoriError(f"{type(exc).__name__}: {str(exc)[:500]}")


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a call runs in the worker process.

    A call builds tens of thousands of events, dicts and row tuples that all live until
    it returns, and the collector would walk them again and again (a tenth of the
    worker's time); they are freed by reference counting, and what forms cycles is
    collected once the call is over.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _worker_ready() -> int:
    return os.getpid()


def _worker_parse(
    raw: list[WireMessage], write_through: bool = True
) -> tuple[list[WireMessage], int]:
    """Parse, write the events to SQL (write-through), and hand back the bus messages.

    The events' envelopes carry :data:`STORED_HEADER` when the write committed, so the
    store consumer acks them without writing them again; when the write fails they go
    out without it and the store consumer writes them (and isolates what it refuses).
    """
    try:
        with _gc_paused():
            return _parse_and_write(raw, write_through)
    except Exception as exc:
        raise _plain_error(exc) from None


def _parse_and_write(raw: list[WireMessage], write_through: bool) -> tuple[list[WireMessage], int]:
    sink = parse_messages([_from_wire(w) for w in raw], _WORKER["parsers"], keep=write_through)
    headers: dict[str, str] | None = None
    if sink.kept:
        try:
            _WORKER["writer"].write_events(sink.kept, sink.kept_json)
        except Exception as exc:
            log.warning("write-through of %d events failed (%s)", len(sink.kept), exc)
        else:
            headers = {STORED_HEADER: "1"}
    return [_to_wire(m) for m in sink.pack(headers)], sink.events


def _worker_store(
    items: list[WireMessage], quarantine: bool, first_attempt: bool, name: str
) -> WriteResult:
    try:
        with _gc_paused():
            return write_or_isolate(
                _WORKER["writer"],
                [_from_wire(w) for w in items],
                quarantine=quarantine,
                first_attempt=first_attempt,
                name=name,
            )
    except Exception as exc:
        raise _plain_error(exc) from None


class PipelineWorker:
    """One child process that does the CPU-heavy steps of the pipeline - parsing raw
    records and writing events to SQL - so that ``mamori up`` uses a second core (one
    Python process runs one core at a time).

    The bus stays in the parent: the child gets the messages' bytes, returns the parsed
    events (or the write's counts) and the parent publishes and acks. So the crash rules
    do not change: a message is acked only after the child's result (events stored in
    the spool, rows committed) came back; if the child dies the batch is nak'ed,
    redelivered and a new child is started; if the parent dies the child sees its pipe
    close and exits. Shared by the parse and store consumers (reference-counted).
    """

    def __init__(self, config: IngestConfig, db_url: str, *, write_through: bool = True) -> None:
        self.config = config
        self.db_url = db_url
        self.write_through = write_through
        self.restarts = 0
        self._pool: ProcessPoolExecutor | None = None
        self._users = 0

    def _spawn(self) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(self.config.model_dump(), self.db_url),
        )

    @property
    def running(self) -> bool:
        return self._pool is not None

    async def start(self) -> None:
        """Start the process (once, for the first user) and wait until it is ready."""
        self._users += 1
        if self._pool is None:
            self._spawn()
            await self.call(_worker_ready)

    async def call(self, func: Callable[..., Any], *args: Any) -> Any:
        """``func(*args)`` in the worker process.

        Raises:
            MamoriError: the worker is not running, died (a new one is started), or the
                call failed there.
        """
        pool = self._pool
        if pool is None:
            raise MamoriError("the pipeline worker process is not running")
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, func, *args)
        except BrokenProcessPool as exc:
            if self._pool is pool:
                log.error("the pipeline worker process died (%s); starting a new one", exc)
                pool.shutdown(wait=False, cancel_futures=True)
                self.restarts += 1
                self._spawn()
            raise MamoriError("the pipeline worker process died") from exc

    async def stop(self) -> None:
        """Stop the process once its last user stops."""
        self._users -= 1
        if self._users > 0 or self._pool is None:
            return
        pool, self._pool = self._pool, None
        await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)


def database_url(db: Database) -> str | None:
    """The URL another process opens the same database with (None for in-memory SQLite)."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return url.render_as_string(hide_password=False)


_SHARED_WORKERS: weakref.WeakKeyDictionary[Database, dict[str, PipelineWorker]] = (
    weakref.WeakKeyDictionary()
)


def pipeline_worker(ctx: ServiceContext, config: IngestConfig, stage: str) -> PipelineWorker | None:
    """The worker process of ``stage`` (``parse`` or ``store``) for the consumers of
    ``ctx``; None when ``MAMORI_INGEST_WORKER_PROCESSES=0`` or the database is in memory.

    With one worker process both stages share it and the parse stage writes its events
    through to SQL; with two, each stage has its own.
    """
    processes = ctx.settings.ingest_worker_processes
    if processes <= 0:
        return None
    url = database_url(ctx.db)
    if url is None:
        return None
    workers = _SHARED_WORKERS.setdefault(ctx.db, {})
    key = stage if processes >= 2 else "shared"
    worker = workers.get(key)
    if worker is None:
        worker = workers[key] = PipelineWorker(config, url, write_through=processes == 1)
    return worker


# ---- syslog ---------------------------------------------------------------------------------


def syslog_config(settings: Settings, base: SyslogConfig | None = None) -> SyslogConfig:
    """The listener's configuration: the TOML ``[mamori.ingest.syslog]`` table overlaid
    with the ``MAMORI_SYSLOG_*`` settings that are set.

    Raises:
        MamoriError: a sender rule that does not validate.
    """
    cfg = (base or SyslogConfig()).model_copy()
    updates: dict[str, Any] = {}
    for name in ("udp_port", "tcp_port", "tls_port", "tls_cert", "tls_key", "tls_client_ca"):
        value = getattr(settings, f"syslog_{name}")
        if value is not None:
            updates[name] = value
    if "syslog_bind" in settings.model_fields_set or not base:
        updates["bind"] = settings.syslog_bind
    if settings.syslog_default_tenant is not None:
        updates["default_tenant"] = settings.syslog_default_tenant
    if settings.syslog_senders:
        try:
            updates["senders"] = [SenderRule.model_validate(r) for r in settings.syslog_senders]
        except ValueError as exc:
            raise MamoriError(f"invalid MAMORI_SYSLOG_SENDERS: {exc}") from exc
    return cfg.model_copy(update=updates)


class SyslogService:
    """The syslog listener as a background service of ``mamori up``."""

    name = "syslog-listener"

    def __init__(self, config: SyslogConfig, bus: Bus, *, high_water: float = 1.0) -> None:
        # the listener pauses reading at the high-water mark, leaving room for the parser
        self.listener = SyslogListener(config, HighWaterBus(bus, high_water))

    async def start(self) -> None:
        await self.listener.start()

    async def stop(self) -> None:
        await self.listener.stop()


# ---- retention ------------------------------------------------------------------------------


class RetentionJob:
    """Every ``interval`` seconds: delete what each tenant's retention no longer covers,
    and the quarantined records of no tenant older than ``unattributed_days``.

    Each purge that removed rows is written to the audit log (``events.purge``) with the
    counts and the cutoff; the purge of records without a tenant has target
    ``quarantine:unattributed`` and no tenant.
    """

    name = "retention"

    def __init__(
        self,
        db: Database,
        *,
        interval: float = 3600.0,
        first_delay: float = 30.0,
        unattributed_days: int = repo.DEFAULT_UNATTRIBUTED_DAYS,
    ):
        self.db = db
        self.interval = interval
        self.first_delay = first_delay
        self.unattributed_days = unattributed_days
        self.runs = 0
        self._task: asyncio.Task[None] | None = None

    def run_once(self, now: datetime | None = None) -> list[repo.PurgeResult]:
        """Purge now; returns what was removed per tenant (``tenant_id=None``: records
        that belong to no tenant)."""
        with self.db.session() as session:
            results = repo.purge_expired(session, now=now, unattributed_days=self.unattributed_days)
            for r in results:
                audit.record(
                    session,
                    action="events.purge",
                    actor=RETENTION_ACTOR,
                    tenant_id=r.tenant_id,
                    target=(
                        f"tenant:{r.tenant_id}"
                        if r.tenant_id is not None
                        else "quarantine:unattributed"
                    ),
                    detail={
                        "events": r.events,
                        "quarantined": r.quarantined,
                        "cutoff": r.cutoff.isoformat(),
                    },
                )
        self.runs += 1
        return results

    async def _loop(self) -> None:
        await asyncio.sleep(self.first_delay)
        while True:
            try:
                results = await asyncio.to_thread(self.run_once)
                for r in results:
                    log.info(
                        "retention: purged %d events, %d quarantined of %s",
                        r.events,
                        r.quarantined,
                        r.slug or "no tenant",
                    )
            except Exception:
                log.exception("retention purge failed; trying again later")
            await asyncio.sleep(self.interval)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mamori-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


# ---- factories (SERVICE_FACTORIES in cli/runtime.py) ---------------------------------------


def _ingest_config() -> IngestConfig:
    return IngestConfig.load()


def make_parse_consumer(ctx: ServiceContext) -> ParseConsumer | None:
    """Raw records -> events, in ``up`` and ``worker`` (parsing in the worker process)."""
    if ctx.bus is None:
        return None
    config = _ingest_config()
    return ParseConsumer(ctx.bus, config, worker=pipeline_worker(ctx, config, "parse"))


def make_store_consumer(ctx: ServiceContext) -> StoreService | None:
    """Events and quarantined records -> SQL, in ``up`` and ``worker`` (event rows are
    written by the worker process)."""
    if ctx.bus is None:
        return None
    return StoreService(ctx.bus, ctx.db, worker=pipeline_worker(ctx, _ingest_config(), "store"))


def make_syslog_listener(ctx: ServiceContext) -> SyslogService | None:
    """The syslog listener: ``up`` only, and only when a port is configured."""
    if ctx.bus is None or ctx.role == "worker":
        return None
    config = syslog_config(ctx.settings, _ingest_config().syslog)
    if all(p is None for p in (config.udp_port, config.tcp_port, config.tls_port)):
        return None
    return SyslogService(config, ctx.bus, high_water=ctx.settings.ingest_high_water)


def make_retention_job(ctx: ServiceContext) -> RetentionJob | None:
    """The retention purge (``up`` only, so that several workers do not race)."""
    if ctx.role == "worker" or ctx.settings.retention_interval <= 0:
        return None
    return RetentionJob(
        ctx.db,
        interval=ctx.settings.retention_interval,
        unattributed_days=ctx.settings.quarantine_retention_days,
    )


__all__ = [
    "RETENTION_ACTOR",
    "STORE_DURABLE",
    "STORED_HEADER",
    "STORE_QUARANTINE_DURABLE",
    "ParseConsumer",
    "PipelineWorker",
    "RetentionJob",
    "StoreConsumer",
    "StoreEventSink",
    "StoreService",
    "StoreWriter",
    "SyslogService",
    "WriteResult",
    "make_parse_consumer",
    "make_retention_job",
    "make_store_consumer",
    "make_syslog_listener",
    "pipeline_worker",
    "syslog_config",
]
