"""Storage of invitations and the gap lookups, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import inspect, select

from mamori.errors import NotFoundError, ValidationError
from mamori.guideline import load_builtin
from mamori.guideline.service import GuidelineService
from mamori.service.invite import InvitationUnusableError, hash_token
from mamori.store.db import Database, _alembic_config, current_revisions, head_revisions
from mamori.store.passwords import make_hasher, verify_password
from mamori.store.repos import audit, tenants, users
from mamori.store.repos import guideline as guideline_repo
from mamori.store.repos import service as repo
from mamori.store.repos import service_invites as invites
from mamori.store.tables import InvitationRow, Role
from mamori.store.types import utcnow

PASSWORD = "Kirin-Sakura-2026!"


def _admin(s, settings, slug: str = "acme"):
    tenant = tenants.create_tenant(s, slug=slug, name=f"{slug} 株式会社")
    return users.create_user(
        s,
        username=f"{slug}-admin",
        password="Initial-Password-1!",
        role=Role.CUSTOMER_ADMIN,
        tenant_id=tenant.id,
        hasher=make_hasher(settings),
    )


def _check_invitations(database: Database, settings) -> None:
    hasher = make_hasher(settings)
    with database.session() as s:
        admin = _admin(s, settings)
        row, token = invites.create_invitation(
            s, user=admin, email="a@acme.example.jp", valid_for=timedelta(hours=1), actor="op"
        )
        assert row.token_hash == hash_token(token) and token not in row.token_hash
        user_id, first_id = admin.id, row.id
    with database.session() as s, pytest.raises(ValidationError):  # the link stays usable
        invites.accept_invitation(s, token=token, password="x", hasher=hasher)
    with database.session() as s:
        user = invites.accept_invitation(s, token=token, password=PASSWORD, hasher=hasher)
        assert verify_password(hasher, user.password_hash, PASSWORD)
    with database.session() as s:
        with pytest.raises(InvitationUnusableError, match="already been used"):
            invites.accept_invitation(s, token=token, password="Other-Password-2!", hasher=hasher)
        assert s.get(InvitationRow, first_id).used_at is not None
        admin = users.get_user(s, user_id=user_id)
        _, second = invites.create_invitation(
            s, user=admin, email="a@acme.example.jp", valid_for=timedelta(hours=1), actor="op"
        )
        _, third = invites.create_invitation(
            s, user=admin, email="a@acme.example.jp", valid_for=timedelta(hours=1), actor="op"
        )
    with database.session() as s:
        with pytest.raises(InvitationUnusableError, match="newer invitation"):
            invites.find_invitation(s, token=second)
        with pytest.raises(InvitationUnusableError, match="expired"):
            invites.find_invitation(s, token=third, now=utcnow() + timedelta(hours=2))
        with pytest.raises(InvitationUnusableError, match="not valid"):
            invites.find_invitation(s, token="x" * 500)
        assert invites.find_invitation(s, token=third).user_id == user_id
        assert audit.verify(s).ok


def _race(database: Database, settings, token: str) -> list[str]:
    """Two requests redeem the same token at the same moment: what each got."""
    hasher = make_hasher(settings)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def work(n: int) -> None:
        with database.session() as s:
            barrier.wait()
            try:
                invites.accept_invitation(s, token=token, password=f"{PASSWORD}{n}", hasher=hasher)
                s.commit()
                outcomes.append("ok")
            except InvitationUnusableError:
                outcomes.append("refused")
            except Exception as exc:  # noqa: BLE001 - a lock timeout counts as refused
                outcomes.append(f"refused:{type(exc).__name__}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_invitations_hash_expire_revoke_and_work_once_on_sqlite(db, settings):
    _check_invitations(db, settings)


def test_a_token_redeemed_twice_at_once_works_once_on_sqlite(db, settings):
    with db.session() as s:
        admin = _admin(s, settings)
        _, token = invites.create_invitation(
            s, user=admin, email="a@x.jp", valid_for=timedelta(hours=1), actor="op"
        )
    outcomes = _race(db, settings, token)
    assert outcomes.count("ok") == 1 and len(outcomes) == 2


def test_only_a_tenants_user_is_invited(db, settings, world):
    with db.session() as s:
        operator = users.get_user(s, user_id=world.operator_a.id)
        with pytest.raises(ValidationError, match="tenant"):
            invites.create_invitation(
                s, user=operator, email="o@x.jp", valid_for=timedelta(hours=1), actor="root"
            )
        admin = users.get_user(s, user_id=world.cadmin_a.id)
        with pytest.raises(ValidationError, match="valid"):
            invites.create_invitation(
                s, user=admin, email="a@x.jp", valid_for=timedelta(0), actor="root"
            )


def test_gap_lookups_follow_the_tenant_scope(db, world):
    with db.session() as s:
        service = GuidelineService(
            guideline_repo.SqlAssessmentRepository(s), guideline_repo.SqlEvidenceBlobs(s)
        )
        jama = load_builtin("jama-japia")
        old = service.create(tenant=world.tenant_a.slug, framework=jama, title="old")
        service.answer(
            tenant=world.tenant_a.slug, assessment_id=old.id, item_id="1", status="未対策"
        )
        s.flush()
        new = service.create(tenant=world.tenant_a.slug, framework=jama, title="new")
        service.answer(
            tenant=world.tenant_a.slug, assessment_id=new.id, item_id="142", status="一部対策"
        )
        b = service.create(tenant=world.tenant_b.slug, framework=jama, title="b")
        old_id, new_id, b_id = old.id, new.id, b.id
    with db.session() as s:
        from mamori.store.tables import GuidelineAssessment

        s.get(GuidelineAssessment, old_id).created_at = utcnow() - timedelta(days=30)
    with db.session() as s:
        latest = repo.latest_assessment_gaps(s, tenant_id=world.tenant_a.id)
        assert latest is not None and latest.reference == new_id and latest.items == (142,)
        assert repo.latest_assessment_gaps(s, tenant_id=world.cadmin_a.id + 10_000) is None
        visible = repo.gap_assessments(s, tenant_ids=[world.tenant_a.id])
        assert [a.id for a, _t in visible] == [new_id, old_id]
        assert repo.assessment_gaps(s, assessment_id=old_id).items == (1,)
        with pytest.raises(NotFoundError):
            repo.assessment_gaps(s, assessment_id=b_id, tenant_ids=[world.tenant_a.id])
        with pytest.raises(NotFoundError):
            repo.assessment_gaps(s, assessment_id="missing")


def test_the_invitation_migration_downgrades_and_upgrades_again(db):
    cfg = _alembic_config(db.engine)
    command.downgrade(cfg, "service_0001")
    names = set(inspect(db.engine).get_table_names())
    assert "service_invitations" not in names and "service_cases" in names
    db.upgrade()
    assert "service_invitations" in set(inspect(db.engine).get_table_names())
    assert current_revisions(db.engine) == head_revisions(db.engine)


# --- PostgreSQL --------------------------------------------------------------------------


@pytest.fixture
def pg_db(postgres_url):
    database = Database(postgres_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.mark.db
def test_invitations_on_postgres(pg_db, settings):
    assert "service_invitations" in set(inspect(pg_db.engine).get_table_names())
    _check_invitations(pg_db, settings)


@pytest.mark.db
def test_a_token_redeemed_twice_at_once_works_once_on_postgres(pg_db, settings):
    with pg_db.session() as s:
        admin = _admin(s, settings, "race")
        _, token = invites.create_invitation(
            s, user=admin, email="a@x.jp", valid_for=timedelta(hours=1), actor="op"
        )
    outcomes = _race(pg_db, settings, token)
    assert outcomes.count("ok") == 1 and len(outcomes) == 2
    with pg_db.session() as s:
        assert s.scalar(select(InvitationRow.used_at)) is not None
