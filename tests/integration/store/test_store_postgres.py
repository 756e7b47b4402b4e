"""The same migrations and repositories on a real PostgreSQL server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from mamori.store.db import Database, current_revisions, head_revisions
from mamori.store.passwords import make_hasher
from mamori.store.repos import apikeys, audit, tenants, users
from mamori.store.tables import Base
from mamori.store.types import utcnow

pytestmark = pytest.mark.db


@pytest.fixture
def pg_db(postgres_url):
    database = Database(postgres_url)
    database.upgrade()
    yield database
    database.dispose()


def test_migrations_run_and_match_models_on_postgres(pg_db):
    assert pg_db.engine.dialect.name == "postgresql"
    assert current_revisions(pg_db.engine) == head_revisions(pg_db.engine)
    pg_db.upgrade()  # idempotent
    with pg_db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_repository_roundtrip_on_postgres(pg_db, settings):
    hasher = make_hasher(settings)
    with pg_db.session() as s:
        t = tenants.create_tenant(s, slug="acme", name="株式会社アクメ")
        users.create_user(
            s,
            username="viewer",
            password="a-good-password-1",
            role="customer_viewer",
            tenant_id=t.id,
            hasher=hasher,
        )
        _key, token = apikeys.create_api_key(s, tenant_id=t.id, purpose="ingest")
        audit.record(s, action="test.pg", actor="t", tenant_id=t.id, detail={"名前": "値"})
    with pg_db.session() as s:
        assert tenants.get_tenant_by_slug(s, slug="acme").name == "株式会社アクメ"
        result = users.authenticate(
            s,
            username="viewer",
            password="a-good-password-1",
            hasher=hasher,
            max_failures=3,
            lock_minutes=1,
        )
        assert result.ok
        key = apikeys.resolve_api_key(s, token=token)
        assert key is not None and key.last_used_at is not None
        assert key.last_used_at > utcnow() - timedelta(minutes=5)
        assert audit.verify(s).ok


def test_constraints_hold_on_postgres(pg_db):
    with pytest.raises(Exception, match="ck_users_role_tenant"), pg_db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, display_name, password_hash, role, language,"
                " active, failed_logins, created_at)"
                " VALUES ('x', '', 'h', 'customer_admin', 'ja', true, 0, now())"
            )
        )


def test_audit_tamper_detected_on_postgres(pg_db):
    with pg_db.session() as s:
        for i in range(4):
            audit.record(s, action="test.pg", actor=f"a{i}")
    with pg_db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET target = 'x' WHERE seq = 2"))
    with pg_db.session() as s:
        result = audit.verify(s)
    assert not result.ok and result.broken_seq == 2
