"""Batch envelopes: many small items (events as JSON) in one bus message.

A message stored on the bus costs the same framing, checksum, read and subject match
whether it carries one event or five hundred, and every consumer of the subject pays
the read. High-rate producers (the parsing pipeline) therefore publish *batch
messages*: the items joined by ``\\n`` (each item is one line of JSON, which never holds a
raw line break), with the header ``mamori-batch: ndjson`` and the item count in
``mamori-count``. Messages without the header are single items, so producers that publish
one event per message (scan verdicts) stay readable by the same consumers.

Semantics are the bus's own, per message: a batch is acked once all of its items are
handled, redelivered whole otherwise. Consumers remove duplicates by the id *inside* each
item (the event id), never by the batch's message id, so a batch re-formed differently
after a crash is still stored once.

* :func:`pack` builds the batch messages of a list of items (bounded in items and bytes);
* :func:`items_of` gives the items of any message (batch or single);
* :class:`UnbatchingBus` wraps a bus so that a consumer written for single-item messages
  sees one delivery per item, acked together with its siblings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from mamori.bus.base import Bus, Delivery, Message, Subscription

BATCH_HEADER = "mamori-batch"
COUNT_HEADER = "mamori-count"
NDJSON = "ndjson"
#: Bounds of one batch message: small enough for a NATS payload (1 MiB by default) and to
#: keep a consumer's fetch bounded, large enough that per-message costs vanish.
MAX_ITEMS = 500
MAX_BYTES = 512 * 1024


#: Bytes with every ASCII digit as ``0`` and everything else as a space: a run of 19
#: digits (an integer orjson may read as a float) is then a plain substring search.
_DIGIT_MAP = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_DIGIT_RUN = b"0" * 19
_ORJSON_OPTS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def has_long_digits(data: bytes) -> bool:
    """True if ``data`` holds 19 or more ASCII digits in a row (``rb"\\d{19}"``)."""
    return _DIGIT_RUN in data.translate(_DIGIT_MAP)


def dumps_line(value: Any) -> bytes:
    """``value`` as one line of compact UTF-8 JSON (orjson; ``json`` for what it refuses).

    Values JSON has no type for become ``str(value)``, as with ``json.dumps(default=str)``;
    a lone surrogate in a string becomes a ``\\udXXX`` escape instead of an error.
    """
    try:
        return orjson.dumps(value, default=str, option=_ORJSON_OPTS)
    except (TypeError, orjson.JSONEncodeError):
        # lone surrogates, integers over 64 bits, non-string keys: the standard library
        # writes them all (ensure_ascii keeps a lone surrogate as an escape)
        return json.dumps(value, default=str, separators=(",", ":")).encode("ascii")


def loads(data: bytes) -> Any:
    """The JSON value of ``data`` (orjson; ``json`` for what orjson refuses).

    Raises:
        ValueError: not JSON.
    """
    if has_long_digits(data):  # orjson reads integers beyond 64 bits as floats
        return json.loads(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # orjson refuses lone surrogate escapes and NaN, which json reads
        return json.loads(data)


def is_batch(message: Message) -> bool:
    """True when ``message`` is a batch envelope."""
    return message.headers.get(BATCH_HEADER) == NDJSON


def items_of(message: Message) -> list[bytes]:
    """The items a message carries: its lines for a batch, else its data as one item."""
    if not is_batch(message):
        return [message.data]
    return [line for line in message.data.split(b"\n") if line]


def batch_id(ids: Sequence[str]) -> str:
    """A message id for a batch of items with these ids (the same ids give the same id)."""
    digest = hashlib.sha256()
    for item_id in ids:
        digest.update(item_id.encode("utf-8", "surrogateescape"))
        digest.update(b"\n")
    return f"batch-{digest.hexdigest()[:40]}"


def _chunks(
    items: Sequence[tuple[str, bytes]], max_items: int, max_bytes: int
) -> Iterator[Sequence[tuple[str, bytes]]]:
    start, size = 0, 0
    for i, (_, data) in enumerate(items):
        if i > start and (i - start >= max_items or size + len(data) + 1 > max_bytes):
            yield items[start:i]
            start, size = i, 0
        size += len(data) + 1
    if start < len(items):
        yield items[start:]


def pack(
    subject: str,
    items: Sequence[tuple[str, bytes]],
    *,
    max_items: int = MAX_ITEMS,
    max_bytes: int = MAX_BYTES,
    headers: Mapping[str, str] | None = None,
) -> list[Message]:
    """Batch messages on ``subject`` for ``(item_id, line)`` pairs, in order.

    A chunk of one item is still a batch (so a consumer sees one format per producer);
    an item bigger than ``max_bytes`` travels alone.

    Raises:
        ValueError: an item holds a line break (it would split into two items).
    """
    out: list[Message] = []
    for chunk in _chunks(items, max_items, max_bytes):
        lines = [data for _, data in chunk]
        for line in lines:
            if b"\n" in line:
                raise ValueError("a batch item must not contain a line break")
        head = dict(headers or {})
        head[BATCH_HEADER] = NDJSON
        head[COUNT_HEADER] = str(len(lines))
        out.append(Message(subject, b"\n".join(lines), batch_id([i for i, _ in chunk]), head))
    return out


# ---- per-item deliveries for consumers written for single messages ----------------------


class _Group:
    """The items of one delivered batch: acks the batch once every item is settled."""

    __slots__ = ("delivery", "open", "failed")

    def __init__(self, delivery: Delivery, count: int) -> None:
        self.delivery = delivery
        self.open = count
        self.failed = False

    async def settle(self, ok: bool) -> None:
        if self.open <= 0:
            return
        self.open -= 1
        self.failed = self.failed or not ok
        if self.open == 0:
            if self.failed:
                await self.delivery.nak()
            else:
                await self.delivery.ack()


class _ItemDelivery:
    """One item of a batch, delivered as if it were a message of its own."""

    __slots__ = ("_group", "_message", "_settled")

    def __init__(self, group: _Group, message: Message) -> None:
        self._group = group
        self._message = message
        self._settled = False

    @property
    def message(self) -> Message:
        return self._message

    @property
    def num_delivered(self) -> int:
        return self._group.delivery.num_delivered

    async def ack(self) -> None:
        if not self._settled:
            self._settled = True
            await self._group.settle(True)

    async def nak(self) -> None:
        if not self._settled:
            self._settled = True
            await self._group.settle(False)


def expand(delivery: Delivery) -> list[Delivery]:
    """One delivery per item of ``delivery`` (itself when it is not a batch; none for an
    empty batch, which the caller acks)."""
    message = delivery.message
    if not is_batch(message):
        return [delivery]
    items = items_of(message)
    if not items:  # an empty batch: nothing to hand out (the caller acks it)
        return []
    group = _Group(delivery, len(items))
    return [
        _ItemDelivery(group, Message(message.subject, item, f"{message.msg_id}:{i}"))
        for i, item in enumerate(items)
    ]


class UnbatchingSubscription:
    """A subscription that hands out the items of batch messages one by one.

    At most ``max_messages`` items per fetch; the items of a batch that do not fit wait
    for the next fetch (the batch is acked when all of them are). Closing drops what is
    waiting: the bus delivers those batches again.
    """

    def __init__(self, inner: Subscription) -> None:
        self._inner = inner
        self._buffer: list[Delivery] = []

    async def fetch(self, max_messages: int = 100, timeout: float = 1.0) -> list[Delivery]:
        want = max(1, max_messages)
        if not self._buffer:
            batched = False
            first = True
            wait = timeout
            while len(self._buffer) < want:
                # one message first, and one at a time once batches come, so the buffer
                # stays small (a fetch of many envelopes would hold hundreds of times more)
                n = 1 if batched or first else want - len(self._buffer)
                first = False
                got = await self._inner.fetch(n, timeout=wait)
                if not got:
                    break
                wait = 0.0
                for delivery in got:
                    if not is_batch(delivery.message):
                        self._buffer.append(delivery)
                        continue
                    batched = True
                    expanded = expand(delivery)
                    if not expanded:
                        await delivery.ack()
                    self._buffer.extend(expanded)
        out, self._buffer = self._buffer[:want], self._buffer[want:]
        return out

    async def close(self) -> None:
        self._buffer = []
        await self._inner.close()


class UnbatchingBus:
    """A :class:`~mamori.bus.base.Bus` whose subscriptions expand batch messages.

    Everything else (publishing, consumers' state) is the wrapped bus's.
    """

    def __init__(self, inner: Bus) -> None:
        self.inner = inner

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        msg_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        await self.inner.publish(subject, data, msg_id=msg_id, headers=headers)

    async def publish_many(self, messages: Sequence[Message]) -> None:
        await self.inner.publish_many(messages)

    def is_full(self) -> bool:
        return self.inner.is_full()

    async def subscribe(
        self,
        subject: str,
        durable: str,
        *,
        ack_wait: float = 30.0,
        max_ack_pending: int = 10_000,
    ) -> UnbatchingSubscription:
        inner = await self.inner.subscribe(
            subject, durable, ack_wait=ack_wait, max_ack_pending=max_ack_pending
        )
        return UnbatchingSubscription(inner)

    async def delete_consumer(self, durable: str) -> bool:
        return await self.inner.delete_consumer(durable)


__all__ = [
    "BATCH_HEADER",
    "COUNT_HEADER",
    "MAX_BYTES",
    "MAX_ITEMS",
    "NDJSON",
    "UnbatchingBus",
    "UnbatchingSubscription",
    "batch_id",
    "dumps_line",
    "expand",
    "has_long_digits",
    "is_batch",
    "items_of",
    "loads",
    "pack",
]
