"""The JSON API per role: tenants, users, API keys, me, audit, OpenAPI."""

from __future__ import annotations

import pytest

from foundation_db import PASSWORD, login


@pytest.fixture
def as_user(client, world):
    def _as(username: str) -> dict[str, str]:
        return {"X-CSRF-Token": login(client, username)}

    return _as


def test_tenant_listing_follows_the_scope(client, world, as_user):
    as_user("root")
    assert {t["slug"] for t in client.get("/api/v1/tenants").json()} == {
        world.tenant_a.slug,
        world.tenant_b.slug,
    }
    as_user("op-a")
    assert [t["slug"] for t in client.get("/api/v1/tenants").json()] == ["tenant-a"]
    as_user("viewer-a")
    assert [t["slug"] for t in client.get("/api/v1/tenants").json()] == ["tenant-a"]
    assert client.get(f"/api/v1/tenants/{world.tenant_a.id}").status_code == 200
    assert client.get(f"/api/v1/tenants/{world.tenant_b.id}").status_code == 404
    assert client.get("/api/v1/tenants/999999").status_code == 404


def test_only_admins_create_and_update_tenants(client, world, as_user):
    h = as_user("op-a")
    assert (
        client.post("/api/v1/tenants", json={"slug": "x", "name": "X"}, headers=h).status_code
        == 403
    )
    r = client.patch(f"/api/v1/tenants/{world.tenant_a.id}", json={"name": "Y"}, headers=h)
    assert r.status_code == 403
    h = as_user("root")
    r = client.post("/api/v1/tenants", json={"slug": "new-co", "name": "新会社"}, headers=h)
    assert r.status_code == 201 and r.json()["slug"] == "new-co"
    dup = client.post("/api/v1/tenants", json={"slug": "new-co", "name": "again"}, headers=h)
    assert dup.status_code == 409
    bad = client.post("/api/v1/tenants", json={"slug": "Bad Slug", "name": "x"}, headers=h)
    assert bad.status_code == 422 and "slug" in bad.json()["detail"]
    r = client.patch(f"/api/v1/tenants/{world.tenant_a.id}", json={"retention_days": 30}, headers=h)
    assert r.status_code == 200 and r.json()["retention_days"] == 30
    assert (
        client.patch(
            f"/api/v1/tenants/{world.tenant_a.id}", json={"retention_days": 0}, headers=h
        ).status_code
        == 422
    )


def test_admin_manages_every_user(client, world, as_user):
    h = as_user("root")
    names = {u["username"] for u in client.get("/api/v1/users").json()}
    assert {"root", "op-a", "cadmin-a", world.viewer_b.username} <= names
    r = client.post(
        "/api/v1/users",
        json={
            "username": "op-new",
            "password": PASSWORD,
            "role": "operator",
            "assigned_tenant_ids": [world.tenant_b.id],
        },
        headers=h,
    )
    assert r.status_code == 201 and r.json()["assigned_tenant_ids"] == [world.tenant_b.id]
    assert "password" not in r.json() and "password_hash" not in r.json()
    uid = r.json()["id"]
    r = client.patch(f"/api/v1/users/{uid}", json={"active": False}, headers=h)
    assert r.status_code == 200 and r.json()["active"] is False
    r = client.patch(f"/api/v1/users/{world.admin.id}", json={"active": False}, headers=h)
    assert r.status_code == 422  # not yourself
    weak = client.post(
        "/api/v1/users",
        json={"username": "weak", "password": "short", "role": "admin"},
        headers=h,
    )
    assert weak.status_code == 422


