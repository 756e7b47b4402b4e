"""The quarantine pages and API (src/mamori/web/routers/quarantine.py): roles, tenant
isolation, release/delete/download audited, mail release delivered to the next hop."""

from __future__ import annotations

import re

import pytest

from foundation_db import B_MARKER, login
from mamori.cli.wiring.scan import StoreAuditSink
from mamori.scan.quarantine import QuarantineStore
from mamori.scan.scanners.eicar import EICAR
from mamori.scan.testing import RecordingSmtpServer
from mamori.store.repos import audit


@pytest.fixture
def items(settings, db, world):
    store = QuarantineStore.from_settings(settings, audit=StoreAuditSink(db))
    a_mail = store.put(
        EICAR,
        kind="mail",
        name="請求書",
        tenant=world.tenant_a.slug,
        meta={"mail_from": "x@example.co.jp", "rcpt_tos": ["y@example.jp"], "subject": "請求書"},
    )
    a_web = store.put(b"web body", kind="http", name="f.bin", tenant=world.tenant_a.slug)
    b_item = store.put(
        b"b content", kind="http", name=f"{B_MARKER}.bin", tenant=world.tenant_b.slug
    )
    return store, a_mail, a_web, b_item


def _actions(db, prefix="quarantine."):
    with db.session() as s:
        return [
            (e.action, e.tenant_id, e.actor) for e in audit.list_entries(s, action_prefix=prefix)
        ]


def test_tenant_a_operator_cannot_see_or_touch_tenant_b_items(client, world, items):
    store, a_mail, a_web, b_item = items
    csrf = login(client, "op-a")
    listed = client.get("/api/v1/quarantine").json()
    assert {i["id"] for i in listed} == {a_mail.id, a_web.id}
    assert B_MARKER not in client.get("/scans").text
    assert client.get(f"/api/v1/quarantine/{b_item.id}").status_code == 404
    assert client.get(f"/scans/quarantine/{b_item.id}").status_code == 404
    headers = {"X-CSRF-Token": csrf}
    for action in ("release", "delete"):
        r = client.post(f"/api/v1/quarantine/{b_item.id}/{action}", json={}, headers=headers)
        assert r.status_code == 404
        r = client.post(f"/scans/quarantine/{b_item.id}/{action}", data={"csrf_token": csrf})
        assert r.status_code == 404
    r = client.post(
        f"/scans/quarantine/{b_item.id}/download", data={"csrf_token": csrf, "confirm": "yes"}
    )
    assert r.status_code == 404
    assert store.get(b_item.id).status == "quarantined"
    assert store.content(b_item.id) == b"b content"
    assert (
        client.get("/api/v1/quarantine", params={"tenant_id": world.tenant_b.id}).status_code == 404
    )
    assert client.get("/api/v1/quarantine/../../etc").status_code == 404


