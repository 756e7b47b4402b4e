"""Login, sessions, CSRF, throttling, API keys and security headers."""

from __future__ import annotations

import re

from foundation_db import PASSWORD, csrf_of, login
from mamori.store.repos import audit
from mamori.web.sessions import COOKIE_NAME, SessionCodec


def _login_form(client, username, password, token=None):
    token = csrf_of(client) if token is None else token
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def _audit_actions(db):
    with db.session() as s:
        return [e.action for e in reversed(audit.list_entries(s, limit=1000))]


def test_login_page_is_japanese_and_sets_a_hardened_cookie(client):
    r = client.get("/login")
    assert r.status_code == 200
    assert '<html lang="ja">' in r.text and "ログイン" in r.text
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie
    assert re.search(r'name="csrf_token" value="[^"]{20,}"', r.text)


def test_secure_cookie_behind_tls(settings, db):
    from fastapi.testclient import TestClient

    from mamori.web.app import create_app

    settings.behind_tls = True
    with TestClient(create_app(settings, db=db), base_url="https://testserver") as c:
        assert "Secure" in c.get("/login").headers["set-cookie"]


def test_successful_login_reaches_dashboard_and_is_audited(client, world, db):
    login(client, "cadmin-a")
    r = client.get("/")
    assert r.status_code == 200 and "ダッシュボード" in r.text and "株式会社エー部品" in r.text
    assert "auth.login" in _audit_actions(db)


def test_wrong_password_is_refused_and_audited(client, world, db):
    r = _login_form(client, "cadmin-a", "not-the-password")
    assert r.status_code == 401
    assert "ユーザー名またはパスワードが正しくありません" in r.text
    assert client.get("/").status_code == 303
    with db.session() as s:
        entry = audit.list_entries(s)[0]
    assert entry.action == "auth.login_failed" and entry.detail["reason"] == "wrong_password"
    assert entry.source_ip == "testclient"


def test_unknown_user_gets_the_same_answer(client, world, db):
    wrong = _login_form(client, "cadmin-a", "not-the-password")
    unknown = _login_form(client, "nobody-here", "not-the-password")
    assert unknown.status_code == wrong.status_code == 401
    assert "ユーザー名またはパスワードが正しくありません" in unknown.text
    with db.session() as s:
        assert audit.list_entries(s)[0].detail["reason"] == "unknown_user"


def test_locked_user_is_refused_even_with_the_right_password(client, world, db):
    for _ in range(3):  # settings.login_max_failures == 3 in tests
        r = _login_form(client, "viewer-a", "not-the-password")
    assert r.status_code == 401 and "ロック" in r.text
    r = _login_form(client, "viewer-a", PASSWORD)
    assert r.status_code == 401 and "ロック" in r.text
    assert client.get("/").status_code == 303
    actions = _audit_actions(db)
    assert "auth.locked" in actions and actions[-1] == "auth.login_refused_locked"
    # another user is not affected
    login(client, "cadmin-a")


def test_disabled_user_cannot_log_in(client, world, db):
    from mamori.store.repos import users

    with db.session() as s:
        users.update_user(s, user=users.get_user(s, user_id=world.viewer_a.id), active=False)
    assert _login_form(client, "viewer-a", PASSWORD).status_code == 401


def test_login_without_or_with_wrong_csrf_token_is_refused(client, world):
    client.get("/login")
    r = client.post("/login", data={"username": "cadmin-a", "password": PASSWORD})
    assert r.status_code == 403
    r = _login_form(client, "cadmin-a", PASSWORD, token="forged-token")
    assert r.status_code == 403
    # a token with no session cookie at all
    token = csrf_of(client)
    client.cookies.clear()
    assert _login_form(client, "cadmin-a", PASSWORD, token=token).status_code == 403


