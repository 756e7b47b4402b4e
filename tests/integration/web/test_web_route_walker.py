"""Walk EVERY route of the app: tenant isolation and authentication for all of them.

New routes are covered automatically; a route whose needs are not registered in
``route_fixtures.py`` makes these tests fail instead of slipping through.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from sqlalchemy import select, text

from foundation_db import B_MARKER, World, csrf_of, login
from mamori.store.tables import Base
from mamori.web.routers import PUBLIC_PATHS, PUBLIC_PREFIXES
from mamori.web.routes import RouteInfo, iter_routes
from tests.integration.web.route_fixtures import BODIES, PATH_PARAMS, Probe

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
VOLATILE_COLUMNS = {"last_used_at", "last_login_at"}


def _routes(app) -> list[tuple[RouteInfo, str]]:
    out = []
    for info in iter_routes(app.routes):
        if info.is_mount or info.path in PUBLIC_PATHS or info.path.startswith(PUBLIC_PREFIXES):
            continue
        for method in sorted(info.methods - {"HEAD", "OPTIONS"}):
            out.append((info, method))
    return out


def _tenant_b_snapshot(db, world: World) -> str:
    """A digest of every row that belongs to tenant B (audit log excepted)."""
    b = world.tenant_b.id
    parts: list[Any] = []
    with db.engine.connect() as conn:
        parts.append(conn.execute(text("SELECT * FROM tenants WHERE id = :b"), {"b": b}).all())
        for table in Base.metadata.sorted_tables:
            if table.name == "audit_log" or "tenant_id" not in table.c:
                continue
            cols = [c for c in table.c if c.name not in VOLATILE_COLUMNS]
            rows = conn.execute(select(*cols).where(table.c.tenant_id == b)).all()
            parts.append((table.name, sorted(map(repr, rows))))
        b_users = [
            r[0] for r in conn.execute(text("SELECT id FROM users WHERE tenant_id = :b"), {"b": b})
        ]
        parts.append(b_users)
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _replace_param(path: str, param: str, value: str) -> str:
    return re.sub(r"{" + re.escape(param) + r"(?::[A-Za-z_]+)?}", value, path)


def _probe(info: RouteInfo, method: str, world: World) -> Probe | None:
    """The registered request for an unsafe route (required when it has no path params)."""
    if method not in UNSAFE:
        return None
    factory = BODIES.get((method, info.path))
    if factory is None and not info.params:
        pytest.fail(
            f"{method} {info.path} has no path parameter to point at tenant B; register a"
            " request in tests/integration/web/route_fixtures.py BODIES"
        )
    return factory(world) if factory is not None else None


CALLERS = ["cadmin-a", "viewer-a", "op-a", "key:a-api"]


@pytest.mark.parametrize("caller", CALLERS)
def test_tenant_a_callers_cannot_reach_tenant_b_on_any_route(client, app, db, world, caller):
    routes = _routes(app)
    assert len(routes) >= 20
    headers: dict[str, str] = {}
    if caller.startswith("key:"):
        headers["Authorization"] = f"Bearer {world.token(caller[4:])}"
        csrf = ""
    else:
        csrf = login(client, caller)
    failures: list[str] = []
    for info, method in routes:
        path = info.path
        for param in info.params:
            if param not in PATH_PARAMS:
                pytest.fail(
                    f"route {info.path} has path parameter {param!r} without a tenant-B"
                    " fixture; add it to tests/integration/web/route_fixtures.py PATH_PARAMS"
                )
            with db.sessionmaker() as session:
                path = _replace_param(path, param, PATH_PARAMS[param](world, session))
        probe = _probe(info, method, world)
        before = _tenant_b_snapshot(db, world)
        request_headers = dict(headers)
        if csrf:
            request_headers["X-CSRF-Token"] = csrf
        kwargs: dict[str, Any] = {"headers": request_headers}
        if probe is not None and probe.json is not None:
            kwargs["json"] = probe.json
        elif probe is not None and probe.data is not None:
            kwargs["data"] = {**probe.data, "csrf_token": csrf} if csrf else probe.data
        elif method in UNSAFE:
            kwargs["json"] = {}
        params = {"tenant_id": world.tenant_b.id, "tenant": world.tenant_b.slug}
        response = client.request(method, path, params=params, **kwargs)
        where = f"{caller} {method} {path}"
        status = response.status_code
        if status == 422:
            failures.append(
                f"{where}: 422 - the request never reached the tenant check; register a"
                " valid body in route_fixtures.py BODIES"
            )
        elif info.params or (probe is not None and probe.refused):
            if status not in (403, 404):
                failures.append(f"{where}: expected 403/404, got {status}")
        elif status >= 500:
            failures.append(f"{where}: server error {status}")
        if B_MARKER in response.text:
            failures.append(f"{where}: response mentions tenant B")
        if _tenant_b_snapshot(db, world) != before:
            failures.append(f"{where}: tenant B's data changed")
        if method == "POST" and info.path == "/logout" and not caller.startswith("key:"):
            csrf = login(client, caller)
    assert failures == [], "\n".join(failures)


def test_every_non_public_route_refuses_anonymous_callers(client, app, world):
    failures = []
    for info, method in _routes(app):
        path = info.path
        for param in info.params:
            path = _replace_param(path, param, "1")
        for auth in ("anonymous", "bogus key"):
            if auth == "anonymous":
                # a valid anonymous session and CSRF token, so CSRF is not the reason
                headers = {"X-CSRF-Token": csrf_of(client)}
            else:
                headers = {"Authorization": "Bearer mmr_bogus0000000_x"}
            r = client.request(method, path, headers=headers, json={} if method in UNSAFE else None)
            if path.startswith("/api/"):
                ok = r.status_code == 401
            else:
                ok = r.status_code == 303 and r.headers["location"].startswith("/login")
            if not ok:
                failures.append(f"{auth} {method} {path}: {r.status_code}")
    assert failures == [], "\n".join(failures)


def test_public_routes_answer_without_login(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/static/mamori.css").status_code == 200


def test_walker_knows_every_path_parameter_in_use(app):
    used = {p for info in iter_routes(app.routes) for p in info.params}
    assert used <= set(PATH_PARAMS), used - set(PATH_PARAMS)


def test_registered_json_bodies_are_serialisable(world):
    for factory in BODIES.values():
        probe = factory(world)
        json.dumps(probe.json)


def test_every_form_on_every_page_carries_the_csrf_token(client, app, db, world):
    """Render every GET page as an administrator; each POST form must have the token."""
    login(client, "root")
    pages = 0
    failures = []
    for info, method in _routes(app):
        if method != "GET" or info.path.startswith("/api/"):
            continue
        path = info.path
        with db.sessionmaker() as session:
            for param in info.params:
                path = _replace_param(path, param, PATH_PARAMS[param](world, session))
        r = client.get(path)
        if r.status_code != 200 or "text/html" not in r.headers.get("content-type", ""):
            continue
        pages += 1
        token = csrf_of(client)
        for form in re.findall(r"<form\b.*?</form>", r.text, flags=re.S | re.I):
            if re.search(r'method="post"', form, flags=re.I) and (
                f'name="csrf_token" value="{token}"' not in form
            ):
                failures.append(f"{path}: {form[:80]}")
    assert pages >= 5
    assert failures == [], "\n".join(failures)
