"""SQL storage of guideline assessments and evidence (GuidelineService's protocols) on SQLite.

The same checks run on PostgreSQL in ``tests/integration/store/test_store_guideline_pg.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from mamori.errors import NotFoundError, ValidationError
from mamori.guideline import Status, load_builtin
from mamori.guideline.assessment import CheckRecord, assessment_to_dict
from mamori.guideline.service import GuidelineService
from mamori.store.repos import guideline as repo
from mamori.store.repos import tenants
from mamori.store.tables import (
    GuidelineAnswerHistory,
    GuidelineEvidence,
    GuidelineEvidenceBlob,
    Tenant,
)

PDF = b"%PDF-1.4\n% test evidence\n" + b"x" * 100


def service(session) -> GuidelineService:
    return GuidelineService(
        repo.SqlAssessmentRepository(session),
        repo.SqlEvidenceBlobs(session),
        max_evidence_bytes=4096,
    )


def exercise_roundtrip(database) -> None:
    """Create, answer, attach evidence, record a check, reload: everything survives."""
    fw = load_builtin("jama-japia")
    with database.session() as s:
        tenants.create_tenant(s, slug="acme", name="アクメ")
        tenants.create_tenant(s, slug="other", name="他社")
    with database.session() as s:
        svc = service(s)
        a = svc.create(tenant="acme", framework=fw, title="2026年度", target_level=2)
        svc.answer(tenant="acme", assessment_id=a.id, item_id="1", status="対策完了", actor="u1")
        svc.answer(
            tenant="acme",
            assessment_id=a.id,
            item_id="2",
            status=Status.NOT_APPLICABLE,
            reason="該当業務なし",
            comment="確認済み",
            owner="情報システム課",
            due="2026-12-01",
            effort_days=1.5,
            actor="u1",
        )
        svc.answer(tenant="acme", assessment_id=a.id, item_id="2", status="一部対策", actor="u2")
        ref = svc.upload_evidence(
            tenant="acme",
            assessment_id=a.id,
            item_id="1",
            stream=PDF,
            filename="policy.pdf",
            actor="u1",
        )
        loaded = svc.get(tenant="acme", assessment_id=a.id)
        loaded.checks["146"] = CheckRecord(
            item_id="146",
            check="investigation_logs",
            passed=False,
            at=datetime(2026, 11, 1, tzinfo=UTC),
            summary_ja="保存期間が不足",
            evidence={"days": 30},
        )
        svc.assessments.save(loaded)
        assessment_id = a.id
    with database.session() as s:
        svc = service(s)
        back = svc.get(tenant="acme", assessment_id=assessment_id)
        assert back.title == "2026年度" and back.target_level == 2
        assert back.status("1") is Status.DONE
        two = back.answer("2")
        assert two.status is Status.PARTIAL
        assert (two.reason, two.comment, two.owner) == (
            "該当業務なし",
            "確認済み",
            "情報システム課",
        )
        assert two.due == date(2026, 12, 1) and two.effort_days == 1.5
        assert two.answered_by == "u2"
        assert [h.item_id for h in back.history] == ["1", "2", "2", "1"]
        assert back.history[-1].source == "evidence"
        assert back.checks["146"].passed is False and back.checks["146"].evidence == {"days": 30}
        assert back.answer("1").evidence[0].sha256 == ref.sha256
        got_ref, data = svc.open_evidence(
            tenant="acme", assessment_id=assessment_id, sha256=ref.sha256
        )
        assert data == PDF and got_ref.size == len(PDF) and got_ref.media_type == "application/pdf"
        # saving an unchanged assessment adds nothing and keeps the same document
        before = assessment_to_dict(back)
        svc.assessments.save(back)
        assert assessment_to_dict(svc.get(tenant="acme", assessment_id=assessment_id)) == before
        assert s.scalar(select(func.count()).select_from(GuidelineAnswerHistory)) == 4
        # another tenant sees nothing
        with pytest.raises(NotFoundError):
            svc.get(tenant="other", assessment_id=assessment_id)
        with pytest.raises(NotFoundError):
            svc.open_evidence(tenant="other", assessment_id=assessment_id, sha256=ref.sha256)
        with pytest.raises(NotFoundError):
            repo.SqlEvidenceBlobs(s).open("other", ref.sha256)
        assert svc.list_assessments(tenant="other") == []
        assert [x.id for x in svc.list_assessments(tenant="acme")] == [assessment_id]
        assert svc.list_assessments(tenant="nobody") == []


def test_roundtrip_on_sqlite(db):
    exercise_roundtrip(db)


def test_evidence_is_stored_once_per_tenant_and_checked(db):
    with db.session() as s:
        tenants.create_tenant(s, slug="acme", name="アクメ")
    fw = load_builtin("jama-japia")
    with db.session() as s:
        svc = service(s)
        a = svc.create(tenant="acme", framework=fw)
        b = svc.create(tenant="acme", framework=fw)
        for target in (a, b):
            svc.upload_evidence(
                tenant="acme", assessment_id=target.id, item_id="3", stream=PDF, filename="x.pdf"
            )
        assert s.scalar(select(func.count()).select_from(GuidelineEvidenceBlob)) == 1
        assert s.scalar(select(func.count()).select_from(GuidelineEvidence)) == 2
        with pytest.raises(ValidationError, match="larger than the limit"):
            svc.upload_evidence(
                tenant="acme",
                assessment_id=a.id,
                item_id="3",
                stream=b"%PDF-" + b"x" * 5000,
                filename="big.pdf",
            )
        with pytest.raises(ValidationError, match="not allowed"):
            svc.upload_evidence(
                tenant="acme",
                assessment_id=a.id,
                item_id="3",
                stream=b"MZ\x90\x00",
                filename="a.exe",
            )
        # deleting one assessment keeps the bytes the other still uses
        tenant_id = tenants.get_tenant_by_slug(s, slug="acme").id
        repo.delete_assessment(s, tenant_id=tenant_id, assessment_id=a.id)
        assert s.scalar(select(func.count()).select_from(GuidelineEvidenceBlob)) == 1
        repo.delete_assessment(s, tenant_id=tenant_id, assessment_id=b.id)
        assert s.scalar(select(func.count()).select_from(GuidelineEvidenceBlob)) == 0
        with pytest.raises(NotFoundError):
            repo.delete_assessment(s, tenant_id=tenant_id, assessment_id=b.id)


def test_corrupted_blob_is_reported(db):
    with db.session() as s:
        t = tenants.create_tenant(s, slug="acme", name="アクメ")
        sha = repo.put_blob(s, tenant_id=t.id, data=PDF, media_type="application/pdf")
        assert repo.put_blob(s, tenant_id=t.id, data=PDF, media_type="application/pdf") == sha
        row = s.scalar(select(GuidelineEvidenceBlob))
        row.data = b"tampered"
        s.flush()
        with pytest.raises(ValidationError, match="corrupted"):
            repo.get_blob(s, tenant_id=t.id, sha256=sha)


def test_history_may_not_shrink_and_unknown_tenant_refused(db):
    fw = load_builtin("jama-japia")
    with db.session() as s:
        tenants.create_tenant(s, slug="acme", name="アクメ")
        svc = service(s)
        a = svc.create(tenant="acme", framework=fw)
        svc.answer(tenant="acme", assessment_id=a.id, item_id="1", status="未対策")
        loaded = svc.get(tenant="acme", assessment_id=a.id)
        loaded.history.clear()
        with pytest.raises(ValidationError, match="history may only grow"):
            svc.assessments.save(loaded)
    with db.session() as s, pytest.raises(ValidationError, match="does not exist"):
        service(s).create(tenant="ghost", framework=fw)


def test_assessment_of_another_tenant_cannot_be_overwritten(db):
    fw = load_builtin("jama-japia")
    with db.session() as s:
        tenants.create_tenant(s, slug="acme", name="アクメ")
        tenants.create_tenant(s, slug="other", name="他社")
        svc = service(s)
        a = svc.create(tenant="acme", framework=fw)
        stolen = svc.get(tenant="acme", assessment_id=a.id)
        stolen.tenant = "other"
        with pytest.raises(NotFoundError):
            svc.assessments.save(stolen)
        assert (
            repo.tenant_of_assessment(s, assessment_id=a.id)
            == tenants.get_tenant_by_slug(s, slug="acme").id
        )
        with pytest.raises(NotFoundError):
            repo.tenant_of_assessment(s, assessment_id="nope")


def test_concurrent_change_is_refused_not_lost(db):
    exercise_conflict(db)


def exercise_conflict(db) -> None:
    """Two sessions change the same assessment; the second save is refused, nothing lost."""
    fw = load_builtin("jama-japia")
    with db.session() as s:
        if s.scalar(select(func.count()).select_from(Tenant).where(Tenant.slug == "acme")) == 0:
            tenants.create_tenant(s, slug="acme", name="アクメ")
        aid = service(s).create(tenant="acme", framework=fw).id
    first = db.sessionmaker()
    second = db.sessionmaker()
    try:
        one, two = service(first), service(second)
        a1 = one.get(tenant="acme", assessment_id=aid)
        a2 = two.get(tenant="acme", assessment_id=aid)
        two.answer(tenant="acme", assessment_id=aid, item_id="2", status="未対策", actor="b")
        second.commit()
        from mamori.guideline.assessment import framework_of, set_answer

        set_answer(a1, framework_of(a1), "1", "対策完了", actor="a")
        with pytest.raises(repo.ConflictError, match="changed by someone else"):
            one.assessments.save(a1)
        first.rollback()
        assert a2.answers == {}
    finally:
        first.close()
        second.close()
    with db.session() as s:
        back = service(s).get(tenant="acme", assessment_id=aid)
        assert back.status("2") is Status.NOT_DONE and back.status("1") is None
        assert len(back.history) == 1


def test_only_changed_answers_are_written(db):
    fw = load_builtin("jama-japia")
    with db.session() as s:
        tenants.create_tenant(s, slug="acme", name="アクメ")
        svc = service(s)
        aid = svc.create(tenant="acme", framework=fw).id
        for n in range(1, 11):
            svc.answer(tenant="acme", assessment_id=aid, item_id=str(n), status="未対策")
    with db.session() as s:
        svc = service(s)
        a = svc.get(tenant="acme", assessment_id=aid)
        from mamori.guideline.assessment import framework_of, set_answer

        set_answer(a, framework_of(a), "3", "対策完了")
        del a.answers["4"]
        statements: list[str] = []
        from sqlalchemy import event

        def seen(_conn, _cursor, statement, *_args):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            svc.assessments.save(a)
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        updates = [x for x in statements if x.startswith("UPDATE guideline_answers")]
        deletes = [x for x in statements if x.startswith("DELETE FROM guideline_answers")]
        assert len(updates) == 1 and len(deletes) == 1
    with db.session() as s:
        back = service(s).get(tenant="acme", assessment_id=aid)
        assert back.status("3") is Status.DONE and "4" not in back.answers
        assert back.status("5") is Status.NOT_DONE


def test_guideline_branch_downgrades_and_upgrades_again(tmp_path):
    from alembic import command
    from sqlalchemy import inspect

    from mamori.store.db import _alembic_config, make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        upgrade(engine)
        names = {t for t in inspect(engine).get_table_names() if t.startswith("guideline_")}
        assert len(names) == 6
        command.downgrade(_alembic_config(engine), "guideline_0001-1")
        inspector = inspect(engine)
        assert not any(t.startswith("guideline_") for t in inspector.get_table_names())
        assert inspector.has_table("tenants")
        upgrade(engine)
        assert {t for t in inspect(engine).get_table_names() if t.startswith("guideline_")} == names
    finally:
        engine.dispose()


def test_blob_stored_concurrently_is_not_an_error(db, monkeypatch):
    exercise_blob_race(db, monkeypatch)


def exercise_blob_race(db, monkeypatch) -> None:
    """The existence check misses a row another request just stored: no error, one row."""
    with db.session() as s:
        t = tenants.create_tenant(s, slug="race", name="競合")
        tenant_id = t.id
        sha = repo.put_blob(s, tenant_id=tenant_id, data=PDF, media_type="application/pdf")
    calls = []
    real = repo._blob

    def racing(session, tid, digest):
        calls.append(digest)
        return None if len(calls) == 1 else real(session, tid, digest)

    monkeypatch.setattr(repo, "_blob", racing)
    with db.session() as s:
        # the existence check misses the row another request just stored
        assert repo.put_blob(s, tenant_id=tenant_id, data=PDF, media_type="application/pdf") == sha
        assert repo.get_blob(s, tenant_id=tenant_id, sha256=sha) == PDF
    with db.session() as s:
        count = select(func.count()).select_from(GuidelineEvidenceBlob)
        assert s.scalar(count.where(GuidelineEvidenceBlob.tenant_id == tenant_id)) == 1
