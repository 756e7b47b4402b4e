from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from mamori.errors import DuplicateError, NotFoundError, ValidationError
from mamori.store.passwords import make_hasher
from mamori.store.repos import apikeys, audit, tenants, users
from mamori.store.repos.users import LoginOutcome
from mamori.store.tables import AuditLog, Role
from mamori.store.types import utcnow

PW = "a-good-password-1"


@pytest.fixture
def hasher(settings):
    return make_hasher(settings)


# --- tenants ---------------------------------------------------------------------------


def test_tenant_create_get_list_update(db):
    with db.session() as s:
        t = tenants.create_tenant(s, slug="acme", name="  株式会社アクメ ", retention_days=90)
        tenants.create_tenant(s, slug="beta", name="Beta")
    with db.session() as s:
        got = tenants.get_tenant_by_slug(s, slug="acme")
        assert got.name == "株式会社アクメ" and got.retention_days == 90 and got.active
        assert [x.slug for x in tenants.list_tenants(s)] == ["acme", "beta"]
        assert [x.slug for x in tenants.list_tenants(s, tenant_ids=[t.id])] == ["acme"]
        assert tenants.list_tenants(s, tenant_ids=[]) == []
        tenants.update_tenant(s, tenant=got, name="New", active=False)
    with db.session() as s:
        assert tenants.get_tenant(s, tenant_id=t.id).name == "New"
        assert tenants.list_tenants(s, active_only=True)[0].slug == "beta"


@pytest.mark.parametrize("slug", ["", "Acme", "a b", "-x", "x-", "x" * 64, "ａｃｍｅ", "a_b"])
def test_bad_slugs_are_refused(db, slug):
    with pytest.raises(ValidationError), db.session() as s:
        tenants.create_tenant(s, slug=slug, name="x")


def test_duplicate_slug_and_bad_values(db):
    with db.session() as s:
        tenants.create_tenant(s, slug="acme", name="A")
    with pytest.raises(DuplicateError), db.session() as s:
        tenants.create_tenant(s, slug="acme", name="B")
    with pytest.raises(ValidationError), db.session() as s:
        tenants.create_tenant(s, slug="new", name="   ")
    with pytest.raises(ValidationError), db.session() as s:
        tenants.create_tenant(s, slug="new", name="x", retention_days=0)
    with pytest.raises(NotFoundError), db.session() as s:
        tenants.get_tenant(s, tenant_id=12345)
    with pytest.raises(NotFoundError), db.session() as s:
        tenants.get_tenant_by_slug(s, slug="nope")


# --- users -----------------------------------------------------------------------------


def test_user_roles_and_tenants(db, hasher):
    with db.session() as s:
        t = tenants.create_tenant(s, slug="acme", name="A")
        admin = users.create_user(s, username="root", password=PW, role="admin", hasher=hasher)
        op = users.create_user(
            s,
            username="op",
            password=PW,
            role=Role.OPERATOR,
            hasher=hasher,
            assigned_tenant_ids=[t.id],
        )
        cust = users.create_user(
            s,
            username="c@example.jp",
            password=PW,
            role="customer_viewer",
            tenant_id=t.id,
            hasher=hasher,
            language="en",
        )
        assert admin.tenant_id is None and cust.tenant_id == t.id
        assert [x.slug for x in op.assigned_tenants] == ["acme"]
        assert cust.password_hash.startswith("$argon2id$") and PW not in cust.password_hash
    with db.session() as s:
        assert [u.username for u in users.list_users(s, tenant_ids=[t.id])] == ["c@example.jp"]
        assert users.count_users(s) == 3


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"role": "customer_admin"}, "needs a tenant"),
        ({"role": "admin", "tenant": True}, "does not belong"),
        ({"role": "operator", "tenant": True}, "does not belong"),
        ({"role": "root"}, "unknown role"),
        ({"role": "admin", "password": "short"}, "at least"),
        ({"role": "admin", "password": " " * 12}, "blank"),
        ({"role": "admin", "username": "bad name"}, "username"),
        ({"role": "admin", "username": ""}, "username"),
        ({"role": "admin", "language": "fr"}, "language"),
        ({"role": "customer_admin", "tenant": True, "assign": True}, "only operators"),
    ],
)
def test_user_validation(db, hasher, kwargs, error):
    with db.session() as s:
        t = tenants.create_tenant(s, slug="acme", name="A")
    with pytest.raises(ValidationError, match=error), db.session() as s:
        users.create_user(
            s,
            username=kwargs.get("username", "u1"),
            password=kwargs.get("password", PW),
            role=kwargs["role"],
            tenant_id=t.id if kwargs.get("tenant") else None,
            language=kwargs.get("language", "ja"),
            assigned_tenant_ids=[t.id] if kwargs.get("assign") else (),
            hasher=hasher,
        )


