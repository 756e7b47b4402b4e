"""Wiring of the scan area: verdict events onto the bus, quarantine audit into the store,
and the SMTP filter and ICAP server as background services of ``mamori up``.

* :class:`LoopVerdictPublisher` — for services running on the process's event loop (the
  gateways call ``on_event`` from their worker threads); each verdict is published on
  ``mamori.events.<tenant>.scan`` and awaited (durably stored) before the call returns.
* :class:`BusVerdictSink` — the same for synchronous callers (``mamori scan``), with its
  own bus on a private event-loop thread.
* :class:`StoreAuditSink` — quarantine actions (put, release, delete, retrieve) become
  entries of the foundation audit log (tenant slug mapped to the tenant id).
* :func:`make_mail_filter` / :func:`make_icap_server` — the factories listed in
  :data:`mamori.cli.runtime.SERVICE_FACTORIES`; they return ``None`` unless enabled in the
  settings (``MAMORI_SCAN_MAIL_ENABLED`` / ``MAMORI_SCAN_ICAP_ENABLED``) and for workers.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mamori.bus.base import Bus, BusFull, Message
from mamori.bus.factory import open_bus
from mamori.bus.subjects import events_subject
from mamori.config import SECRET_FILE, Settings
from mamori.errors import ConfigError, NotFoundError
from mamori.hooks import AuditRecorded
from mamori.model import Event
from mamori.scan.base import ScanOptions
from mamori.scan.engine import ScanEngine
from mamori.scan.policy import PolicySet
from mamori.scan.quarantine import QuarantineStore
from mamori.store.db import Database
from mamori.store.repos import audit, tenants

if TYPE_CHECKING:
    from mamori.cli.runtime import BackgroundService, ServiceContext

log = logging.getLogger(__name__)

SCAN_SOURCE = "scan"
FULL_RETRY_SECONDS = 30.0


def verdict_message(event: Event) -> Message:
    """The bus message of a verdict event: ``mamori.events.<tenant>.scan``, id = event id."""
    return Message(events_subject(event.tenant, SCAN_SOURCE), event.to_json().encode(), event.id)


class LoopVerdictPublisher:
    """``on_event`` for gateways whose worker threads run beside ``loop`` (owning ``bus``).

    Called from a worker thread it waits until the bus stored the event (retrying while
    the bus is full, up to ``full_timeout`` seconds). Called on the loop itself it cannot
    wait, so it schedules the publish and logs a failure.
    """

    def __init__(
        self,
        bus: Bus,
        loop: asyncio.AbstractEventLoop,
        *,
        timeout: float = 30.0,
        full_timeout: float = FULL_RETRY_SECONDS,
    ) -> None:
        self.bus = bus
        self.loop = loop
        self.timeout = timeout
        self.full_timeout = full_timeout
        self.published = 0

    async def _publish(self, message: Message) -> None:
        deadline = time.monotonic() + self.full_timeout
        while True:
            try:
                await self.bus.publish(message.subject, message.data, msg_id=message.msg_id)
            except BusFull as exc:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(min(exc.retry_after, 1.0))
            else:
                self.published += 1
                return

    def __call__(self, event: Event) -> None:
        message = verdict_message(event)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            task = self.loop.create_task(self._publish(message))
            task.add_done_callback(_log_failure)
            return
        asyncio.run_coroutine_threadsafe(self._publish(message), self.loop).result(
            self.timeout + self.full_timeout
        )


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("publishing a verdict event failed: %s", task.exception())


class BusVerdictSink:
    """Verdict events onto the bus for a synchronous caller (``mamori scan``).

    Opens the bus the settings name on a private event-loop thread; ``event`` buffers,
    ``flush``/``close`` publish and wait until stored.
    """

    def __init__(self, settings: Settings, *, batch: int = 200) -> None:
        self.batch = batch
        self.published = 0
        self._buffer: list[Message] = []
        self._lock = threading.RLock()
        self._bus = open_bus(
            settings.bus_url, data_dir=settings.data_dir, max_bytes=settings.bus_max_bytes
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="mamori-scan-bus"
        )
        self._thread.start()
        try:
            self._call(self._bus.start())
        except BaseException:
            self._stop_loop()
            raise

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def event(self, event: Event) -> None:
        """Buffer one event (thread-safe); publishes when ``batch`` are waiting."""
        with self._lock:
            self._buffer.append(verdict_message(event))
            if len(self._buffer) >= self.batch:
                self.flush()

    __call__ = event

    def flush(self) -> None:
        """Publish what is buffered and wait until the bus stored it.

        Raises:
            BusFull: the bus stayed full for ``FULL_RETRY_SECONDS`` (events kept buffered).
        """
        with self._lock:
            if not self._buffer:
                return
            batch, self._buffer = self._buffer, []
            deadline = time.monotonic() + FULL_RETRY_SECONDS
            while True:
                try:
                    self._call(self._bus.publish_many(batch))
                    break
                except BusFull:
                    if time.monotonic() > deadline:
                        self._buffer = batch + self._buffer
                        raise
                    time.sleep(0.5)
            self.published += len(batch)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            try:
                self._call(self._bus.close())
            finally:
                self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


class StoreAuditSink:
    """Quarantine audit records into the foundation audit log (one transaction each).

    The target is ``quarantine:<id>``; the tenant slug becomes the tenant id (an unknown
    slug is kept in the detail, with no tenant id).
    """

    def __init__(self, db: Database, *, default_actor: str = "mamori") -> None:
        self.db = db
        self.default_actor = default_actor
        self._tenant_ids: dict[str, int | None] = {}
        self._lock = threading.Lock()

    def tenant_id(self, slug: str | None) -> int | None:
        if not slug:
            return None
        with self._lock:
            if slug in self._tenant_ids:
                return self._tenant_ids[slug]
        with self.db.session() as session:
            try:
                found: int | None = tenants.get_tenant_by_slug(session, slug=slug).id
            except NotFoundError:
                found = None
        with self._lock:
            self._tenant_ids[slug] = found
        return found

    def __call__(self, record: AuditRecorded) -> None:
        detail = dict(record.detail)
        if record.tenant:
            detail.setdefault("tenant", record.tenant)
        tenant_id = self.tenant_id(record.tenant)
        with self.db.session() as session:
            audit.record(
                session,
                action=record.action,
                actor=record.actor or self.default_actor,
                tenant_id=tenant_id,
                target=f"quarantine:{detail.get('id', '')}",
                detail=detail,
            )


def has_database(settings: Settings) -> bool:
    """True when a database is configured or the data dir was set up by ``mamori up``."""
    if settings.database_url:
        return True
    return (settings.data_dir / "mamori.db").exists()


def is_configured(settings: Settings) -> bool:
    """A data directory that ``mamori up`` (or ``db upgrade``) initialised, or a NATS bus."""
    if settings.bus_url not in ("", "embedded"):
        return True
    return (settings.data_dir / SECRET_FILE).exists() or has_database(settings)


def scan_options(settings: Settings) -> ScanOptions:
    """The scanning core the settings describe (bundled rules plus user folders, clamd)."""
    return ScanOptions(
        yara_rule_dirs=tuple(settings.scan_rule_dirs),
        clamd=settings.scan_clamd or None,
        hash_files=tuple(settings.scan_hash_files),
    )


def build_engine(settings: Settings) -> ScanEngine:
    """Raises:
    RuleError: user rules that do not compile. ConfigError: bad hash files or policies.
    """
    policy_dir = settings.scan_policy_dir
    if policy_dir is not None and not Path(policy_dir).is_dir():
        raise ConfigError(f"scan policy folder {policy_dir} does not exist")
    engine = ScanEngine.from_options(scan_options(settings), PolicySet(policy_dir))
    engine.policies.for_tenant(None)  # a broken default policy fails at start
    return engine


def _address(value: str, default_port: int) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, default_port
    if not port.isdigit():
        raise ConfigError(f"invalid address {value!r} (expected host:port)")
    return host.strip("[]") or "127.0.0.1", int(port)


class GatewayService:
    """A gateway (mail filter or ICAP server) as a :class:`BackgroundService`.

    ``build(engine, on_event, audit)`` makes the gateway when the service starts, on the
    running loop, so verdicts can be published through the process's bus.
    """

    def __init__(
        self,
        name: str,
        ctx: ServiceContext,
        build: Callable[[ScanEngine, Callable[[Event], None] | None, StoreAuditSink], Any],
    ) -> None:
        self.name = name
        self.ctx = ctx
        self._build = build
        self.gateway: Any = None
        self.engine: ScanEngine | None = None
        self.publisher: LoopVerdictPublisher | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.engine = await asyncio.to_thread(build_engine, self.ctx.settings)
        if self.ctx.bus is not None:
            self.publisher = LoopVerdictPublisher(self.ctx.bus, loop)
        else:
            log.warning("%s: no bus, verdict events are not published", self.name)
        self.gateway = self._build(
            self.engine, self.publisher, StoreAuditSink(self.ctx.db, default_actor=self.name)
        )
        try:
            await self.gateway.start()
        except OSError as exc:
            self.engine.close()
            raise ConfigError(f"{self.name} cannot listen: {exc.strerror or exc}") from exc
        log.info("%s started on port %s", self.name, self.gateway.port)

    async def stop(self) -> None:
        if self.gateway is not None:
            await self.gateway.stop()
        if self.engine is not None:
            self.engine.close()

    @property
    def port(self) -> int:
        return int(self.gateway.port) if self.gateway is not None else 0


def make_mail_filter(ctx: ServiceContext) -> BackgroundService | None:
    """The SMTP content filter, when ``scan_mail_enabled`` (``mamori up`` only)."""
    settings = ctx.settings
    if ctx.role != "up" or not settings.scan_mail_enabled:
        return None
    from mamori.scan.mail.gateway import MailGateway, MailGatewayConfig
    from mamori.scan.mail.relay import NextHop

    hop_host, hop_port = _address(settings.scan_mail_next_hop, 25)
    hostname = settings.scan_mail_hostname or socket.getfqdn()
    config = MailGatewayConfig(
        host=settings.scan_mail_host,
        port=settings.scan_mail_port,
        next_hop=NextHop(host=hop_host, port=hop_port, helo=hostname),
        hostname=hostname,
        tenant=settings.scan_mail_tenant or None,
        tenant_domains=tuple(sorted(settings.scan_mail_tenant_domains.items())),
        max_message_bytes=settings.scan_mail_max_bytes,
        max_recipients=settings.scan_mail_max_recipients,
        max_connections=settings.scan_mail_max_connections,
        tls_cert=settings.scan_mail_tls_cert,
        tls_key=settings.scan_mail_tls_key,
        require_starttls=settings.scan_mail_require_starttls,
        admin_addresses=tuple(settings.scan_mail_admins),
    )
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ConfigError("scan_mail_tls_cert and scan_mail_tls_key go together")

    def build(
        engine: ScanEngine, on_event: Callable[[Event], None] | None, sink: StoreAuditSink
    ) -> MailGateway:
        return MailGateway.from_settings(settings, engine, config, on_event=on_event, audit=sink)

    return GatewayService("mail-filter", ctx, build)


def make_icap_server(ctx: ServiceContext) -> BackgroundService | None:
    """The ICAP server for Squid, when ``scan_icap_enabled`` (``mamori up`` only)."""
    settings = ctx.settings
    if ctx.role != "up" or not settings.scan_icap_enabled:
        return None
    from mamori.scan.web.icap import IcapConfig, IcapServer

    config = IcapConfig(
        host=settings.scan_icap_host,
        port=settings.scan_icap_port,
        tenant=settings.scan_icap_tenant or None,
        on_error=settings.scan_icap_on_error,  # type: ignore[arg-type]
        max_connections=settings.scan_icap_max_connections,
        buffer_bytes=settings.scan_icap_buffer_bytes,
        stall_timeout=settings.scan_icap_stall_seconds,
    )

    def build(
        engine: ScanEngine, on_event: Callable[[Event], None] | None, sink: StoreAuditSink
    ) -> IcapServer:
        store = QuarantineStore.from_settings(settings, audit=sink)
        return IcapServer(engine, config, on_event=on_event, quarantine=store)

    return GatewayService("icap", ctx, build)


@contextmanager
def quarantine_store(settings: Settings, *, actor: str = "cli") -> Iterator[QuarantineStore]:
    """The quarantine store of ``settings``; its audit goes to the database when there is
    one (see :func:`has_database`), else to ``quarantine-audit.jsonl`` in the data dir.

    Raises:
        MamoriError: the database cannot be opened.
    """
    if has_database(settings):
        from mamori.cli.core import open_database

        db = open_database(settings)
        try:
            yield QuarantineStore.from_settings(
                settings, audit=StoreAuditSink(db, default_actor=actor)
            )
        finally:
            db.dispose()
        return
    from mamori.cli.scan import JsonLines

    sink = JsonLines(settings.ensure_data_dir() / "quarantine-audit.jsonl")
    yield QuarantineStore.from_settings(settings, audit=sink.audit)


__all__ = [
    "BusVerdictSink",
    "GatewayService",
    "LoopVerdictPublisher",
    "StoreAuditSink",
    "build_engine",
    "has_database",
    "is_configured",
    "make_icap_server",
    "make_mail_filter",
    "quarantine_store",
    "scan_options",
    "verdict_message",
]
