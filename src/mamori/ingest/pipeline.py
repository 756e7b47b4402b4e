"""From raw records on the bus to Events in a sink: the parsing worker.

:class:`IngestPipeline` pulls raw records (subject ``mamori.raw.>``, durable consumer
``ingest-parser``), runs the parser their source names, hands Events and quarantined
records to the sink, makes the sink durable (``flush``) and only then acks. A crash
between the two means redelivery; event ids are deterministic (record id and line), so
the store's idempotent insert (or :class:`~mamori.ingest.sinks.DedupSink`) keeps one copy.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

from mamori.bus.base import Bus, Delivery, Subscription
from mamori.errors import MamoriError
from mamori.ingest.base import ParseContext, Parser
from mamori.ingest.config import IngestConfig
from mamori.ingest.lines import LineParser
from mamori.ingest.parsers import parsers
from mamori.ingest.records import RawRecord
from mamori.model import EventSink, Quarantined

log = logging.getLogger(__name__)

RAW_SUBJECTS = "mamori.raw.>"
RAW_DURABLE = "ingest-parser"


class ParserCache:
    """One parser instance per tenant and source, so stateful parsers (Postfix) correlate
    across the records of one sender but never across tenants."""

    def __init__(self, config: IngestConfig) -> None:
        self.config = config
        self._parsers: dict[tuple[str | None, str], Parser] = {}

    def get(self, source: str, tenant: str | None = None) -> Parser:
        """The parser for ``source`` (as used for ``tenant``).

        Raises:
            MamoriError: unknown source or parser, or options the parser refuses.
        """
        parser = self._parsers.get((tenant, source))
        if parser is None:
            found = self.config.source(source)
            cls: Any = parsers.get(found.parser)
            try:
                parser = cls(**found.options) if found.options else cls()
            except MamoriError:
                raise
            except TypeError as exc:
                raise MamoriError(f"parser {found.parser!r} refuses its options: {exc}") from exc
            self._parsers[(tenant, source)] = parser
        return parser


def parse_record(record: RawRecord, parsers_for: ParserCache, sink: EventSink) -> None:
    """Parse one raw record into ``sink``; whatever goes wrong ends in quarantine."""
    if record.truncated:
        sink.quarantine(
            Quarantined(
                source=record.source,
                reason="record longer than the collector's limit (cut)",
                raw=record.data,
                location=record.location,
                tenant=record.tenant,
                received_at=record.received_at,
            )
        )
        return
    try:
        parser = parsers_for.get(record.source, record.tenant)
    except MamoriError as exc:
        sink.quarantine(
            Quarantined(
                source=record.source,
                reason=exc.message,
                raw=record.data,
                location=record.location,
                tenant=record.tenant,
                received_at=record.received_at,
            )
        )
        return
    location = f"{record.location}#{record.record_id}" if record.record_id else record.location
    context = ParseContext(
        tenant=record.tenant, host=record.host, location=location, received_at=record.received_at
    )
    try:
        if record.single and isinstance(parser, LineParser):
            parser.parse_message(record.data, sink, context)
        else:
            parser.parse(io.BytesIO(record.data), sink, context)
    except Exception as exc:  # a parser that breaks its contract must not stop the pipeline
        log.exception("parser %s raised on a record from %s", parser.NAME, record.location)
        sink.quarantine(
            Quarantined(
                source=record.source,
                reason=f"parser {parser.NAME} failed: {type(exc).__name__}: {exc}",
                raw=record.data,
                location=location,
                tenant=record.tenant,
                received_at=record.received_at,
            )
        )


class IngestPipeline:
    """The worker loop: bus -> parser -> sink -> flush -> ack."""

    def __init__(
        self,
        bus: Bus,
        sink: EventSink,
        config: IngestConfig | None = None,
        *,
        subject: str = RAW_SUBJECTS,
        durable: str = RAW_DURABLE,
        batch_size: int = 500,
        ack_wait: float = 60.0,
        retry_delay: float = 1.0,
    ) -> None:
        self.bus = bus
        self.sink = sink
        self.config = config or IngestConfig()
        self.subject = subject
        self.durable = durable
        self.batch_size = batch_size
        self.ack_wait = ack_wait
        self.retry_delay = retry_delay
        self.parsers = ParserCache(self.config)
        self.records = 0
        self.failures = 0
        self._sub: Subscription | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _subscription(self) -> Subscription:
        if self._sub is None:
            self._sub = await self.bus.subscribe(self.subject, self.durable, ack_wait=self.ack_wait)
        return self._sub

    async def run_once(self, timeout: float = 1.0) -> int:
        """Handle one batch; returns how many records it held (0 when none came)."""
        sub = await self._subscription()
        batch = await sub.fetch(self.batch_size, timeout=timeout)
        if not batch:
            return 0
        try:
            for i, delivery in enumerate(batch):
                self._handle(delivery)
                if i % 100 == 99:
                    await asyncio.sleep(0)
            flush = getattr(self.sink, "flush", None)
            if callable(flush):
                flush()
        except Exception:
            # the sink failed (store down, disk full): nothing is acked, all comes back
            self.failures += 1
            log.exception("ingest sink failed; %d records will be delivered again", len(batch))
            for delivery in batch:
                await delivery.nak()
            await asyncio.sleep(self.retry_delay)
            return 0
        for delivery in batch:
            await delivery.ack()
        self.records += len(batch)
        return len(batch)

    def _handle(self, delivery: Delivery) -> None:
        try:
            record = RawRecord.from_message(delivery.message)
        except ValueError as exc:
            self.sink.quarantine(
                Quarantined(
                    source="bus",
                    reason=f"unreadable raw record: {exc}",
                    raw=delivery.message.data,
                    location=delivery.message.subject,
                )
            )
            return
        parse_record(record, self.parsers, self.sink)

    async def run(self) -> None:
        """Process until :meth:`stop` is called."""
        while not self._stop.is_set():
            try:
                await self.run_once(timeout=0.5)
            except Exception:  # the bus is unreachable or broken: keep trying, say so
                self.failures += 1
                log.exception("ingest pipeline: fetching from the bus failed")
                await asyncio.sleep(self.retry_delay)

    async def start(self) -> None:
        self._stop.clear()
        await self._subscription()
        self._task = asyncio.create_task(self.run(), name="mamori-ingest-pipeline")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._sub is not None:
            await self._sub.close()
            self._sub = None

    async def drain(self, idle: float = 0.3) -> int:
        """Process until no record arrives for ``idle`` seconds; returns the count."""
        total = 0
        while count := await self.run_once(timeout=idle):
            total += count
        return total


__all__ = ["RAW_DURABLE", "RAW_SUBJECTS", "IngestPipeline", "ParserCache", "parse_record"]