def test_duplicate_username_and_unknown_tenant(db, hasher):
    with db.session() as s:
        users.create_user(s, username="u1", password=PW, role="admin", hasher=hasher)
    with pytest.raises(DuplicateError), db.session() as s:
        users.create_user(s, username="u1", password=PW, role="admin", hasher=hasher)
    with pytest.raises(NotFoundError), db.session() as s:
        users.create_user(
            s, username="u2", password=PW, role="customer_viewer", tenant_id=999, hasher=hasher
        )


def test_update_user_role_changes_keep_the_invariants(db, hasher):
    with db.session() as s:
        t = tenants.create_tenant(s, slug="acme", name="A")
        u = users.create_user(
            s, username="u", password=PW, role="customer_viewer", tenant_id=t.id, hasher=hasher
        )
        users.update_user(s, user=u, role="customer_admin")
        assert u.role == "customer_admin" and u.tenant_id == t.id
        users.update_user(s, user=u, role="operator")
        assert u.role == "operator" and u.tenant_id is None
        users.set_assigned_tenants(s, user=u, tenant_ids=[t.id])
        assert [x.id for x in u.assigned_tenants] == [t.id]
        with pytest.raises(ValidationError):
            users.update_user(s, user=u, role="customer_admin")  # no tenant given
        with pytest.raises(ValidationError):
            users.update_user(s, user=u, role="admin", tenant_id=t.id)
        users.update_user(s, user=u, role="admin")
        assert u.assigned_tenants == []
        with pytest.raises(ValidationError):
            users.set_assigned_tenants(s, user=u, tenant_ids=[t.id])


def _auth(s, hasher, username, password, now=None):
    return users.authenticate(
        s,
        username=username,
        password=password,
        hasher=hasher,
        max_failures=3,
        lock_minutes=15,
        source_ip="192.0.2.1",
        now=now,
    )


def test_authenticate_outcomes_and_audit(db, hasher):
    with db.session() as s:
        users.create_user(s, username="alice", password=PW, role="admin", hasher=hasher)
    with db.session() as s:
        assert _auth(s, hasher, "alice", PW).outcome is LoginOutcome.OK
        assert _auth(s, hasher, "alice", "wrong-password").outcome is LoginOutcome.WRONG_PASSWORD
        assert _auth(s, hasher, "nobody", PW).outcome is LoginOutcome.UNKNOWN_USER
    with db.session() as s:
        actions = [e.action for e in reversed(audit.list_entries(s))]
        assert actions == ["auth.login", "auth.login_failed", "auth.login_failed"]
        assert {e.source_ip for e in audit.list_entries(s)} == {"192.0.2.1"}
        assert audit.verify(s).ok


def test_lock_after_failures_refuses_even_the_right_password_until_it_expires(db, hasher):
    with db.session() as s:
        users.create_user(s, username="alice", password=PW, role="admin", hasher=hasher)
    now = utcnow()
    with db.session() as s:
        assert _auth(s, hasher, "alice", "x1", now).outcome is LoginOutcome.WRONG_PASSWORD
        assert _auth(s, hasher, "alice", "x2", now).outcome is LoginOutcome.WRONG_PASSWORD
        third = _auth(s, hasher, "alice", "x3", now)
        assert third.outcome is LoginOutcome.LOCKED
        assert third.locked_until == now + timedelta(minutes=15)
    with db.session() as s:
        assert _auth(s, hasher, "alice", PW, now + timedelta(minutes=1)).outcome is (
            LoginOutcome.LOCKED
        )
        assert _auth(s, hasher, "alice", PW, now + timedelta(minutes=16)).ok
    with db.session() as s:
        actions = [e.action for e in audit.list_entries(s)]
        assert "auth.locked" in actions and "auth.login_refused_locked" in actions


