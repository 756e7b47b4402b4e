"""Sinks the ingest side provides: JSON lines files, de-duplication, counting.

The store sink (events into SQL) comes from the wiring layer; anything with ``event``,
``quarantine`` and ``warning`` (and optionally ``flush``) fits the pipeline.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mamori.bus.base import Bus, BusFull, Message
from mamori.bus.dedup import Deduplicator
from mamori.bus.subjects import events_subject, quarantine_subject
from mamori.model import Event, EventSink, Quarantined, event_id_for


def quarantined_to_dict(item: Quarantined) -> dict[str, Any]:
    """JSON form of a quarantined record (raw bytes as base64 and as escaped text)."""
    return {
        "source": item.source,
        "reason": item.reason,
        "location": item.location,
        "tenant": item.tenant,
        "received_at": item.received_at.isoformat().replace("+00:00", "Z"),
        "raw_b64": base64.b64encode(item.raw).decode("ascii"),
        "raw": item.raw.decode("utf-8", "backslashreplace"),
    }


class JsonlSink:
    """Writes events as JSON lines to ``path`` and quarantined records beside it.

    Quarantined records go to ``<path>.quarantine.jsonl``; warnings are counted and kept.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.quarantine_path = path.with_name(path.name + ".quarantine.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._events: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115
        self._quarantine: IO[str] | None = None
        self.counts = {"events": 0, "quarantined": 0, "warnings": 0}
        self.warnings: list[str] = []

    def event(self, event: Event) -> None:
        self._events.write(event.to_json() + "\n")
        self.counts["events"] += 1

    def quarantine(self, item: Quarantined) -> None:
        if self._quarantine is None:
            self._quarantine = open(self.quarantine_path, "a", encoding="utf-8")  # noqa: SIM115
        self._quarantine.write(json.dumps(quarantined_to_dict(item), ensure_ascii=False) + "\n")
        self.counts["quarantined"] += 1

    def warning(self, message: str) -> None:
        self.counts["warnings"] += 1
        if len(self.warnings) < 1000:
            self.warnings.append(message)

    def flush(self) -> None:
        """Make what was written durable (called before the bus messages are acked)."""
        for fh in (self._events, self._quarantine):
            if fh is not None:
                fh.flush()
                os.fsync(fh.fileno())

    def close(self) -> None:
        self.flush()
        self._events.close()
        if self._quarantine is not None:
            self._quarantine.close()


@dataclass
class DedupSink:
    """Passes each event id once (replays after a crash are dropped here)."""

    inner: EventSink
    seen: Deduplicator = field(default_factory=Deduplicator)
    duplicates: int = 0

    def event(self, event: Event) -> None:
        if self.seen.add(event.id):
            self.inner.event(event)
        else:
            self.duplicates += 1

    def quarantine(self, item: Quarantined) -> None:
        self.inner.quarantine(item)

    def warning(self, message: str) -> None:
        self.inner.warning(message)

    def flush(self) -> None:
        flush = getattr(self.inner, "flush", None)
        if callable(flush):
            flush()
        self.seen.flush(fsync=True)


@dataclass
class CountingSink:
    """Counts what passes through to ``inner`` (for progress bars and summaries)."""

    inner: EventSink
    events: int = 0
    quarantined: int = 0
    warnings: int = 0

    def event(self, event: Event) -> None:
        self.events += 1
        self.inner.event(event)

    def quarantine(self, item: Quarantined) -> None:
        self.quarantined += 1
        self.inner.quarantine(item)

    def warning(self, message: str) -> None:
        self.warnings += 1
        self.inner.warning(message)

    def flush(self) -> None:
        flush = getattr(self.inner, "flush", None)
        if callable(flush):
            flush()


class BusEventSink:
    """Publishes events (and quarantined records) on the bus, for a sync caller.

    The bus runs on its own event loop in a background thread; ``event`` buffers and
    every ``batch`` events are published and awaited (stored durably) before returning.
    Subjects: ``mamori.events.<tenant>.<source>`` with the event id as message id (so
    re-imports are de-duplicated) and ``mamori.quarantine.<tenant>.<source>``. While the
    bus is full it waits up to ``full_timeout`` seconds, then raises ``BusFull``.
    """

    def __init__(self, bus: Bus, *, batch: int = 500, full_timeout: float = 60.0) -> None:
        self.bus = bus
        self.batch = batch
        self.full_timeout = full_timeout
        self.published = 0
        self.quarantined = 0
        self.warnings: list[str] = []
        self._buffer: list[Message] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="mamori-bus-sink"
        )
        self._thread.start()
        self._call(bus.start())

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def event(self, event: Event) -> None:
        self._buffer.append(
            Message(events_subject(event.tenant, event.source), event.to_json().encode(), event.id)
        )
        if len(self._buffer) >= self.batch:
            self._publish()

    def quarantine(self, item: Quarantined) -> None:
        data = json.dumps(quarantined_to_dict(item), ensure_ascii=False).encode()
        msg_id = event_id_for("quarantine", item.source, item.location, item.raw)
        self._buffer.append(Message(quarantine_subject(item.tenant, item.source), data, msg_id))
        self.quarantined += 1
        if len(self._buffer) >= self.batch:
            self._publish()

    def warning(self, message: str) -> None:
        if len(self.warnings) < 1000:
            self.warnings.append(message)

    def _publish(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        deadline = time.monotonic() + self.full_timeout
        while True:
            try:
                self._call(self.bus.publish_many(batch))
                break
            except BusFull:
                if time.monotonic() > deadline:
                    self._buffer = batch + self._buffer
                    raise
                time.sleep(0.5)
        self.published += len(batch)

    def flush(self) -> None:
        self._publish()

    def close(self) -> None:
        try:
            self._publish()
        finally:
            self._call(self.bus.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()


__all__ = ["BusEventSink", "CountingSink", "DedupSink", "JsonlSink", "quarantined_to_dict"]
