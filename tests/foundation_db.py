"""Reusable fixtures for tests that need a migrated database, the web app or a test world.

Import the fixtures you need into your folder's ``conftest.py``::

    from foundation_db import app, client, db, migrated_sqlite, settings, world  # noqa: F401

``migrated_sqlite`` runs the migrations once per session; every test then gets its own
copy of that file, so tests never see each other's rows.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():
    # Starlette 1.x would rather use the ``httpx2`` package; ``httpx`` (a declared
    # dependency of mamori) still works, so only this import-time notice is silenced.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from mamori.config import Settings
from mamori.store.db import Database
from mamori.store.passwords import make_hasher
from mamori.store.repos import apikeys, tenants, users
from mamori.store.tables import ApiKey, Role, Tenant, User

PASSWORD = "correct-horse-battery-1"  # noqa: S105 - test credential
SECRET = "test-secret-key-" + "x" * 40  # noqa: S105 - test credential
B_MARKER = "zzbmarker"


def make_settings(data_dir: Path, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "secret_key": SECRET,
        "fast_password_hashing": True,
        "login_max_failures": 3,
        "login_lock_minutes": 15,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied (made once per test session)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    database.dispose()
    return path


@pytest.fixture
def settings(tmp_path: Path, migrated_sqlite: Path) -> Settings:
    target = tmp_path / "mamori.db"
    shutil.copyfile(migrated_sqlite, target)
    return make_settings(tmp_path, f"sqlite:///{target}")


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    yield database
    database.dispose()


@dataclass
class World:
    """Two tenants (A and B) with one user of every role and keys of each purpose."""

    tenant_a: Tenant
    tenant_b: Tenant
    admin: User
    operator_a: User
    operator_b: User
    cadmin_a: User
    viewer_a: User
    cadmin_b: User
    viewer_b: User
    keys: dict[str, tuple[ApiKey, str]]  # "<tenant>-<purpose>" -> (key, token)

    def token(self, name: str) -> str:
        return self.keys[name][1]


def build_world(database: Database, settings: Settings) -> World:
    hasher = make_hasher(settings)
    with database.session() as s:
        a = tenants.create_tenant(s, slug="tenant-a", name="株式会社エー部品")
        b = tenants.create_tenant(s, slug=f"{B_MARKER}-b", name=f"ビー工業 {B_MARKER}")

        def user(name: str, role: Role, tenant: Tenant | None = None, **kw: object) -> User:
            return users.create_user(
                s,
                username=name,
                password=PASSWORD,
                role=role,
                tenant_id=tenant.id if tenant else None,
                hasher=hasher,
                **kw,  # type: ignore[arg-type]
            )

        world = World(
            tenant_a=a,
            tenant_b=b,
            admin=user("root", Role.ADMIN),
            operator_a=user("op-a", Role.OPERATOR, assigned_tenant_ids=[a.id]),
            operator_b=user(f"op-{B_MARKER}", Role.OPERATOR, assigned_tenant_ids=[b.id]),
            cadmin_a=user("cadmin-a", Role.CUSTOMER_ADMIN, a),
            viewer_a=user("viewer-a", Role.CUSTOMER_VIEWER, a),
            cadmin_b=user(f"cadmin-{B_MARKER}", Role.CUSTOMER_ADMIN, b, display_name=B_MARKER),
            viewer_b=user(f"viewer-{B_MARKER}", Role.CUSTOMER_VIEWER, b),
            keys={},
        )
        for tenant, label in ((a, "a"), (b, "b")):
            for purpose in apikeys.PURPOSES:
                world.keys[f"{label}-{purpose}"] = apikeys.create_api_key(
                    s, tenant_id=tenant.id, purpose=purpose, name=f"{label}-{purpose}"
                )
    return world


@pytest.fixture
def world(db: Database, settings: Settings) -> World:
    return build_world(db, settings)


@pytest.fixture
def app(settings: Settings, db: Database) -> FastAPI:
    from mamori.web.app import create_app

    return create_app(settings, db=db)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as c:
        yield c


def csrf_of(client: TestClient) -> str:
    """The CSRF token of the client's current session cookie (fetching one if needed)."""
    codec = client.app.state.session_codec  # type: ignore[attr-defined]
    session = codec.decode(client.cookies.get("mamori_session"))
    if session is None:
        client.get("/login")
        session = codec.decode(client.cookies.get("mamori_session"))
    assert session is not None
    return str(session.csrf)


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the new session's CSRF token."""
    client.cookies.clear()
    token = csrf_of(client)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    return csrf_of(client)


__all__ = [
    "B_MARKER",
    "PASSWORD",
    "World",
    "app",
    "build_world",
    "client",
    "csrf_of",
    "db",
    "login",
    "make_settings",
    "migrated_sqlite",
    "settings",
    "world",
]
