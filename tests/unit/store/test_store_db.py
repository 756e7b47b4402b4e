from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from mamori.errors import ConfigError
from mamori.store.db import (
    Database,
    current_revisions,
    head_revisions,
    make_engine,
    normalise_url,
    upgrade,
)
from mamori.store.repos import tenants
from mamori.store.tables import Base, Tenant


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(db):
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_foreign_keys_are_enforced(db):
    with pytest.raises(Exception, match="FOREIGN KEY"), db.session() as s:
        s.execute(
            text(
                "INSERT INTO api_keys (tenant_id, name, purpose, prefix, secret_hash, created_at)"
                " VALUES (999, 'x', 'api', 'p', 'h', '2026-01-01')"
            )
        )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_normalise_url_picks_psycopg3(given, expected):
    assert normalise_url(given) == expected


def test_unsupported_or_malformed_url_is_a_config_error():
    with pytest.raises(ConfigError, match="unsupported database"):
        make_engine("mysql://u@h/d")
    with pytest.raises(ConfigError, match="not valid"):
        make_engine("::not a url::")


def test_unreachable_postgres_fails_with_one_line_reason():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    database = Database(f"postgresql://nobody@127.0.0.1:{port}/none")
    with pytest.raises(ConfigError) as info:
        database.upgrade()
    message = str(info.value)
    assert message.startswith("cannot reach database postgresql+psycopg://nobody@127.0.0.1")
    assert "\n" not in message
    database.dispose()


def test_upgrade_is_idempotent_and_reaches_every_head(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert current_revisions(engine) == set()
    upgrade(engine)
    upgrade(engine)
    assert current_revisions(engine) == head_revisions(engine)
    engine.dispose()


def test_migrations_match_the_models(db):
    """A table or column added to the models without a migration fails here."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_timestamps_come_back_as_aware_utc(db):
    jst = timezone(timedelta(hours=9))
    with db.session() as s:
        t = tenants.create_tenant(s, slug="tz", name="TZ")
        t.created_at = datetime(2026, 1, 1, 9, 0, tzinfo=jst)
    with db.session() as s:
        loaded = s.scalar(select(Tenant).where(Tenant.slug == "tz"))
        assert loaded is not None
        assert loaded.created_at == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
        assert loaded.created_at.tzinfo is not None


def test_session_rolls_back_on_error(db):
    with pytest.raises(RuntimeError), db.session() as s:
        tenants.create_tenant(s, slug="gone", name="Gone")
        raise RuntimeError("boom")
    with db.session() as s:
        assert tenants.list_tenants(s) == []