def test_customer_admin_manages_own_tenant_only(client, world, as_user):
    h = as_user("cadmin-a")
    names = {u["username"] for u in client.get("/api/v1/users").json()}
    assert names == {"cadmin-a", "viewer-a"}
    r = client.post(
        "/api/v1/users",
        json={"username": "new-viewer", "password": PASSWORD, "role": "customer_viewer"},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["tenant_id"] == world.tenant_a.id
    r = client.post(
        "/api/v1/users",
        json={"username": "sneaky", "password": PASSWORD, "role": "admin"},
        headers=h,
    )
    assert r.status_code == 403
    r = client.patch(
        f"/api/v1/users/{world.viewer_a.id}", json={"role": "customer_admin"}, headers=h
    )
    assert r.status_code == 200 and r.json()["role"] == "customer_admin"
    r = client.patch(f"/api/v1/users/{world.viewer_a.id}", json={"role": "operator"}, headers=h)
    assert r.status_code == 403
    r = client.patch(f"/api/v1/users/{world.admin.id}", json={"display_name": "x"}, headers=h)
    assert r.status_code == 404


def test_viewer_and_operator_cannot_manage_users(client, world, as_user):
    h = as_user("viewer-a")
    assert client.get("/api/v1/users").status_code == 403
    assert client.get(f"/api/v1/users/{world.viewer_a.id}").status_code == 200  # self
    assert client.get(f"/api/v1/users/{world.cadmin_a.id}").status_code == 403
    h = as_user("op-a")
    assert {u["username"] for u in client.get("/api/v1/users").json()} == {"cadmin-a", "viewer-a"}
    r = client.patch(f"/api/v1/users/{world.viewer_a.id}", json={"display_name": "x"}, headers=h)
    assert r.status_code == 403


def test_api_keys_lifecycle_and_secret_shown_once(client, world, as_user):
    h = as_user("op-a")
    r = client.post(
        "/api/v1/api-keys",
        json={"tenant_id": world.tenant_a.id, "purpose": "ingest", "name": "firewall"},
        headers=h,
    )
    assert r.status_code == 201
    created = r.json()
    assert created["token"].startswith("mmr_") and created["purpose"] == "ingest"
    listed = client.get("/api/v1/api-keys").json()
    assert all("token" not in k and "secret_hash" not in k for k in listed)
    assert {k["tenant_id"] for k in listed} == {world.tenant_a.id}
    one = client.get(f"/api/v1/api-keys/{created['id']}").json()
    assert "token" not in one
    bad = client.post(
        "/api/v1/api-keys", json={"tenant_id": world.tenant_a.id, "purpose": "god"}, headers=h
    )
    assert bad.status_code == 422
    r = client.post(f"/api/v1/api-keys/{created['id']}/revoke", headers=h)
    assert r.status_code == 200 and r.json()["revoked_at"]
    as_user("viewer-a")
    assert client.get("/api/v1/api-keys").status_code == 403


def test_me_and_language(client, world, as_user):
    h = as_user("viewer-a")
    me = client.get("/api/v1/me").json()
    assert me["user"]["username"] == "viewer-a" and me["role"] == "customer_viewer"
    assert me["tenant_ids"] == [world.tenant_a.id]
    r = client.patch("/api/v1/me", json={"language": "en"}, headers=h)
    assert r.json()["language"] == "en"
    assert client.patch("/api/v1/me", json={"language": "fr"}, headers=h).status_code == 422
    as_user("root")
    assert client.get("/api/v1/me").json()["tenant_ids"] is None


def test_audit_api_scoped(client, world, as_user):
    as_user("root")
    everything = client.get("/api/v1/audit?limit=1000").json()
    assert any(e["action"] == "auth.login" for e in everything)
    as_user("cadmin-a")
    mine = client.get("/api/v1/audit").json()
    assert mine and {e["tenant_id"] for e in mine} == {world.tenant_a.id}
    assert client.get(f"/api/v1/audit?tenant_id={world.tenant_b.id}").status_code == 404
    as_user("viewer-a")
    assert client.get("/api/v1/audit").status_code == 403


def test_openapi_lists_the_api_and_needs_login(client, world):
    assert client.get("/api/v1/openapi.json").status_code == 401
    login(client, "viewer-a")
    schema = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/tenants", "/api/v1/users", "/api/v1/me", "/api/v1/api-keys"):
        assert path in schema["paths"]
    assert "/login" not in schema["paths"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_docs_page_is_served_offline_without_third_party_origins(client, world):
    login(client, "viewer-a")
    docs = client.get("/api/v1/docs")
    assert "cdn." not in docs.text and "https://" not in docs.text
    csp = docs.headers["content-security-policy"]
    assert "https:" not in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    for asset in ("/static-docs/swagger-ui-bundle.js", "/static-docs/swagger-ui.css"):
        assert client.get(asset).status_code == 200
    assert client.get("/static/swagger-init.js").status_code == 200
