"""The response area in the running product: alerts on the bus -> incidents in SQL -> mail."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mamori.bus.embedded import EmbeddedBus
from mamori.bus.subjects import alerts_subject
from mamori.cli.runtime import ServiceContext, default_services
from mamori.cli.wiring.respond import RespondService, build_respond, make_respond, soc_notifiers
from mamori.errors import ConfigError
from mamori.respond.testing import make_alert
from mamori.store.repos import audit
from mamori.store.repos.respond import RespondStore
from tests.foundation_db import make_settings


async def _until(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def _alert(level: str = "critical", **kw: Any) -> bytes:
    alert = make_alert(tenant="tenant-a", level=level, **kw)
    return json.dumps(alert.to_dict()).encode()


async def test_alerts_on_the_bus_become_incidents_with_mail_and_audit(
    tmp_path, settings, db, world, smtp_sink
):
    del world
    settings = settings.model_copy(
        update={
            "respond_smtp_host": smtp_sink.host,
            "respond_smtp_port": smtp_sink.port,
            "respond_soc_emails": "soc@mssp.example",
            "respond_notify_backoff": "0.01",
        }
    )
    bus = EmbeddedBus(tmp_path / "spool", fsync="never")
    await bus.start()
    respond = build_respond(settings, db)
    results: list[Any] = []
    service = RespondService(
        respond=respond,
        bus=bus,
        tick_seconds=0.2,
        seen_path=tmp_path / "seen",
        on_result=results.append,
    )
    await service.start()
    try:
        subject = alerts_subject("tenant-a")
        await bus.publish(subject, _alert(), msg_id="m1")
        await bus.publish(subject, _alert(), msg_id="m2")  # a duplicate alert: folded
        await bus.publish(subject, _alert(), msg_id="m1")  # a replay: ignored
        await bus.publish(subject, b"{not json", msg_id="m3")
        stranger = json.dumps(make_alert(tenant="nobody").to_dict()).encode()
        await bus.publish(alerts_subject("nobody"), stranger, msg_id="m4")
        await _until(lambda: len(results) == 4)
        await _until(lambda: len(smtp_sink.messages) >= 1)
    finally:
        await service.stop()
        await bus.close()
    store = RespondStore(db)
    (incident,) = store.incidents.list(tenant="tenant-a")
    (record,) = store.alerts.list()
    assert record.count == 2 and record.incident_id == incident.id
    reasons = [r.reason for r in store.alerts.rejected()]
    assert any("malformed" in r for r in reasons) and any("nobody" in r for r in reasons)
    assert smtp_sink.messages[0]["To"] == "soc@mssp.example"
    assert smtp_sink.messages[0]["X-Mamori-Incident"] == incident.id
    with db.session() as s:
        actions = [e.action for e in audit.list_entries(s, action_prefix="incident.")]
        assert audit.verify(s).ok
    assert "incident.opened" in actions
    assert (await asyncio.to_thread(lambda: store.deliveries.list(incident_id=incident.id)))[
        0
    ].status == "delivered"


async def test_service_factory_runs_in_both_roles_and_can_be_switched_off(tmp_path, settings, db):
    bus = EmbeddedBus(tmp_path / "spool", fsync="never")
    for role in ("up", "worker"):
        ctx = ServiceContext(settings=settings, db=db, bus=bus, role=role)
        service = make_respond(ctx)
        assert isinstance(service, RespondService)
        service.respond.close()
    assert make_respond(ServiceContext(settings=settings, db=db, bus=None)) is None
    off = settings.model_copy(update={"respond_enabled": False})
    assert all(s.name != "respond" for s in default_services(off, db=db, bus=bus))


def test_notifications_are_off_by_default_and_webhooks_need_a_secret(tmp_path):
    plain = make_settings(tmp_path, "sqlite://")
    assert soc_notifiers(plain) == []
    bad = plain.model_copy(update={"respond_webhook_urls": "http://127.0.0.1:9/hook"})
    with pytest.raises(ConfigError):
        soc_notifiers(bad)
    good = bad.model_copy(
        update={"respond_webhook_secret": "k", "respond_chat_webhook_url": "http://127.0.0.1:9/c"}
    )
    assert [n.NAME for n in soc_notifiers(good)] == ["webhook", "chat"]


def test_a_restarted_process_keeps_folding_and_grouping(settings, db, world):
    del world
    now = datetime.now(UTC)
    first = build_respond(settings, db, background=False)
    opened = first.intake.submit(make_alert(tenant="tenant-a", ts=now))
    first.close()
    second = build_respond(settings, db, background=False)
    try:
        again = second.intake.submit(make_alert(tenant="tenant-a", ts=now + timedelta(seconds=5)))
        assert again.status == "duplicate" and again.alert_id == opened.alert_id
        other = second.intake.submit(make_alert("r-2", tenant="tenant-a", ts=now))
        assert other.status == "grouped" and other.incident_id == opened.incident_id
    finally:
        second.close()
    store = RespondStore(db)
    assert store.alerts.get(opened.alert_id).count == 2
    with db.session() as s:
        actions = [e.action for e in audit.list_entries(s, action_prefix="incident.")]
    assert {"incident.alert", "incident.opened"} <= set(actions)


def test_oncall_rota_and_sla_files_from_the_settings(tmp_path, settings, db, world):
    del world
    rota = tmp_path / "rota.yaml"
    rota.write_text(
        "analysts: [sato, suzuki]\ncontacts: {sato: sato@mssp.example, suzuki: s@mssp.example}\n",
        encoding="utf-8",
    )
    sla = tmp_path / "sla.yaml"
    sla.write_text("tenants:\n  - {tenant: tenant-a, ack: {critical: 15m}}\n", encoding="utf-8")
    configured = settings.model_copy(
        update={
            "respond_oncall_file": rota,
            "respond_sla_file": sla,
            "respond_smtp_host": "127.0.0.1",
        }
    )
    respond = build_respond(configured, db, background=False)
    try:
        assert respond.pager is not None
        assert set(respond.analyst_channels) == {"sato", "suzuki"}
        assert [n.target for n in respond.analyst_channels["sato"]] == [
            "smtp://127.0.0.1:25 → sato@mssp.example"
        ]
        assert set(respond.contracts) == {"tenant-a"}
    finally:
        respond.close()
    rota.write_text("- not a mapping\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        build_respond(configured, db, background=False)
    bad = settings.model_copy(update={"respond_notify_backoff": "1,soon"})
    with pytest.raises(ConfigError):
        build_respond(bad, db, background=False)
