"""Back-pressure below the bus's hard limit, so the pipeline can never wedge itself.

Collectors (HTTP intake, syslog) and the consumers that turn raw records into events
share one spool. If collectors could fill it to the brim, the parsing consumer could not
publish the events it needs to publish before it may ack the raw records that fill the
spool - nothing would ever be freed. Collectors therefore see the bus as full at a
*high-water mark* (a share of ``max_bytes``); the rest is kept for the consumers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mamori.bus.base import Bus, BusFull, Message, Subscription


def over_high_water(bus: Bus, fraction: float) -> bool:
    """True when ``bus`` is full, or holds ``fraction`` of its size limit or more.

    Engines that do not report their size (JetStream) are judged by ``is_full`` only.
    """
    if bus.is_full():
        return True
    size = getattr(bus, "size_bytes", None)
    limit = getattr(bus, "max_bytes", None)
    if isinstance(size, int) and isinstance(limit, int) and limit > 0:
        return size >= limit * fraction
    return False


class HighWaterBus:
    """The bus as a collector should see it: full at the high-water mark."""

    def __init__(self, bus: Bus, fraction: float) -> None:
        self.bus = bus
        self.fraction = fraction

    def is_full(self) -> bool:
        return over_high_water(self.bus, self.fraction)

    def _refuse(self) -> None:
        if self.is_full():
            raise BusFull(f"bus is over its high-water mark ({self.fraction:.0%} of its limit)")

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        msg_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._refuse()
        await self.bus.publish(subject, data, msg_id=msg_id, headers=headers)

    async def publish_many(self, messages: Sequence[Message]) -> None:
        self._refuse()
        await self.bus.publish_many(messages)

    async def start(self) -> None:
        await self.bus.start()

    async def close(self) -> None:
        await self.bus.close()

    async def subscribe(
        self, subject: str, durable: str, *, ack_wait: float = 30.0, max_ack_pending: int = 10_000
    ) -> Subscription:
        return await self.bus.subscribe(
            subject, durable, ack_wait=ack_wait, max_ack_pending=max_ack_pending
        )

    async def delete_consumer(self, durable: str) -> bool:
        return await self.bus.delete_consumer(durable)


__all__ = ["HighWaterBus", "over_high_water"]
