"""The server-rendered pages: dashboard, language switch, tenant switcher, user management."""

from __future__ import annotations

import re

from foundation_db import PASSWORD, csrf_of, login


def test_dashboard_is_japanese_by_default_and_english_on_request(client, world):
    csrf = login(client, "op-a")
    page = client.get("/").text
    assert '<html lang="ja">' in page and "ダッシュボード" in page and "ログアウト" in page
    r = client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/"
    page = client.get("/").text
    assert '<html lang="en">' in page and "Dashboard" in page and "Log out" in page
    # the choice is remembered for the user
    login(client, "op-a")
    assert "Dashboard" in client.get("/").text


def test_language_switch_on_the_login_page(client):
    csrf = csrf_of(client)
    client.post("/lang", data={"lang": "en", "next": "/login", "csrf_token": csrf})
    page = client.get("/login").text
    assert "Log in" in page and "Username" in page
    client.post("/lang", data={"lang": "xx", "csrf_token": csrf})
    assert "Log in" in client.get("/login").text


def test_navigation_depends_on_role_and_existing_pages(client, world):
    login(client, "root")
    page = client.get("/").text
    for href in ('href="/"', 'href="/tenants"', 'href="/users"', 'href="/api-keys"'):
        assert href in page
    from mamori.web.nav import NAV_ITEMS
    from mamori.web.routes import iter_routes

    pages = {r.path for r in iter_routes(client.app.routes) if "GET" in r.methods}
    for item in NAV_ITEMS:
        if item.path not in pages:  # areas without a page yet have no entry
            assert f'href="{item.path}"' not in page
    login(client, "viewer-a")
    page = client.get("/").text
    assert 'href="/users"' not in page and 'href="/tenants"' not in page
    assert client.get("/users").status_code == 403
    assert client.get("/tenants").status_code == 403


def test_tenant_switcher_for_operators(client, world):
    csrf = login(client, "op-a")
    page = client.get("/").text
    assert 'action="/tenant"' in page and "株式会社エー部品" in page
    assert world.tenant_b.slug not in page
    r = client.post(
        "/tenant", data={"tenant_id": str(world.tenant_a.id), "next": "/", "csrf_token": csrf}
    )
    assert r.status_code == 303
    page = client.get("/").text
    assert re.search(rf'<option value="{world.tenant_a.id}" selected>', page)
    r = client.post("/tenant", data={"tenant_id": str(world.tenant_b.id), "csrf_token": csrf})
    assert r.status_code == 404
    r = client.post("/tenant", data={"tenant_id": "", "csrf_token": csrf})
    assert r.status_code == 303
    login(client, "viewer-a")
    assert 'action="/tenant"' not in client.get("/").text