def test_customer_admin_reads_own_tenant_only_and_cannot_act(client, world, items):
    _store, a_mail, a_web, b_item = items
    csrf = login(client, "cadmin-a")
    page = client.get("/scans")
    assert page.status_code == 200 and "スキャン・隔離" in page.text
    assert "x@example.co.jp" in page.text and B_MARKER not in page.text
    detail = client.get(f"/scans/quarantine/{a_mail.id}")
    assert detail.status_code == 200 and "<form" not in detail.text.split("<main", 1)[-1]
    r = client.post(
        f"/api/v1/quarantine/{a_web.id}/release", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 403
    r = client.post(
        f"/scans/quarantine/{a_web.id}/download", data={"csrf_token": csrf, "confirm": "yes"}
    )
    assert r.status_code == 403
    assert client.get(f"/api/v1/quarantine/{b_item.id}").status_code == 404
    login(client, "viewer-a")
    assert client.get("/scans").status_code == 403
    assert client.get("/api/v1/quarantine").status_code == 403
    assert "/scans" not in client.get("/").text


def test_operator_downloads_releases_and_deletes_each_audited(client, db, world, items):
    store, _a_mail, a_web, _b = items
    csrf = login(client, "op-a")
    page = client.get(f"/scans/quarantine/{a_web.id}")
    assert "マルウェアの可能性があります" in page.text
    r = client.post(f"/scans/quarantine/{a_web.id}/download", data={"csrf_token": csrf})
    assert r.status_code == 422 and "チェックを入れてください" in r.text
    r = client.post(
        f"/scans/quarantine/{a_web.id}/download", data={"csrf_token": csrf, "confirm": "yes"}
    )
    assert r.status_code == 200 and r.content == b"web body"
    assert r.headers["content-type"] == "application/octet-stream"
    assert "attachment" in r.headers["content-disposition"]
    r = client.post(
        f"/scans/quarantine/{a_web.id}/release", data={"csrf_token": csrf, "note": "誤検知"}
    )
    assert r.status_code == 303
    assert store.get(a_web.id).status == "released"
    again = client.post(f"/scans/quarantine/{a_web.id}/release", data={"csrf_token": csrf})
    assert again.status_code == 422
    r = client.post(
        f"/api/v1/quarantine/{a_web.id}/delete",
        json={"note": "done"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200 and r.json()["status"] == "deleted"
    assert not (store.root / f"{a_web.id}.bin").exists()
    a = world.tenant_a.id
    assert _actions(db)[:3] == [
        ("quarantine.deleted", a, "op-a"),
        ("quarantine.released", a, "op-a"),
        ("quarantine.retrieve", a, "op-a"),
    ]
    with db.session() as s:
        assert audit.verify(s).ok


def test_releasing_a_mail_delivers_it_to_the_next_hop(client, settings, db, items):
    store, a_mail, _a_web, _b = items
    csrf = login(client, "root")
    with RecordingSmtpServer() as hop:
        hop.reply = "451 4.3.0 busy"
        settings.scan_mail_next_hop = f"127.0.0.1:{hop.port}"
        failed = client.post(f"/scans/quarantine/{a_mail.id}/release", data={"csrf_token": csrf})
        assert failed.status_code == 422 and "451" in failed.text
        assert store.get(a_mail.id).status == "quarantined"
        hop.reply = "250 OK"
        r = client.post(
            f"/api/v1/quarantine/{a_mail.id}/release", json={}, headers={"X-CSRF-Token": csrf}
        )
        assert r.status_code == 200 and r.json()["status"] == "released"
        got = hop.wait_for(1)
    assert got[0].rcpt_tos == ["y@example.jp"] and EICAR in got[0].data
    assert _actions(db)[0][0] == "quarantine.released"


def test_dashboard_panel_counts_recent_quarantines_in_scope(client, world, items):
    def panel(html: str) -> str:
        match = re.search(
            r'data-panel="scan_quarantined">\s*<h2>[^<]*</h2>\s*<p class="figure"><a [^>]*>(\d+)',
            html,
        )
        assert match, html
        return match.group(1)

    login(client, "root")
    assert panel(client.get("/").text) == "3"
    login(client, "cadmin-a")
    assert panel(client.get("/").text) == "2"
    stats = client.get("/api/v1/quarantine-stats").json()["counts"]
    assert stats == {"quarantined": 2, "held": 0, "released": 0, "deleted": 0}


def test_api_pages_and_counts_come_from_the_index_in_scope(client, world, items):
    store, a_mail, a_web, b_item = items
    extra = [
        store.put(f"more {n}".encode(), kind="http", name=f"m{n}.bin", tenant=world.tenant_a.slug)
        for n in range(5)
    ]
    login(client, "op-a")
    everything = client.get("/api/v1/quarantine").json()
    assert len(everything) == 7 and b_item.id not in {i["id"] for i in everything}
    first = client.get("/api/v1/quarantine", params={"limit": 3}).json()
    rest = client.get("/api/v1/quarantine", params={"limit": 3, "offset": 3}).json()
    last = client.get("/api/v1/quarantine", params={"limit": 3, "offset": 6}).json()
    assert [i["id"] for i in first + rest + last] == [i["id"] for i in everything]
    assert first[0]["id"] == extra[-1].id  # newest first
    assert client.get("/api/v1/quarantine", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/quarantine", params={"offset": -1}).status_code == 422
    stats = client.get("/api/v1/quarantine-stats").json()["counts"]
    assert stats["quarantined"] == 7  # tenant B's item is not counted
    store.delete(a_web.id, actor="test")
    assert client.get("/api/v1/quarantine-stats").json()["counts"]["deleted"] == 1
    assert a_mail.id in client.get("/scans").text


def test_scans_page_pages_through_every_item(client, world, items, monkeypatch):
    from mamori.web.routers import quarantine as quarantine_router

    store, a_mail, a_web, b_item = items
    extra = [
        store.put(f"p{n}".encode(), kind="http", name=f"page{n}.bin", tenant=world.tenant_a.slug)
        for n in range(3)
    ]
    monkeypatch.setattr(quarantine_router, "UI_PAGE", 2)
    login(client, "op-a")
    seen: list[str] = []
    url: str | None = "/scans"
    pages = 0
    while url is not None:
        html = client.get(url).text
        seen += re.findall(r'href="/scans/quarantine/([^"]+)"', html)
        found = re.search(r'<a href="([^"]+)" rel="next">', html)
        url = found.group(1).replace("&amp;", "&") if found else None
        pages += 1
    assert pages == 3
    expected = [i.id for i in reversed([a_mail, a_web, *extra])]
    assert seen == expected and b_item.id not in seen
    back = client.get("/scans", params={"offset": 2}).text
    assert 'href="/scans" rel="prev"' in back
    assert client.get("/scans", params={"offset": -1}).status_code == 422
    only = client.get("/scans", params={"status": "quarantined", "offset": 2}).text
    assert 'href="/scans?status=quarantined&amp;offset=4" rel="next"' in only
