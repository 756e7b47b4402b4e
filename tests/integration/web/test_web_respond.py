"""Incidents, alerts, metrics, reports and the agent command queue over the web app."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from foundation_db import login
from mamori.respond.commands import CommandKind, CommandStatus, EndpointCommand
from mamori.respond.intake import AlertIntake
from mamori.respond.testing import T0, make_alert
from mamori.store.repos.respond import RespondStore
from mamori.store.types import utcnow
from tests.integration.web.respond_fixtures import tenant_b_command


@pytest.fixture
def store(db, world):
    del world
    return RespondStore(db)


@pytest.fixture
def incident_a(store):
    intake = AlertIntake(alerts=store.alerts, incidents=store.incidents, directory=store.directory)
    now = utcnow()
    first = intake.submit(make_alert("r-1", tenant="tenant-a", level="critical", ts=now))
    intake.submit(make_alert("r-1", tenant="tenant-a", level="critical", ts=now))  # folded
    intake.submit(
        make_alert(
            "r-2", tenant="tenant-a", level="high", ts=now, event={"DestinationIp": "203.0.113.9"}
        )
    )
    return first.incident_id


def _api(client, who, world):
    """Headers for a user (session + CSRF) or an API key (``key:<name>``)."""
    if who.startswith("key:"):
        client.cookies.clear()
        return {"Authorization": f"Bearer {world.token(who[4:])}"}
    return {"X-CSRF-Token": login(client, who)}


def test_incident_list_detail_and_tenant_isolation(client, world, incident_a):
    h = _api(client, "op-a", world)
    rows = client.get("/api/v1/incidents", headers=h).json()
    assert [r["id"] for r in rows] == [incident_a]
    assert rows[0]["severity"] == "critical" and rows[0]["status"] == "new"
    detail = client.get(f"/api/v1/incidents/{incident_a}", headers=h).json()
    assert detail["incident"]["alert_count"] == 2
    assert sorted(a["count"] for a in detail["alerts"]) == [1, 2]
    assert client.get("/api/v1/incidents?status=resolved", headers=h).json() == []
    assert client.get("/api/v1/incidents?severity=critical", headers=h).json()[0]["id"]
    for who in ("viewer-a", "cadmin-a", "key:a-api"):
        h = _api(client, who, world)
        assert client.get(f"/api/v1/incidents/{incident_a}", headers=h).status_code == 200
    for who in ("cadmin-zzbmarker", "viewer-zzbmarker", "op-zzbmarker", "key:b-api"):
        h = _api(client, who, world)
        assert client.get("/api/v1/incidents", headers=h).json() == []
        assert client.get(f"/api/v1/incidents/{incident_a}", headers=h).status_code == 404
        assert client.get("/api/v1/incidents?tenant=tenant-a", headers=h).status_code == 404


def test_customer_of_another_tenant_cannot_act(client, world, incident_a):
    for who in ("cadmin-zzbmarker", "op-zzbmarker"):
        h = _api(client, who, world)
        for op, body in (("comment", {"text": "x"}), ("status", {"status": "acknowledged"})):
            r = client.post(f"/api/v1/incidents/{incident_a}/{op}", json=body, headers=h)
            assert r.status_code == 404, (who, op, r.text)
        r = client.post(
            f"/incidents/{incident_a}",
            data={"op": "comment", "text": "x", "csrf_token": h["X-CSRF-Token"]},
        )
        assert r.status_code == 404
    h = _api(client, "viewer-a", world)
    r = client.post(f"/api/v1/incidents/{incident_a}/comment", json={"text": "x"}, headers=h)
    assert r.status_code == 403
    h = _api(client, "key:a-api", world)
    r = client.post(f"/api/v1/incidents/{incident_a}/comment", json={"text": "x"}, headers=h)
    assert r.status_code == 403
    h = _api(client, "cadmin-a", world)
    r = client.post(
        f"/api/v1/incidents/{incident_a}/comment", json={"text": "確認します"}, headers=h
    )
    assert r.status_code == 200
    r = client.post(
        f"/api/v1/incidents/{incident_a}/status", json={"status": "acknowledged"}, headers=h
    )
    assert r.status_code == 403


def test_status_assign_severity_and_stale_version(client, world, incident_a, db):
    h = _api(client, "op-a", world)
    inc = client.get(f"/api/v1/incidents/{incident_a}", headers=h).json()["incident"]
    r = client.post(
        f"/api/v1/incidents/{incident_a}/status",
        json={"status": "acknowledged", "version": inc["version"]},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    stale = client.post(
        f"/api/v1/incidents/{incident_a}/assign",
        json={"assignee": "suzuki", "version": inc["version"]},
        headers=h,
    )
    assert stale.status_code == 409
    bad = client.post(f"/api/v1/incidents/{incident_a}/status", json={"status": "new"}, headers=h)
    assert bad.status_code == 422
    r = client.post(
        f"/api/v1/incidents/{incident_a}/severity", json={"severity": "medium"}, headers=h
    )
    assert r.json()["severity"] == "medium" and r.json()["severity_overridden"] is True
    from mamori.store.repos import audit

    with db.session() as s:
        actions = {e.action for e in audit.list_entries(s, action_prefix="incident.")}
    assert {"incident.status", "incident.severity"} <= actions


def test_attachment_sha256_and_reports(client, world, incident_a):
    h = _api(client, "op-a", world)
    data = "ログ抜粋".encode() * 100
    r = client.post(
        f"/api/v1/incidents/{incident_a}/attachments",
        files={"file": ("evidence.txt", data, "text/plain")},
        headers=h,
    )
    assert r.status_code == 200, r.text
    digest = hashlib.sha256(data).hexdigest()
    assert r.json()["sha256"] == digest
    got = client.get(f"/api/v1/incidents/{incident_a}/attachment?sha256={digest}", headers=h)
    assert got.content == data
    missing = client.post(f"/api/v1/incidents/{incident_a}/attachments", headers=h)
    assert missing.status_code == 422
    html = client.get(f"/api/v1/incidents/{incident_a}/report", headers=h)
    assert html.status_code == 200 and digest in html.text
    pdf = client.get(f"/api/v1/incidents/{incident_a}/report?format=pdf", headers=h)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    monthly = client.get("/api/v1/reports/monthly?tenant=tenant-a&format=pdf", headers=h)
    assert monthly.content.startswith(b"%PDF")
    viewer = _api(client, "viewer-a", world)
    assert client.get("/api/v1/reports/monthly", headers=viewer).status_code == 200


def test_metrics_from_the_incidents(client, world, incident_a):
    h = _api(client, "op-a", world)
    client.post(
        f"/api/v1/incidents/{incident_a}/status", json={"status": "acknowledged"}, headers=h
    )
    (m,) = client.get("/api/v1/metrics?tenant=tenant-a", headers=h).json()
    assert m["tenant"] == "tenant-a" and m["incidents"] == 1 and m["acknowledged"] == 1
    assert m["mtta_seconds"] is not None and m["mtta_seconds"] >= 0
    hb = _api(client, "cadmin-zzbmarker", world)
    assert client.get("/api/v1/metrics?tenant=tenant-a", headers=hb).status_code == 404


def test_actions_approval_and_agent_command_queue(client, world, incident_a, store):
    h = _api(client, "op-a", world)
    r = client.post(
        f"/api/v1/incidents/{incident_a}/action",
        json={"action": "isolate_host", "params": {"host": "pc-01"}, "approval": "manual"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    action = r.json()
    assert action["status"] == "pending_approval"
    unknown = client.post(
        f"/api/v1/incidents/{incident_a}/action", json={"action": "format_disk"}, headers=h
    )
    assert unknown.status_code == 422
    hc = _api(client, "cadmin-a", world)
    r = client.post(
        f"/api/v1/incidents/{incident_a}/action-approve",
        json={"action_id": action["id"]},
        headers=hc,
    )
    assert r.status_code == 200, r.text
    client.cookies.clear()
    agent_a = {"Authorization": f"Bearer {world.token('a-agent')}"}
    agent_b = {"Authorization": f"Bearer {world.token('b-agent')}"}
    assert client.get("/api/v1/agent/commands?host=pc-01", headers=agent_b).json() == []
    (cmd,) = client.get("/api/v1/agent/commands?host=PC-01", headers=agent_a).json()
    assert cmd["kind"] == "isolate_host" and cmd["status"] == "delivered"
    assert client.get("/api/v1/agent/commands?host=pc-01", headers=agent_a).json() == []
    foreign = client.post(
        "/api/v1/agent/commands/result",
        json={"command_id": cmd["id"], "ok": True},
        headers=agent_b,
    )
    assert foreign.status_code == 404
    api_key = {"Authorization": f"Bearer {world.token('a-api')}"}
    assert client.get("/api/v1/agent/commands?host=pc-01", headers=api_key).status_code == 403
    done = client.post(
        "/api/v1/agent/commands/result",
        json={"command_id": cmd["id"], "ok": True, "result": {"isolated": True}},
        headers=agent_a,
    )
    assert done.status_code == 200 and done.json()["status"] == "succeeded"
    assert store.commands.get(cmd["id"]).status is CommandStatus.SUCCEEDED
    again = client.post(
        "/api/v1/agent/commands/result", json={"command_id": cmd["id"], "ok": True}, headers=agent_a
    )
    assert again.status_code == 422


def test_agent_cannot_complete_another_tenants_command(client, world, db):
    with db.sessionmaker() as session:
        cmd_id = tenant_b_command(world, session)
    client.cookies.clear()
    agent_a = {"Authorization": f"Bearer {world.token('a-agent')}"}
    r = client.post(
        "/api/v1/agent/commands/result", json={"command_id": cmd_id, "ok": True}, headers=agent_a
    )
    assert r.status_code == 404


def test_breach_track_and_split_merge(client, world, incident_a, store):
    h = _api(client, "op-a", world)
    r = client.post(
        f"/api/v1/incidents/{incident_a}/breach-mark", json={"wrongful_intent": True}, headers=h
    )
    assert r.status_code == 200, r.text
    detail = client.get(f"/api/v1/incidents/{incident_a}", headers=h).json()
    due = {d["key"]: d for d in detail["breach"]["due"]}
    assert set(due) == {"preliminary", "persons", "final"}
    client.post(f"/api/v1/incidents/{incident_a}/breach-check", json={"item": "facts"}, headers=h)
    detail = client.get(f"/api/v1/incidents/{incident_a}", headers=h).json()
    assert detail["breach"]["checklist"]["facts"] is True
    second = detail["incident"]["alert_ids"][1]
    new = client.post(
        f"/api/v1/incidents/{incident_a}/split", json={"alert_ids": [second]}, headers=h
    ).json()
    assert new["alert_ids"] == [second]
    merged = client.post(
        f"/api/v1/incidents/{incident_a}/merge", json={"sources": [new["id"]]}, headers=h
    )
    assert merged.status_code == 200 and second in merged.json()["alert_ids"]


def test_pages_in_japanese(client, world, incident_a):
    csrf = login(client, "op-a")
    home = client.get("/").text
    assert 'href="/incidents"' in home and 'href="/alerts"' in home
    assert "インシデント" in home and "検知/アラート" in home
    page = client.get("/incidents")
    assert page.status_code == 200 and "インシデント" in page.text and incident_a in page.text
    detail = client.get(f"/incidents/{incident_a}")
    assert detail.status_code == 200 and "タイムライン" in detail.text
    alerts = client.get("/alerts")
    assert alerts.status_code == 200 and "検知/アラート" in alerts.text
    r = client.post(
        f"/incidents/{incident_a}",
        data={"op": "status", "status": "acknowledged", "csrf_token": csrf},
    )
    assert r.status_code == 303
    r = client.post(
        f"/incidents/{incident_a}", data={"op": "comment", "text": "", "csrf_token": csrf}
    )
    assert r.status_code == 400 and "comment" in r.text
    r = client.post(
        f"/incidents/{incident_a}/attachments",
        data={"csrf_token": csrf},
        files={"file": ("a.txt", b"abc", "text/plain")},
    )
    assert r.status_code == 303
    viewer = login(client, "viewer-a")
    page = client.get(f"/incidents/{incident_a}")
    assert page.status_code == 200 and 'name="op" value="status"' not in page.text
    r = client.post(
        f"/incidents/{incident_a}", data={"op": "comment", "text": "x", "csrf_token": viewer}
    )
    assert r.status_code == 403


def test_expired_commands_fall_out_of_the_queue(store):
    cmd = EndpointCommand.new(
        tenant="tenant-a",
        host="pc-01",
        kind=CommandKind.KILL_PROCESS,
        args={"pid": 4},
        created_by="sato",
        now=T0,
        ttl=timedelta(minutes=1),
    )
    store.commands.enqueue(cmd)
    assert store.commands.pending("tenant-a", "pc-01", T0 + timedelta(minutes=2)) == []


@pytest.fixture
def sla_client(settings, db, tmp_path):
    from starlette.testclient import TestClient

    from mamori.web.app import create_app

    contracts = tmp_path / "sla.yaml"
    contracts.write_text(
        "tenants:\n"
        "  - {tenant: tenant-a, calendar: 24x7, ack: {critical: 15m}, respond: {critical: 38m}}\n",
        encoding="utf-8",
    )
    app = create_app(settings.model_copy(update={"respond_sla_file": contracts}), db=db)
    with TestClient(app, follow_redirects=False) as c:
        yield c


def test_running_sla_clocks_and_breach_flags(sla_client, world, store):
    intake = AlertIntake(alerts=store.alerts, incidents=store.incidents, directory=store.directory)
    fresh = intake.submit(make_alert("r-1", tenant="tenant-a", level="critical", ts=utcnow()))
    old = intake.submit(make_alert("r-9", tenant="tenant-a", level="critical", host="srv-9"))
    inc = store.incidents.get(old.incident_id)  # opened long ago: both clocks breached
    inc.created_at = utcnow() - timedelta(hours=2)
    store.incidents.save(inc)
    h = _api(sla_client, "op-a", world)
    rows = {r["id"]: r for r in sla_client.get("/api/v1/incidents", headers=h).json()}
    assert rows[old.incident_id]["breached"] is True
    assert {c["state"] for c in rows[old.incident_id]["clocks"]} == {"breached"}
    running = rows[fresh.incident_id]
    assert running["breached"] is False
    assert {c["kind"]: c["state"] for c in running["clocks"]} == {
        "ack": "running",
        "respond": "running",
    }
    assert 0 < running["clocks"][0]["remaining_seconds"] <= 15 * 60
    first = sla_client.get("/api/v1/incidents", headers=h).json()[0]
    assert first["id"] == old.incident_id  # breached first
    page = sla_client.get("/incidents").text
    assert "SLA違反" in page and "残り" in page
    assert 'data-state="running"' in page and 'src="/static/respond.js"' in page
    assert sla_client.get("/static/respond.js").status_code == 200