def test_admin_creates_and_edits_users_through_forms(client, world):
    csrf = login(client, "root")
    page = client.get("/users").text
    assert "cadmin-a" in page and 'name="csrf_token"' in page
    r = client.post(
        "/users",
        data={
            "username": "new-op",
            "password": PASSWORD,
            "role": "operator",
            "tenant_id": "",
            "display_name": "新しい人",
            "language": "ja",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303
    assert "新しい人" in client.get("/users").text
    bad = client.post(
        "/users",
        data={"username": "x", "password": "short", "role": "admin", "csrf_token": csrf},
    )
    assert bad.status_code == 422 and "at least" in bad.text
    missing_csrf = client.post(
        "/users", data={"username": "y", "password": PASSWORD, "role": "admin"}
    )
    assert missing_csrf.status_code == 403
    assert "フォームの有効期限" in missing_csrf.text
    edit = client.get(f"/users/{world.viewer_a.id}")
    assert edit.status_code == 200 and "viewer-a" in edit.text
    r = client.post(
        f"/users/{world.viewer_a.id}",
        data={
            "role": "customer_viewer",
            "display_name": "閲覧さん",
            "language": "en",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303
    assert client.get(f"/api/v1/users/{world.viewer_a.id}").json()["active"] is False


def test_customer_admin_user_page_shows_own_tenant(client, world):
    login(client, "cadmin-a")
    page = client.get("/users").text
    assert "viewer-a" in page and world.viewer_b.username not in page
    assert '<option value="admin"' not in page


def test_tenants_page_and_form(client, world):
    csrf = login(client, "root")
    assert world.tenant_b.slug in client.get("/tenants").text
    r = client.post(
        "/tenants",
        data={"slug": "ui-made", "name": "UI製", "retention_days": "30", "csrf_token": csrf},
    )
    assert r.status_code == 303 and "ui-made" in client.get("/tenants").text
    bad = client.post("/tenants", data={"slug": "Bad Slug", "name": "x", "csrf_token": csrf})
    assert bad.status_code == 422
    login(client, "op-a")
    page = client.get("/tenants").text
    assert (
        "tenant-a" in page and world.tenant_b.slug not in page and 'action="/tenants"' not in page
    )


def test_api_keys_page_shows_the_token_once(client, world):
    csrf = login(client, "cadmin-a")
    r = client.post(
        "/api-keys",
        data={
            "tenant_id": str(world.tenant_a.id),
            "purpose": "agent",
            "name": "pc-01",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 201
    token = re.search(r'<code class="token">(mmr_[^<]+)</code>', r.text).group(1)
    page = client.get("/api-keys").text
    assert "pc-01" in page and token not in page
    key_id = client.get("/api/v1/api-keys").json()[-1]["id"]
    r = client.post(f"/api-keys/{key_id}/revoke", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert "失効済み" in client.get("/api-keys").text


def test_unknown_page_renders_error_in_the_layout(client, world):
    login(client, "viewer-a")
    r = client.get("/no-such-page")
    assert r.status_code == 404 and "見つかりません" in r.text
    r = client.get("/api/v1/no-such")
    assert r.status_code == 404 and r.json()["detail"]


def test_templates_escape_user_content(client, world, db):
    from mamori.store.repos import users

    with db.session() as s:
        users.update_user(
            s,
            user=users.get_user(s, user_id=world.viewer_a.id),
            display_name="<script>alert(1)</script>",
        )
    login(client, "viewer-a")
    page = client.get("/").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_audit_page_shows_scope_and_chain_state(client, world, db):
    from sqlalchemy import text

    login(client, "cadmin-a")
    page = client.get("/audit").text
    assert "監査ログ" in page and "auth.login" in page and "改ざん検知" not in page
    login(client, "root")
    assert "改ざん検知チェーンは正常です" in client.get("/audit").text
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1"))
    page = client.get("/audit").text
    assert "改ざんの可能性があります：1 番" in page
    login(client, "viewer-a")
    assert client.get("/audit").status_code == 403


OWN_PANELS = {"tenants", "users", "api_keys", "alerts"}  # areas append panels of their own


def _panels(html: str) -> dict[str, str]:
    """The foundation's panels (areas add their own, tested in their own files)."""
    found = re.findall(
        r'data-panel="([a-z0-9_]+)">\s*<h2>[^<]*</h2>\s*<p class="figure">(?:<a [^>]*>)?([^<]*)',
        html,
    )
    return {key: value for key, value in found if key in OWN_PANELS}


def test_dashboard_panels_follow_role_and_tenant(client, world, monkeypatch):
    from mamori.web import dashboard

    login(client, "root")
    assert _panels(client.get("/").text) == {"tenants": "2", "users": "7", "api_keys": "6"}
    login(client, "cadmin-a")
    assert _panels(client.get("/").text) == {"users": "2", "api_keys": "3"}
    login(client, "viewer-a")
    assert _panels(client.get("/").text) == {}
    extra = dashboard.DashboardPanel(
        "alerts", "nav.alerts", lambda _s, scope: dashboard.PanelValue(len(scope.ui_ids() or []))
    )
    monkeypatch.setattr(dashboard, "PANELS", [*dashboard.PANELS, extra])
    assert _panels(client.get("/").text) == {"alerts": "1"}