def test_disabled_user_cannot_log_in(db, hasher):
    with db.session() as s:
        u = users.create_user(s, username="alice", password=PW, role="admin", hasher=hasher)
        users.update_user(s, user=u, active=False)
    with db.session() as s:
        assert _auth(s, hasher, "alice", PW).outcome is LoginOutcome.DISABLED


def test_set_password_unlocks_and_changes_hash(db, hasher):
    with db.session() as s:
        u = users.create_user(s, username="alice", password=PW, role="admin", hasher=hasher)
        u.locked_until = utcnow() + timedelta(hours=1)
        old = u.password_hash
        users.set_password(s, user=u, password="another-password-2", hasher=hasher)
        assert u.password_hash != old and u.locked_until is None
        with pytest.raises(ValidationError):
            users.set_password(s, user=u, password="short", hasher=hasher)
    with db.session() as s:
        assert _auth(s, hasher, "alice", "another-password-2").ok


# --- API keys ----------------------------------------------------------------------------


def test_api_key_roundtrip_and_secret_not_stored(db):
    with db.session() as s:
        t = tenants.create_tenant(s, slug="acme", name="A")
        key, token = apikeys.create_api_key(s, tenant_id=t.id, purpose="ingest", name="fw")
    assert token.startswith(f"mmr_{key.prefix}_")
    with db.session() as s:
        found = apikeys.resolve_api_key(s, token=token)
        assert found is not None and found.id == key.id and found.last_used_at is not None
        secret = token.split("_", 2)[2]
        dump = s.execute(text("SELECT * FROM api_keys")).all()
        assert all(secret not in str(value) for row in dump for value in row)


def test_wrong_malformed_and_revoked_tokens_resolve_to_nothing(db):
    with db.session() as s:
        t = tenants.create_tenant(s, slug="acme", name="A")
        key, token = apikeys.create_api_key(s, tenant_id=t.id, purpose="agent")
    with db.session() as s:
        assert apikeys.resolve_api_key(s, token=token[:-2] + "zz") is None
        assert apikeys.resolve_api_key(s, token="mmr_short_x") is None
        assert apikeys.resolve_api_key(s, token="garbage") is None
        assert apikeys.resolve_api_key(s, token="") is None
        apikeys.revoke_api_key(s, key=apikeys.get_api_key(s, key_id=key.id))
    with db.session() as s:
        assert apikeys.resolve_api_key(s, token=token) is None
        first = apikeys.get_api_key(s, key_id=key.id).revoked_at
        apikeys.revoke_api_key(s, key=apikeys.get_api_key(s, key_id=key.id))
        assert apikeys.get_api_key(s, key_id=key.id).revoked_at == first


def test_key_of_disabled_tenant_is_refused(db):
    with db.session() as s:
        t = tenants.create_tenant(s, slug="acme", name="A")
        _key, token = apikeys.create_api_key(s, tenant_id=t.id, purpose="api")
        tenants.update_tenant(s, tenant=t, active=False)
    with db.session() as s:
        assert apikeys.resolve_api_key(s, token=token) is None


def test_api_key_validation(db):
    with db.session() as s:
        t = tenants.create_tenant(s, slug="acme", name="A")
    with pytest.raises(ValidationError), db.session() as s:
        apikeys.create_api_key(s, tenant_id=t.id, purpose="everything")
    with pytest.raises(NotFoundError), db.session() as s:
        apikeys.create_api_key(s, tenant_id=999, purpose="api")
    with pytest.raises(NotFoundError), db.session() as s:
        apikeys.get_api_key(s, key_id=999)
    with db.session() as s:
        assert s.scalars(select(AuditLog)).all() == []


def test_last_used_is_refreshed_at_most_once_a_minute(db):
    with db.session() as s:
        t = tenants.create_tenant(s, slug="acme", name="A")
        _key, token = apikeys.create_api_key(s, tenant_id=t.id, purpose="ingest")
    start = utcnow()
    with db.session() as s:
        first = apikeys.resolve_api_key(s, token=token, now=start)
        assert first is not None and first.last_used_at == start
    with db.session() as s:
        again = apikeys.resolve_api_key(s, token=token, now=start + timedelta(seconds=30))
        assert again is not None and again.last_used_at == start
        later = apikeys.resolve_api_key(s, token=token, now=start + timedelta(seconds=61))
        assert later is not None and later.last_used_at == start + timedelta(seconds=61)
