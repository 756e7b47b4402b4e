"""Raw records as they travel on the bus between collectors and the parsing pipeline."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from mamori.bus.base import Message
from mamori.bus.subjects import raw_subject
from mamori.model import event_id_for

_BOOT = f"{os.getpid()}-{time.time_ns()}"
_counter = 0


def new_record_id(*parts: str) -> str:
    """A unique id for a newly received record (process, time, counter and ``parts``)."""
    global _counter
    _counter += 1
    return event_id_for(_BOOT, str(_counter), *parts)


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One received record before parsing.

    ``source`` names a configured source or a parser; ``location`` says where it came from
    (``syslog+tcp://10.0.0.5:51514``, a file path) and, with ``record_id``, makes the ids
    of the events parsed from it stable across redeliveries.
    """

    data: bytes
    source: str
    tenant: str | None = None
    host: str | None = None
    location: str = ""
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    record_id: str = ""
    truncated: bool = False
    single: bool = False  # one framed message (may hold line breaks), not a batch of lines

    def with_id(self) -> RawRecord:
        if self.record_id:
            return self
        return replace(self, record_id=new_record_id(self.location))

    def to_message(self) -> Message:
        record = self.with_id()
        headers = {
            "source": record.source,
            "location": record.location,
            "received_at": record.received_at.astimezone(UTC).isoformat(),
        }
        if record.tenant is not None:
            headers["tenant"] = record.tenant
        if record.host:
            headers["host"] = record.host
        if record.truncated:
            headers["truncated"] = "1"
        if record.single:
            headers["framing"] = "message"
        return Message(
            subject=raw_subject(record.tenant, record.source),
            data=record.data,
            msg_id=record.record_id,
            headers=headers,
        )

    @classmethod
    def from_message(cls, message: Message) -> RawRecord:
        """The record a message carries.

        Raises:
            ValueError: the message has no ``source`` header or a bad ``received_at``.
        """
        headers = message.headers
        source = headers.get("source")
        if not source:
            raise ValueError("raw record without a 'source' header")
        received = headers.get("received_at")
        received_at = datetime.fromisoformat(received) if received else datetime.now(UTC)
        return cls(
            data=message.data,
            source=source,
            tenant=headers.get("tenant"),
            host=headers.get("host") or None,
            location=headers.get("location", ""),
            received_at=received_at,
            record_id=message.msg_id,
            truncated=headers.get("truncated") == "1",
            single=headers.get("framing") == "message",
        )


__all__ = ["RawRecord", "new_record_id"]
