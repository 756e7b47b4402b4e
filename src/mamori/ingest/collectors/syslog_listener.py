"""The syslog listener: UDP, TCP and TCP+TLS into the bus, as an asyncio service.

Each received message becomes a :class:`~mamori.ingest.records.RawRecord` with the
tenant, default host and source that the sender mapping gives (sender IP, or the CN of
the TLS client certificate; see :class:`~mamori.ingest.config.SyslogConfig`). Unknown
senders are refused (connection closed, datagram counted) unless a default tenant is set.

Delivery: a TCP connection's bytes are read, framed, published with ``publish_many`` and
only after the bus has stored them is the next chunk read - so the kernel's socket buffer,
not our memory, holds what is waiting, and a full bus (``BusFull``) simply pauses reading
(TCP flow control pushes back on the sender). UDP cannot push back: datagrams wait in a
bounded queue and are counted as dropped when it overflows.

``start()``/``stop()`` let ``mamori up`` run it next to the other services.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from mamori.bus.base import Bus, BusFull, Message
from mamori.errors import ConfigError
from mamori.ingest.collectors.framing import SyslogFramer
from mamori.ingest.config import SenderRule, SyslogConfig
from mamori.ingest.records import RawRecord

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
MAX_BACKOFF = 1.0


def client_cn(ssl_object: ssl.SSLObject | None) -> str | None:
    """The common name of a verified TLS client certificate, if there is one."""
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    if not cert:
        return None
    subject: Any = cert.get("subject", ())
    for rdn in subject:
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


class SyslogListener:
    """Receives syslog on the configured ports and publishes raw records to ``bus``."""

    def __init__(self, config: SyslogConfig, bus: Bus) -> None:
        self.config = config
        self.bus = bus
        self.stats: Counter[str] = Counter()
        self._servers: list[asyncio.AbstractServer] = []
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_queue: asyncio.Queue[tuple[bytes, str, datetime]] | None = None
        self._udp_task: asyncio.Task[None] | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._readers: set[asyncio.StreamReader] = set()
        self._stopping = False
        self.udp_port: int | None = None
        self.tcp_port: int | None = None
        self.tls_port: int | None = None

    # ---- lifecycle -------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        cfg = self.config
        if cfg.tls_cert is None or cfg.tls_key is None:
            raise ConfigError("syslog TLS needs tls_cert and tls_key")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(cfg.tls_cert, cfg.tls_key)
            if cfg.tls_client_ca is not None:
                context.load_verify_locations(cfg.tls_client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"syslog TLS certificate, key or CA cannot be loaded: {exc}") from exc
        if cfg.tls_client_ca is not None:
            context.verify_mode = (
                ssl.CERT_REQUIRED if cfg.tls_require_client_cert else ssl.CERT_OPTIONAL
            )
        return context

    async def start(self) -> None:
        """Bind the configured ports (0 picks a free one; see ``*_port`` afterwards)."""
        self._stopping = False
        cfg = self.config
        loop = asyncio.get_running_loop()
        try:
            if cfg.tcp_port is not None:
                server = await asyncio.start_server(
                    self._tcp_client, cfg.bind, cfg.tcp_port, limit=READ_CHUNK
                )
                self._servers.append(server)
                self.tcp_port = server.sockets[0].getsockname()[1]
            if cfg.tls_port is not None:
                server = await asyncio.start_server(
                    self._tls_client,
                    cfg.bind,
                    cfg.tls_port,
                    ssl=self._tls_context(),
                    limit=READ_CHUNK,
                    ssl_handshake_timeout=min(cfg.idle_timeout, 30.0),
                )
                self._servers.append(server)
                self.tls_port = server.sockets[0].getsockname()[1]
            if cfg.udp_port is not None:
                self._udp_queue = asyncio.Queue(maxsize=cfg.udp_queue)
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpProtocol(self), local_addr=(cfg.bind, cfg.udp_port)
                )
                self._udp = transport
                self.udp_port = transport.get_extra_info("sockname")[1]
                self._udp_task = asyncio.create_task(self._udp_worker(), name="syslog-udp")
        except ConfigError:
            await self.stop()
            raise
        except OSError as exc:
            await self.stop()
            raise ConfigError(f"syslog listener cannot bind: {exc.strerror or exc}") from exc
        log.info(
            "syslog listening: udp=%s tcp=%s tls=%s", self.udp_port, self.tcp_port, self.tls_port
        )

    async def stop(self) -> None:
        """Stop accepting, let connections finish what they read, publish queued datagrams."""
        self._stopping = True
        for server in self._servers:
            server.close()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        # end every stream after what was already read, so that nothing read is dropped
        for reader in list(self._readers):
            reader.feed_eof()
        if self._connections:
            _done, pending = await asyncio.wait(list(self._connections), timeout=10.0)
            for task in pending:  # a publish stuck on a full bus: give up on it
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        if self._udp_task is not None:
            if self._udp_queue is not None:
                # publish what was received; a bus that stays full must not block shutdown
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._udp_queue.join(), 10.0)
            self._udp_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._udp_task
            self._udp_task = None

    # ---- publishing ------------------------------------------------------------------

    async def _publish(self, messages: list[Message]) -> None:
        """Publish, waiting (not dropping) while the bus is full."""
        delay = 0.01
        while True:
            if self.bus.is_full():
                self.stats["paused"] += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            try:
                await self.bus.publish_many(messages)
            except BusFull:
                self.stats["paused"] += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            self.stats["records"] += len(messages)
            return

    def _records(
        self, frames: list[tuple[bytes, bool]], rule: SenderRule, location: str, received: datetime
    ) -> list[Message]:
        source = rule.source or self.config.default_source
        out = []
        for data, complete in frames:
            if not complete:
                self.stats["truncated"] += 1
            out.append(
                RawRecord(
                    data=data,
                    source=source,
                    tenant=rule.tenant,
                    host=rule.host,
                    location=location,
                    received_at=received,
                    truncated=not complete,
                    single=True,
                ).to_message()
            )
        return out

    # ---- TCP / TLS -------------------------------------------------------------------

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, "tcp")

    async def _tls_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, "tls")

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: str
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        self._readers.add(reader)
        peer = writer.get_extra_info("peername") or ("?", 0)
        ip = str(peer[0])
        try:
            if len(self._connections) > self.config.max_connections:
                self.stats["refused_too_many"] += 1
                return
            cn = client_cn(writer.get_extra_info("ssl_object")) if transport == "tls" else None
            rule = self.config.resolve(ip, cn)
            if rule is None:
                self.stats["refused_unknown_sender"] += 1
                log.warning("syslog: refusing unknown sender %s (cn=%s)", ip, cn)
                return
            self.stats["connections"] += 1
            location = f"syslog+{transport}://{ip}:{peer[1]}"
            await self._read_stream(reader, rule, location)
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            self.stats["connection_errors"] += 1
            log.info("syslog: connection from %s ended: %s", ip, exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._connections.discard(task)
            self._readers.discard(reader)

    async def _read_stream(
        self, reader: asyncio.StreamReader, rule: SenderRule, location: str
    ) -> None:
        framer = SyslogFramer(self.config.max_message_bytes)
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(READ_CHUNK), self.config.idle_timeout)
            except TimeoutError:
                self.stats["idle_timeouts"] += 1
                frames = framer.close()
                if frames:
                    received = datetime.now(UTC)
                    pairs = [(f.data, f.complete) for f in frames]
                    await self._publish(self._records(pairs, rule, location, received))
                return
            received = datetime.now(UTC)
            frames = framer.feed(chunk) if chunk else framer.close()
            if frames:
                pairs = [(f.data, f.complete) for f in frames]
                # the next chunk is read only once these are stored: back-pressure
                await self._publish(self._records(pairs, rule, location, received))
            if not chunk:
                return

    # ---- UDP -------------------------------------------------------------------------

    def _datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        if self._udp_queue is None or self._stopping:
            return
        try:
            self._udp_queue.put_nowait((data, str(addr[0]), datetime.now(UTC)))
        except asyncio.QueueFull:
            self.stats["udp_dropped"] += 1

    async def _udp_worker(self) -> None:
        assert self._udp_queue is not None  # noqa: S101 - created with the task
        queue = self._udp_queue
        while True:
            first = await queue.get()
            items = [first]
            while len(items) < 500 and not queue.empty():
                items.append(queue.get_nowait())
            messages: list[Message] = []
            for data, ip, received in items:
                rule = self.config.resolve(ip, None)
                if rule is None:
                    self.stats["refused_unknown_sender"] += 1
                    continue
                data = data.rstrip(b"\r\n\x00")
                if not data:
                    continue
                complete = len(data) <= self.config.max_message_bytes
                frames = [(data[: self.config.max_message_bytes], complete)]
                messages.extend(self._records(frames, rule, f"syslog+udp://{ip}", received))
            try:
                if messages:
                    await self._publish(messages)
            finally:
                for _ in items:
                    queue.task_done()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, listener: SyslogListener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.listener._datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        self.listener.stats["udp_errors"] += 1
        log.info("syslog udp: %s", exc)


__all__ = ["SyslogListener", "client_cn"]
