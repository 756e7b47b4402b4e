"""The bus on NATS JetStream, for installations that run several processes.

One stream (default ``MAMORI``) holds the subjects ``mamori.>``; raw records go to
``mamori.raw.<tenant>.<source>``. The stream keeps messages until every durable consumer
has acked them (interest retention), is stored on disk, refuses new messages when over
``max_bytes`` (discard new -> :class:`BusFull`) and removes re-published duplicates by
their ``Nats-Msg-Id`` within ``duplicate_window`` seconds.

With interest retention, a message published while no consumer exists is not kept, so the
consumers an installation relies on are declared at :meth:`JetStreamBus.start` through
``consumers`` (durable name -> subject filter). ``publish`` returns once the server has
stored the message (its PubAck).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import APIError, FetchTimeoutError, NotFoundError

from mamori.bus.base import BusError, BusFull, Delivery, Message

log = logging.getLogger(__name__)
MSG_ID_HEADER = "Nats-Msg-Id"
_FULL_CODES = {10047, 10077, 10078}  # storage/max bytes/max messages exceeded


async def _log_error(exc: Exception) -> None:
    log.warning("NATS: %s", exc)


def _durable_ok(name: str) -> bool:
    return bool(name) and not any(ch in name for ch in " .*>\t\r\n/\\")


class _JetStreamDelivery:
    __slots__ = ("_msg", "_message")

    def __init__(self, msg: Msg) -> None:
        self._msg = msg
        headers = dict(msg.headers or {})
        msg_id = headers.pop(MSG_ID_HEADER, "")
        headers = {k: v for k, v in headers.items() if not k.startswith("Nats-")}
        self._message = Message(subject=msg.subject, data=msg.data, msg_id=msg_id, headers=headers)

    @property
    def message(self) -> Message:
        return self._message

    @property
    def num_delivered(self) -> int:
        return int(self._msg.metadata.num_delivered or 1)

    async def ack(self) -> None:
        await self._msg.ack()

    async def nak(self) -> None:
        await self._msg.nak()


class JetStreamSubscription:
    """A pull subscription on a durable JetStream consumer."""

    def __init__(self, sub: JetStreamContext.PullSubscription) -> None:
        self._sub = sub

    async def fetch(self, max_messages: int = 100, timeout: float = 1.0) -> list[Delivery]:
        try:
            msgs = await self._sub.fetch(max_messages, timeout=max(timeout, 0.001))
        except (TimeoutError, NatsTimeout, FetchTimeoutError):
            return []
        return [_JetStreamDelivery(m) for m in msgs]

    async def close(self) -> None:
        with contextlib.suppress(NatsError):
            await self._sub.unsubscribe()


class JetStreamBus:
    """:class:`~mamori.bus.base.Bus` on a NATS JetStream server; see the module docstring."""

    def __init__(
        self,
        servers: str | Sequence[str] = "nats://127.0.0.1:4222",
        *,
        stream: str = "MAMORI",
        subjects: Sequence[str] = ("mamori.>",),
        max_bytes: int = 1 << 30,
        duplicate_window: float = 120.0,
        consumers: Mapping[str, str] | None = None,
        connect_timeout: float = 5.0,
        publish_timeout: float = 10.0,
        full_backoff: float = 1.0,
    ) -> None:
        self.servers = [servers] if isinstance(servers, str) else list(servers)
        self.stream = stream
        self.subjects = list(subjects)
        self.max_bytes = max_bytes
        self.duplicate_window = duplicate_window
        self.consumers = dict(consumers or {})
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.full_backoff = full_backoff
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._full_until = 0.0
        for durable in self.consumers:
            if not _durable_ok(durable):
                raise BusError(f"invalid durable consumer name {durable!r}")

    async def start(self) -> None:
        """Connect, create or update the stream, declare the configured consumers."""
        if self._nc is not None:
            return
        try:
            # nats-py keeps retrying a server that refuses the first connection; bound it
            self._nc = await asyncio.wait_for(
                nats.connect(
                    servers=self.servers,
                    connect_timeout=self.connect_timeout,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    error_cb=_log_error,
                ),
                timeout=self.connect_timeout * 2,
            )
        except (TimeoutError, NatsError, OSError) as exc:
            raise BusError(
                f"cannot connect to NATS at {', '.join(self.servers)}: {exc or type(exc).__name__}"
            ) from exc
        self._js = self._nc.jetstream(timeout=self.publish_timeout)
        config = js_api.StreamConfig(
            name=self.stream,
            subjects=self.subjects,
            retention=js_api.RetentionPolicy.INTEREST,
            storage=js_api.StorageType.FILE,
            discard=js_api.DiscardPolicy.NEW,
            max_bytes=self.max_bytes,
            duplicate_window=self.duplicate_window,
        )
        try:
            try:
                await self._js.stream_info(self.stream)
                await self._js.update_stream(config)
            except NotFoundError:
                await self._js.add_stream(config)
            for durable, subject in self.consumers.items():
                await self._ensure_consumer(subject, durable, 30.0, 10_000)
        except APIError as exc:
            await self.close()
            raise BusError(f"JetStream stream {self.stream!r}: {exc.description or exc}") from exc

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            # every publish already has its PubAck and acks are sent synchronously, so
            # closing (rather than draining pull subscriptions) loses nothing
            with contextlib.suppress(NatsError, asyncio.TimeoutError):
                await nc.flush(timeout=2)
            await nc.close()

    async def __aenter__(self) -> JetStreamBus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _context(self) -> JetStreamContext:
        if self._js is None:
            raise BusError("bus is closed")
        return self._js

    def is_full(self) -> bool:
        return time.monotonic() < self._full_until

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        msg_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        js = self._context()
        all_headers: dict[str, Any] = dict(headers or {})
        all_headers[MSG_ID_HEADER] = msg_id
        try:
            await js.publish(subject, data, headers=all_headers, stream=self.stream)
        except APIError as exc:
            if exc.err_code in _FULL_CODES or "exceeded" in str(exc.description or ""):
                self._full_until = time.monotonic() + self.full_backoff
                raise BusFull(
                    f"JetStream stream {self.stream!r} is full", retry_after=self.full_backoff
                ) from exc
            raise BusError(f"publish to {subject!r} failed: {exc.description or exc}") from exc
        except (TimeoutError, NatsError) as exc:
            raise BusError(f"publish to {subject!r} failed: {exc}") from exc
        self._full_until = 0.0

    async def publish_many(self, messages: Sequence[Message], *, window: int = 256) -> None:
        for start in range(0, len(messages), window):
            chunk = messages[start : start + window]
            results = await asyncio.gather(
                *(
                    self.publish(m.subject, m.data, msg_id=m.msg_id, headers=m.headers)
                    for m in chunk
                ),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result

    async def _ensure_consumer(
        self, subject: str, durable: str, ack_wait: float, max_ack_pending: int
    ) -> None:
        js = self._context()
        config = js_api.ConsumerConfig(
            durable_name=durable,
            filter_subject=subject,
            ack_policy=js_api.AckPolicy.EXPLICIT,
            deliver_policy=js_api.DeliverPolicy.ALL,
            ack_wait=ack_wait,
            max_ack_pending=max_ack_pending,
        )
        try:
            info = await js.consumer_info(self.stream, durable)
        except NotFoundError:
            await js.add_consumer(self.stream, config)
            return
        if info.config.filter_subject != subject:
            raise BusError(
                f"consumer {durable!r} exists with subject {info.config.filter_subject!r}, "
                f"not {subject!r}"
            )
        if info.config.ack_wait != ack_wait or info.config.max_ack_pending != max_ack_pending:
            await js.add_consumer(self.stream, config)  # updates the editable settings

    async def delete_consumer(self, durable: str) -> bool:
        """Delete a durable consumer on the server; True if it existed."""
        js = self._context()
        try:
            return bool(await js.delete_consumer(self.stream, durable))
        except NotFoundError:
            return False

    async def subscribe(
        self,
        subject: str,
        durable: str,
        *,
        ack_wait: float = 30.0,
        max_ack_pending: int = 10_000,
    ) -> JetStreamSubscription:
        if not _durable_ok(durable):
            raise BusError(f"invalid durable consumer name {durable!r}")
        js = self._context()
        try:
            await self._ensure_consumer(subject, durable, ack_wait, max_ack_pending)
            sub = await js.pull_subscribe(subject, durable=durable, stream=self.stream)
        except APIError as exc:
            raise BusError(f"subscribe {durable!r}: {exc.description or exc}") from exc
        return JetStreamSubscription(sub)


__all__ = ["MSG_ID_HEADER", "JetStreamBus", "JetStreamSubscription"]
