"""The bus contract: durable publish, durable pull consumers, ack and redelivery.

Collectors publish raw records; workers subscribe under a durable name and ack what they
have handed on. Two engines implement it: :class:`~mamori.bus.embedded.EmbeddedBus`
(in-process, on-disk spool) and :class:`~mamori.bus.jetstream.JetStreamBus` (NATS
JetStream). Domain code only sees these protocols.

Guarantees every engine gives:

* ``publish`` returns only when the message is durably queued (on disk / stored by the
  server). What it acknowledged survives a crash of the process.
* Delivery is at-least-once: a message not acked within ``ack_wait`` (or not acked before a
  crash) is delivered again. Every message carries an id (``msg_id``); consumers remove
  duplicates with it (:class:`~mamori.bus.dedup.Deduplicator`, or an idempotent insert).
* When the spool is over its limit, ``publish`` raises :class:`BusFull` and ``is_full()``
  is true, so intakes can push back (HTTP 429/503, pause TCP reading) instead of growing
  memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from mamori.errors import MamoriError


class BusError(MamoriError):
    """The bus cannot do what was asked (closed, unreachable, corrupt spool...)."""


class BusFull(BusError):
    """The spool is over its size limit: the caller should retry later (back-pressure)."""

    def __init__(self, message: str = "bus is full", *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Message:
    """One message: a subject, an id for de-duplication, headers and the payload."""

    subject: str
    data: bytes
    msg_id: str
    headers: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Delivery(Protocol):
    """A message handed to a consumer; it must be acked (or nak'ed) once handled."""

    @property
    def message(self) -> Message: ...

    @property
    def num_delivered(self) -> int:
        """1 for the first delivery, more for redeliveries."""
        ...

    async def ack(self) -> None: ...

    async def nak(self) -> None:
        """Hand the message back for redelivery now."""
        ...


@runtime_checkable
class Subscription(Protocol):
    """A durable pull consumer; several subscriptions with one name share the work."""

    async def fetch(self, max_messages: int = 100, timeout: float = 1.0) -> list[Delivery]:
        """Up to ``max_messages`` deliveries; waits at most ``timeout`` seconds for one."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class Bus(Protocol):
    """Durable publish/subscribe over subjects like ``raw.<tenant>.<source>``."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        msg_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Store one message durably; returns once it is stored. Raises :class:`BusFull`."""
        ...

    async def publish_many(self, messages: Sequence[Message]) -> None:
        """Store several messages; returns once all are stored. Raises :class:`BusFull`."""
        ...

    def is_full(self) -> bool:
        """True while publishing would be refused for lack of space."""
        ...

    async def subscribe(
        self,
        subject: str,
        durable: str,
        *,
        ack_wait: float = 30.0,
        max_ack_pending: int = 10_000,
    ) -> Subscription:
        """A durable consumer named ``durable`` over ``subject`` (``*``/``>`` wildcards)."""
        ...

    async def delete_consumer(self, durable: str) -> bool:
        """Forget a durable consumer, so it no longer keeps messages; True if it existed."""
        ...


__all__ = ["Bus", "BusError", "BusFull", "Delivery", "Message", "Subscription"]
