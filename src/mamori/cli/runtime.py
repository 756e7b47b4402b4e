"""What ``mamori up`` runs: the web server and the background services, in one process.

A background service (syslog listener, SMTP filter, ICAP server, ...) implements the small
:class:`BackgroundService` protocol; :func:`default_services` is the one list that says
which ones run. Adding a service is one entry there.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import secrets
import signal
import socket
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import uvicorn

from mamori.bus import subjects
from mamori.bus.base import Bus
from mamori.bus.factory import open_bus
from mamori.cli.wiring import ingest as ingest_wiring
from mamori.cli.wiring import respond as _respond
from mamori.cli.wiring import scan as scan_wiring
from mamori.cli.wiring.detect import make_detect
from mamori.cli.wiring.ingest import STORE_DURABLE, STORE_QUARANTINE_DURABLE
from mamori.cli.wiring.respond import DURABLE as RESPOND_DURABLE
from mamori.config import Settings
from mamori.detect.stream import DETECT_DURABLE
from mamori.errors import ConfigError
from mamori.ingest.pipeline import RAW_DURABLE
from mamori.store.db import Database
from mamori.store.passwords import check_password_policy, make_hasher
from mamori.store.repos import audit, users
from mamori.store.tables import Role

log = logging.getLogger(__name__)


@runtime_checkable
class BackgroundService(Protocol):
    """Something long-running next to the web server.

    ``start`` returns once the service is ready (listening); it raises
    :class:`~mamori.errors.MamoriError` with a one-line reason if it cannot start.
    ``stop`` ends it cleanly and is called once, in reverse start order.
    """

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ProcessRole = Literal["up", "worker"]


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """What a background service may use: settings, database and the shared bus.

    ``role`` is ``"up"`` for the all-in-one process and ``"worker"`` for ``mamori worker``
    (bus consumers only): a factory of a network listener returns ``None`` for workers.
    """

    settings: Settings
    db: Database
    bus: Bus | None = None
    role: ProcessRole = "up"


ServiceFactory = Callable[[ServiceContext], BackgroundService | None]

#: How ``mamori up`` builds its background services, in start order. A factory returns
#: ``None`` when its service is switched off in the settings. Later areas add one line each.
SERVICE_FACTORIES: list[ServiceFactory] = [
    scan_wiring.make_mail_filter,
    scan_wiring.make_icap_server,
    make_detect,
    _respond.make_respond,
    ingest_wiring.make_parse_consumer,
    ingest_wiring.make_store_consumer,
    ingest_wiring.make_syslog_listener,
    ingest_wiring.make_retention_job,
]


def default_services(
    settings: Settings, *, db: Database, bus: Bus | None = None, role: ProcessRole = "up"
) -> list[BackgroundService]:
    """Every background service ``mamori up`` (or ``mamori worker``) starts."""
    context = ServiceContext(settings=settings, db=db, bus=bus, role=role)
    built = (factory(context) for factory in SERVICE_FACTORIES)
    return [service for service in built if service is not None]


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the listening socket now, so a busy port fails before anything else starts.

    Raises:
        ConfigError: the address is in use or cannot be bound.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot resolve listen address {host!r}: {exc.strerror}") from exc
    family, socktype, proto, _canon, address = infos[0]
    sock = socket.socket(family, socktype, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use") from exc
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock


def ensure_admin(settings: Settings, db: Database) -> str | None:
    """Create the first administrator when there are no users yet.

    Returns the generated password (to be shown once), or ``None`` when an admin already
    existed or the password came from ``MAMORI_ADMIN_PASSWORD``.

    Raises:
        ValidationError: ``MAMORI_ADMIN_PASSWORD`` breaks the password policy.
    """
    with db.session() as session:
        if users.count_users(session) > 0:
            return None
        generated = None
        password = settings.admin_password
        if password:
            check_password_policy(password)
        else:
            password = generated = secrets.token_urlsafe(15)
        user = users.create_user(
            session,
            username=settings.admin_username,
            password=password,
            role=Role.ADMIN,
            hasher=make_hasher(settings),
            language=settings.default_language,
        )
        audit.record(
            session,
            action="user.bootstrap_admin",
            actor="system",
            target=f"user:{user.id}",
            detail={"username": user.username, "generated_password": generated is not None},
        )
    return generated


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling; :func:`serve` owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve(
    settings: Settings,
    *,
    db: Database,
    sock: socket.socket,
    services: list[BackgroundService] | None = None,
    log_level: str = "info",
) -> None:
    """Run the web app and the background services until SIGINT/SIGTERM."""
    from mamori.web.app import create_app

    app = create_app(settings, db=db)
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="on",
        proxy_headers=settings.behind_tls,
        server_header=False,
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()

    def _exit(sig: signal.Signals) -> None:
        if server.should_exit and sig == signal.SIGINT:
            server.force_exit = True
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _exit, sig)
    bus = await start_bus(settings)
    app.state.bus = bus
    try:
        if services is None:
            services = default_services(settings, db=db, bus=bus)
        async with _running(services):
            await server.serve(sockets=[sock])
    finally:
        await bus.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


#: Every durable consumer of the pipeline and its subject filter. A JetStream server keeps a
#: message only for consumers that exist when it is published, so they are declared when the
#: bus starts, before any collector publishes (the embedded spool keeps everything anyway).
PIPELINE_CONSUMERS: dict[str, str] = {
    RAW_DURABLE: subjects.RAW_ALL,
    STORE_DURABLE: subjects.EVENTS_ALL,
    STORE_QUARANTINE_DURABLE: subjects.QUARANTINE_ALL,
    DETECT_DURABLE: subjects.EVENTS_ALL,
    RESPOND_DURABLE: subjects.ALERTS_ALL,
}


async def start_bus(settings: Settings) -> Bus:
    """Open and start the bus the settings name (embedded spool by default).

    Raises:
        MamoriError: the bus cannot be opened (bad URL, unreachable server, bad spool).
    """
    bus = open_bus(
        settings.bus_url,
        data_dir=settings.data_dir,
        max_bytes=settings.bus_max_bytes,
        consumers=PIPELINE_CONSUMERS,
    )
    await bus.start()
    return bus


@contextlib.asynccontextmanager
async def _running(services: list[BackgroundService]) -> AsyncIterator[None]:
    """Start services in order; stop the started ones in reverse, whatever happens."""
    started: list[BackgroundService] = []
    try:
        for service in services:
            await service.start()
            started.append(service)
        yield
    finally:
        for service in reversed(started):
            try:
                await service.stop()
            except Exception:  # one failing stop must not keep the others running
                log.exception("stopping %s failed", service.name)


async def work(
    settings: Settings,
    *,
    db: Database,
    services: list[BackgroundService] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """``mamori worker``: run the bus consumers (no web, no listeners) until a signal."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bus = await start_bus(settings)
    try:
        if services is None:
            services = default_services(settings, db=db, bus=bus, role="worker")
        async with _running(services):
            if on_ready is not None:
                on_ready()
            await stop.wait()
    finally:
        await bus.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


__all__ = [
    "BackgroundService",
    "SERVICE_FACTORIES",
    "ServiceContext",
    "ServiceFactory",
    "bind_socket",
    "default_services",
    "ensure_admin",
    "serve",
    "start_bus",
    "work",
]
