"""The host inventory in SQL (SQLite and PostgreSQL), through the running services and the
web app; alerts for unknown tenants kept and shown to administrators."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from foundation_db import login
from mamori.cli.wiring.respond import build_respond
from mamori.errors import NotFoundError, ValidationError
from mamori.respond.commands import CommandKind, EndpointCommand
from mamori.respond.incidents import UNKNOWN_HOST_TAG
from mamori.respond.testing import T0, make_alert
from mamori.store.db import Database
from mamori.store.repos import tenants
from mamori.store.repos.respond import RespondStore
from mamori.store.repos.respond_hosts import SqlHostInventory
from mamori.store.types import utcnow


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.db)])
def host_db(request, tmp_path):
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'h.db'}")
    else:
        database = Database(request.getfixturevalue("postgres_url"))
    database.upgrade()
    with database.session() as s:
        tenants.create_tenant(s, slug="acme", name="アクメ")
        tenants.create_tenant(s, slug="beta", name="ベータ")
    try:
        yield database
    finally:
        database.dispose()


def test_sql_inventory(host_db):
    inv = SqlHostInventory(host_db)
    assert inv.seen("acme", "PC-01", T0) is False
    assert inv.seen("acme", "pc-01", T0 + timedelta(hours=2)) is True
    assert inv.knows("acme", "PC-01") and not inv.knows("acme", "pc-02")
    assert inv.seen("acme", "pc-01", T0 - timedelta(hours=1), "inc-1") is True
    assert inv.seen("beta", "pc-01", T0) is False
    manual = inv.register("acme", "SRV-01", T0)
    assert manual.source == "manual" and manual.host == "srv-01"
    assert inv.register("acme", "srv-01", T0 + timedelta(days=1)).first_seen == T0
    rows = inv.list(tenant="acme")
    assert [(r.host, r.alert_count, r.source) for r in rows] == [
        ("pc-01", 3, "alert"),
        ("srv-01", 0, "manual"),
    ]
    assert rows[0].first_seen == T0 - timedelta(hours=1)
    assert rows[0].last_seen == T0 + timedelta(hours=2)
    assert rows[0].last_incident_id == "inc-1"
    assert len(inv.list()) == 3
    with pytest.raises(ValidationError):
        inv.register("acme", "bad host", T0)
    with pytest.raises(NotFoundError):
        inv.seen("nobody", "pc-01", T0)


def test_concurrent_first_sightings_make_one_row(host_db):
    workers = [
        SqlHostInventory(Database(str(host_db.engine.url.render_as_string(False))))
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    answers: list[bool] = []
    errors: list[BaseException] = []

    def run(inv: SqlHostInventory) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(20):
                answers.append(inv.seen("acme", f"pc-{i:02d}", T0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for w in workers:
        w.db.dispose()
    assert not errors, errors
    rows = SqlHostInventory(host_db).list(tenant="acme")
    assert len(rows) == 20 and all(r.alert_count == 2 for r in rows)
    assert answers.count(False) == 20  # each host was new exactly once


@pytest.fixture
def live(settings, db, world):
    del world
    respond = build_respond(settings, db, background=False)
    try:
        yield respond
    finally:
        respond.close()


def test_running_intake_keeps_the_inventory_and_flags_unknown_hosts(live):
    store = RespondStore(live.intake.alerts.db)
    live.intake.inventory.register("tenant-a", "pc-known", utcnow())
    known = live.intake.submit(make_alert("r-1", tenant="tenant-a", host="pc-known", ts=utcnow()))
    new = live.intake.submit(
        make_alert(
            "r-9", tenant="tenant-a", host="ghost-01", ts=utcnow(), event={"User": "ACME\\x"}
        )
    )
    assert store.alerts.get(new.alert_id).unknown_host
    assert not store.alerts.get(known.alert_id).unknown_host
    inc = store.incidents.get(new.incident_id)
    assert UNKNOWN_HOST_TAG in inc.tags
    assert any("未登録のホスト ghost-01" in e.summary for e in inc.timeline)
    hosts = {h.host: h for h in live.intake.inventory.list(tenant="tenant-a")}
    assert hosts["ghost-01"].last_incident_id == new.incident_id
    assert hosts["pc-known"].alert_count == 1
    # an unknown tenant: kept with the reason, not dropped
    rejected = live.intake.submit(make_alert(tenant="no-such-tenant"))
    assert rejected.status == "rejected"
    assert [r.reason for r in store.alerts.rejected()] == ["unknown tenant 'no-such-tenant'"]


def _h(client, who: str) -> dict[str, str]:
    client.cookies.clear()
    return {"X-CSRF-Token": login(client, who)}


def test_hosts_api_page_isolation_state_and_tenant_scope(client, world, db):
    store = RespondStore(db)
    inv = SqlHostInventory(db)
    inv.seen("tenant-a", "pc-a1", T0)
    inv.seen("tenant-a", "pc-a2", T0)
    inv.seen(world.tenant_b.slug, "zzbmarker-pc", T0)
    cmd = EndpointCommand.new(
        tenant="tenant-a",
        host="pc-a1",
        kind=CommandKind.ISOLATE_HOST,
        args={},
        created_by="sato",
        now=utcnow(),
    )
    store.commands.enqueue(cmd)
    h = _h(client, "cadmin-a")
    rows = client.get("/api/v1/hosts", headers=h).json()
    assert [(r["host"], r["isolation"]) for r in rows] == [
        ("pc-a1", "isolation_pending"),
        ("pc-a2", "not_isolated"),
    ]
    store.commands.pending("tenant-a", "pc-a1", utcnow())
    store.commands.complete(cmd.id, ok=True, result={}, now=utcnow())
    rows = client.get("/api/v1/hosts", headers=h).json()
    assert rows[0]["isolation"] == "isolated" and rows[0]["isolation_ja"] == "隔離中"
    page = client.get("/respond/hosts")
    assert page.status_code == 200 and "端末台帳" in page.text and "隔離中" in page.text
    assert "zzbmarker" not in page.text
    # register by hand; bad names are refused; tenant B is out of reach
    made = client.post("/api/v1/hosts", json={"host": "NEW-PC"}, headers=h)
    assert made.status_code == 201 and made.json()["host"] == "new-pc"
    assert client.post("/api/v1/hosts", json={"host": "a b"}, headers=h).status_code == 422
    refused = client.post(
        "/api/v1/hosts", json={"tenant": world.tenant_b.slug, "host": "x"}, headers=h
    )
    assert refused.status_code == 404
    assert client.get(f"/api/v1/hosts?tenant={world.tenant_b.slug}", headers=h).status_code == 404
    form = client.post("/respond/hosts", data={"csrf_token": h["X-CSRF-Token"], "host": "pc-f"})
    assert form.status_code == 303
    assert "pc-f" in {r["host"] for r in client.get("/api/v1/hosts", headers=h).json()}
    hv = _h(client, "viewer-a")
    assert client.post("/api/v1/hosts", json={"host": "v"}, headers=hv).status_code == 403
    hb = _h(client, "cadmin-zzbmarker")
    assert [r["host"] for r in client.get("/api/v1/hosts", headers=hb).json()] == ["zzbmarker-pc"]
    assert client.get("/api/v1/rejected-alerts", headers=hb).status_code == 403


def test_incident_page_flags_the_unknown_host(client, world, db):
    from mamori.respond.intake import AlertIntake

    store = RespondStore(db)
    intake = AlertIntake(
        alerts=store.alerts,
        incidents=store.incidents,
        directory=store.directory,
        inventory=SqlHostInventory(db),
    )
    result = intake.submit(make_alert(tenant="tenant-a", host="stray-pc", ts=utcnow()))
    _h(client, "cadmin-a")
    page = client.get(f"/incidents/{result.incident_id}")
    assert page.status_code == 200
    assert "端末台帳にないホストからのアラートを含みます" in page.text
    assert "未登録ホスト" in page.text
    detail = client.get(f"/api/v1/incidents/{result.incident_id}").json()
    assert UNKNOWN_HOST_TAG in detail["incident"]["tags"]
    assert detail["alerts"][0]["unknown_host"] is True


def test_rejected_alerts_are_shown_to_administrators_only(client, world, db):
    store = RespondStore(db)
    from mamori.respond.intake import AlertIntake

    intake = AlertIntake(alerts=store.alerts, incidents=store.incidents, directory=store.directory)
    intake.submit(make_alert(tenant="ghost-tenant"))
    intake.submit_dict({"rule_id": "x", "tenant": "tenant-a", "@timestamp": "yesterday"})
    h = _h(client, "root")
    rows = client.get("/api/v1/rejected-alerts", headers=h).json()
    assert any("unknown tenant 'ghost-tenant'" in r["reason"] for r in rows)
    assert any(r["reason"].startswith("malformed alert") for r in rows)
    page = client.get("/respond/hosts")
    assert "ghost-tenant" in page.text and "受け付けなかったアラート" in page.text
    for who in ("op-a", "cadmin-a"):
        hx = _h(client, who)
        assert client.get("/api/v1/rejected-alerts", headers=hx).status_code == 403
        assert "ghost-tenant" not in client.get("/respond/hosts").text