def test_unsafe_cookie_requests_need_the_csrf_token(client, world):
    csrf = login(client, "cadmin-a")
    body = {"display_name": "Changed"}
    assert client.patch("/api/v1/me", json=body).status_code == 403
    assert (
        client.patch("/api/v1/me", json=body, headers={"X-CSRF-Token": "nope"}).status_code == 403
    )
    r = client.patch("/api/v1/me", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["display_name"] == "Changed"
    assert client.post("/logout", data={}).status_code == 403
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert client.get("/").status_code == 303


def test_expired_session_is_refused(client, world, app):
    login(client, "cadmin-a")
    assert client.get("/api/v1/me").status_code == 200
    real: SessionCodec = app.state.session_codec
    session = real.decode(client.cookies.get(COOKIE_NAME))
    assert session is not None
    session.iat -= real.max_age + 1
    client.cookies.set(COOKIE_NAME, real.encode(session))
    assert client.get("/api/v1/me").status_code == 401
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_forged_session_cookie_is_ignored(client, world, app):
    login(client, "cadmin-a")
    other = SessionCodec("another-secret-" + "y" * 30, 3600)
    forged = other.encode(other.new(uid=world.admin.id))
    client.cookies.set(COOKIE_NAME, forged)
    assert client.get("/api/v1/me").status_code == 401


def test_password_change_ends_other_sessions(client, app, world):
    from fastapi.testclient import TestClient

    csrf = login(client, "cadmin-a")
    with TestClient(app, follow_redirects=False) as other:
        login(other, "cadmin-a")
        assert other.get("/api/v1/me").status_code == 200
        r = client.post(
            "/api/v1/me/password",
            json={"current_password": PASSWORD, "new_password": "brand-new-password-9"},
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 204
        assert client.get("/api/v1/me").status_code == 200  # this session continues
        assert other.get("/api/v1/me").status_code == 401
    wrong = client.post(
        "/api/v1/me/password",
        json={"current_password": "nope-nope-nope", "new_password": "x-another-pass-1"},
        headers={"X-CSRF-Token": csrf_of(client)},
    )
    assert wrong.status_code == 403


def test_open_redirect_after_login_is_prevented(client, world):
    token = csrf_of(client)
    r = client.post(
        "/login",
        data={
            "username": "cadmin-a",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/x",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_api_key_auth(client, world):
    ok = client.get("/api/v1/me", headers={"Authorization": f"Bearer {world.token('a-api')}"})
    assert ok.status_code == 200
    assert ok.json()["tenant_ids"] == [world.tenant_a.id]
    assert ok.json()["api_key_purpose"] == "api"
    # no CSRF needed for bearer requests, but a key cannot act as a user
    r = client.patch(
        "/api/v1/me",
        json={"language": "en"},
        headers={"Authorization": f"Bearer {world.token('a-api')}"},
    )
    assert r.status_code == 403


def test_wrong_purpose_key_is_refused(client, world):
    for name in ("a-ingest", "a-agent"):
        r = client.get("/api/v1/tenants", headers={"Authorization": f"Bearer {world.token(name)}"})
        assert r.status_code == 403
        assert "cannot be used here" in r.json()["detail"]


def test_revoked_key_is_refused(client, world):
    csrf = login(client, "cadmin-a")
    key, token = world.keys["a-api"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    r = client.post(f"/api/v1/api-keys/{key.id}/revoke", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["revoked_at"]
    client.cookies.clear()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_wrong_malformed_bearer_is_refused(client, world):
    token = world.token("a-api")
    for value in (f"Bearer {token[:-3]}xyz", "Bearer ", "Basic abc", f"Token {token}"):
        r = client.get("/api/v1/me", headers={"Authorization": value})
        assert r.status_code == 401, value
        assert r.headers["www-authenticate"] == "Bearer"


def test_require_key_accepts_only_its_purpose(app, world, db):
    from fastapi import APIRouter, Depends
    from fastapi.testclient import TestClient

    from mamori.web.deps import Principal, require_key

    router = APIRouter()

    @router.post("/api/v1/test-ingest")
    def ingest(principal: Principal = Depends(require_key("ingest"))) -> dict[str, int | None]:
        return {"tenant": principal.home_tenant_id}

    app.include_router(router)
    with TestClient(app, follow_redirects=False) as c:
        ok = c.post(
            "/api/v1/test-ingest", headers={"Authorization": f"Bearer {world.token('a-ingest')}"}
        )
        assert ok.status_code == 200 and ok.json() == {"tenant": world.tenant_a.id}
        wrong = c.post(
            "/api/v1/test-ingest", headers={"Authorization": f"Bearer {world.token('a-agent')}"}
        )
        assert wrong.status_code == 403
        assert c.post("/api/v1/test-ingest").status_code in (401, 403)
        csrf = login(c, "root")
        assert c.post("/api/v1/test-ingest", headers={"X-CSRF-Token": csrf}).status_code == 401


def test_security_headers_everywhere(client):
    for path in ("/login", "/healthz", "/api/v1/me", "/nope"):
        r = client.get(path)
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"


def test_readyz_reports_an_unreachable_database(settings):
    from fastapi.testclient import TestClient

    from mamori.store.db import Database
    from mamori.web.app import create_app

    broken = Database(f"sqlite:///{settings.data_dir}/missing-dir/x.db")
    with TestClient(create_app(settings, db=broken)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["database"] == "unreachable"
        assert c.get("/healthz").status_code == 200
    broken.dispose()


def test_create_app_alone_migrates_its_own_database(tmp_path):
    from fastapi.testclient import TestClient

    from foundation_db import make_settings
    from mamori.store.db import Database
    from mamori.store.passwords import make_hasher
    from mamori.store.repos import users
    from mamori.web.app import create_app

    settings = make_settings(tmp_path / "fresh", "")
    app = create_app(settings)
    db = Database(settings)
    with db.session() as s:
        users.create_user(
            s, username="solo", password=PASSWORD, role="admin", hasher=make_hasher(settings)
        )
    db.dispose()
    with TestClient(app, follow_redirects=False) as c:
        assert c.get("/readyz").status_code == 200
        login(c, "solo")
        assert c.get("/api/v1/me").json()["role"] == "admin"
    assert (tmp_path / "fresh" / "mamori.db").exists()
