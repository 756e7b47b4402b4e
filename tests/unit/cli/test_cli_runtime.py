from __future__ import annotations

import asyncio
import os
import signal
import socket

import httpx
import pytest

from mamori.cli import runtime
from mamori.cli.runtime import BackgroundService, bind_socket, default_services, ensure_admin
from mamori.errors import ConfigError, ValidationError
from mamori.store.passwords import make_hasher
from mamori.store.repos import audit, users


def test_ensure_admin_creates_once_and_reports_generated_password(db, settings):
    password = ensure_admin(settings, db)
    assert password and len(password) >= 16
    assert ensure_admin(settings, db) is None
    with db.session() as s:
        admin = users.get_user_by_username(s, username="admin")
        assert admin.role == "admin"
        assert password not in admin.password_hash
        entry = audit.list_entries(s)[0]
        assert entry.action == "user.bootstrap_admin" and password not in str(entry.detail)


def test_ensure_admin_takes_the_password_from_settings(db, settings):
    settings.admin_password = "from-the-environment-1"
    assert ensure_admin(settings, db) is None
    with db.session() as s:
        assert users.authenticate(
            s,
            username="admin",
            password="from-the-environment-1",
            hasher=make_hasher(settings),
            max_failures=3,
            lock_minutes=1,
        ).ok


def test_ensure_admin_refuses_a_weak_configured_password(db, settings):
    settings.admin_password = "weak"
    with pytest.raises(ValidationError):
        ensure_admin(settings, db)


def test_bind_socket_reports_busy_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1 is already in use"):
            bind_socket("127.0.0.1", port)


def test_default_services_come_from_the_factory_list(db, settings, monkeypatch):
    made = []

    class Dummy:
        name = "dummy"

        async def start(self) -> None: ...

        async def stop(self) -> None: ...

    def factory(context):
        made.append(context)
        return Dummy()

    monkeypatch.setattr(runtime, "SERVICE_FACTORIES", [factory, lambda _ctx: None])
    services = default_services(settings, db=db)
    assert len(services) == 1 and isinstance(services[0], BackgroundService)
    assert made[0].settings is settings and made[0].db is db


async def test_serve_runs_services_and_stops_them_on_sigterm(db, settings):
    events: list[str] = []

    class Recorder:
        name = "recorder"

        def __init__(self, tag: str) -> None:
            self.tag = tag

        async def start(self) -> None:
            events.append(f"start {self.tag}")

        async def stop(self) -> None:
            events.append(f"stop {self.tag}")

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    task = asyncio.create_task(
        runtime.serve(
            settings,
            db=db,
            sock=sock,
            services=[Recorder("a"), Recorder("b")],
            log_level="warning",
        )
    )
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("server did not start")
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, timeout=20)
    sock.close()
    assert events == ["start a", "start b", "stop b", "stop a"]


def test_services_receive_the_bus_and_role(db, settings, monkeypatch):
    from mamori.cli import runtime

    seen = []

    def factory(context):
        seen.append((context.bus, context.role))
        return None

    monkeypatch.setattr(runtime, "SERVICE_FACTORIES", [factory])
    sentinel = object()
    assert default_services(settings, db=db, bus=sentinel, role="worker") == []
    assert seen == [(sentinel, "worker")]
