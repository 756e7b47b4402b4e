"""Log collection in the running product: parse, store, listen, purge.

``mamori up`` (and ``mamori worker``) build these from :data:`SERVICE_FACTORIES`:

* :class:`ParseConsumer` - raw records (``mamori.raw.>``, durable ``ingest-parser``) are
  parsed and the events / quarantined records published on ``mamori.events.<t>.<s>`` /
  ``mamori.quarantine.<t>.<s>``; the raw records are acked only once those are stored;
* :class:`StoreConsumer` - events (durable ``store``) and quarantined records (durable
  ``store-quarantine``) are written to SQL in batches and acked only after the commit;
  the insert ignores ids already stored, so redeliveries are stored once;
* :class:`SyslogService` - the syslog listener (``up`` only, off until a port is set);
* :class:`RetentionJob` - purges each tenant's events older than its retention.

:class:`StoreWriter` / :class:`StoreEventSink` are the same storage path for callers
outside the bus (``mamori ingest`` without ``-o``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

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
                await self.run_once(timeout=0.5)
            except Exception:
                self.failures += 1
                log.exception("%s: fetching from the bus failed", self.name)
                await asyncio.sleep(self.retry_delay)

    async def start(self) -> None:
        self._stop.clear()
        self._sub = await self.bus.subscribe(self.subject, self.durable, ack_wait=self.ack_wait)
        self._task = asyncio.create_task(self._run(), name=f"mamori-{self.name}")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._sub is not None:
            with contextlib.suppress(MamoriError):
                await self._sub.close()
            self._sub = None


class _CollectSink:
    """Collects a batch's parser output as bus messages.

    Events go out as batch envelopes (:mod:`mamori.bus.batch`), one per subject and up to
    ``MAX_ITEMS`` events each; quarantined records one per message.
    """

    def __init__(self) -> None:
        self._events: dict[str, list[tuple[str, bytes]]] = {}
        self._quarantined: list[Message] = []
        self.events = 0
        self.quarantined = 0

    @property
    def messages(self) -> list[Message]:
        out: list[Message] = []
        for subject, items in self._events.items():
            out.extend(envelopes.pack(subject, items))
        out.extend(self._quarantined)
        return out

    def event(self, event: Event) -> None:
        subject = events_subject(event.tenant, event.source)
        items = self._events.get(subject)
        if items is None:
            items = self._events[subject] = []
        items.append((event.id, envelopes.dumps_line(event.to_dict())))
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

    def __init__(self, bus: Bus, config: IngestConfig, **kwargs: Any) -> None:
        # a raw record may hold hundreds of lines (bulk intake chunks): small batches keep
        # memory flat and let the store start on the first events early
        kwargs.setdefault("batch_size", 50)
        super().__init__(bus, RAW_SUBJECTS, RAW_DURABLE, **kwargs)
        self.config = config
        self.parsers = ParserCache(config)
        self.events = 0

    def _parse(self, batch: list[Delivery]) -> _CollectSink:
        sink = _CollectSink()
        for delivery in batch:
            try:
                record = RawRecord.from_message(delivery.message)
            except ValueError as exc:
                sink.quarantine(
                    Quarantined(
                        source="bus",
                        reason=f"unreadable raw record: {exc}",
                        raw=delivery.message.data,
                        location=delivery.message.subject,
                    )
                )
                continue
            parse_record(record, self.parsers, sink)
        return sink

    def _parse_and_pack(self, deliveries: list[Delivery]) -> tuple[list[Message], int]:
        sink = self._parse(deliveries)
        return sink.messages, sink.events

    async def handle(self, batch: list[Delivery]) -> None:
        messages, events = await asyncio.to_thread(self._parse_and_pack, batch)
        if messages:
            await self.bus.publish_many(messages)
        self.events += events


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
        self.writer = StoreWriter(db)
        self.stored = 0
        self.duplicates = 0

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

    @staticmethod
    def _items(batch: list[Delivery]) -> list[Message]:
        """Every item of the batch as a message of its own (batch envelopes opened)."""
        out: list[Message] = []
        for delivery in batch:
            message = delivery.message
            if not envelopes.is_batch(message):
                out.append(message)
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
        items: list[dict[str, Any]] = []
        bad: list[dict[str, Any]] = []
        loads = envelopes.loads
        key_field = "record_key" if self.quarantine else "event_id"
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
        if self.quarantine:
            return self.writer.write([], items + bad)
        return self.writer.write(items, bad)

    def _write_or_isolate(self, batch: list[Delivery]) -> WriteResult:
        """Write the batch; if the store refuses it, write its items one by one and
        quarantine those the store refuses on their own (so one bad item cannot block
        the pipeline). When even the quarantine write fails the store is down: raise."""
        messages = self._items(batch)
        try:
            return self._write_items(messages)
        except Exception as exc:
            if len(messages) == 1 and batch[0].num_delivered < 3:
                raise
            log.warning("%s: batch refused (%s); writing one by one", self.name, exc)
        total = WriteResult()
        for message in messages:
            try:
                part = self._write_items([message])
            except Exception as exc:
                part = self.writer.write(
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

    async def handle(self, batch: list[Delivery]) -> None:
        result = await asyncio.to_thread(self._write_or_isolate, batch)
        self.stored += result.events + result.quarantined
        self.duplicates += result.duplicates


class StoreService:
    """Both store consumers as one background service."""

    name = "store-consumer"

    def __init__(self, bus: Bus, db: Database) -> None:
        self.events = StoreConsumer(bus, db)
        self.quarantine = StoreConsumer(bus, db, quarantine=True, batch_size=200)

    async def start(self) -> None:
        await self.events.start()
        await self.quarantine.start()

    async def stop(self) -> None:
        try:
            await self.events.stop()
        finally:
            await self.quarantine.stop()


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
    """Raw records -> events, in ``up`` and ``worker``."""
    if ctx.bus is None:
        return None
    return ParseConsumer(ctx.bus, _ingest_config())


def make_store_consumer(ctx: ServiceContext) -> StoreService | None:
    """Events and quarantined records -> SQL, in ``up`` and ``worker``."""
    if ctx.bus is None:
        return None
    return StoreService(ctx.bus, ctx.db)


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
    "STORE_QUARANTINE_DURABLE",
    "ParseConsumer",
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
    "syslog_config",
]
