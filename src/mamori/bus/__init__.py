"""The message bus: one protocol, two engines (embedded spool, NATS JetStream)."""

from mamori.bus.base import Bus, BusError, BusFull, Delivery, Message, Subscription
from mamori.bus.dedup import Deduplicator
from mamori.bus.subjects import matches, raw_subject

__all__ = [
    "Bus",
    "BusError",
    "BusFull",
    "Deduplicator",
    "Delivery",
    "Message",
    "Subscription",
    "matches",
    "raw_subject",
]
