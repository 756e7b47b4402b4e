"""Shared helpers of the service integration tests: cases, assessments, check sheets."""

from __future__ import annotations

from pathlib import Path

from foundation_db import World
from mamori.guideline import load_builtin
from mamori.guideline.service import GuidelineService
from mamori.service.onboarding import Inquiry
from mamori.store.db import Database
from mamori.store.repos import guideline as guideline_repo
from mamori.store.repos import service as repo
from mamori.store.tables import Tenant
from tests.unit.guideline.conftest import full_sheet_rows, write_sheet


def open_case(
    db: Database, *, tenant: Tenant | None = None, company: str = "株式会社テスト"
) -> int:
    """A case at stage inquiry (linked to ``tenant`` when given, as an existing customer's)."""
    with db.sessionmaker() as s:
        row = repo.open_case(
            s, inquiry=Inquiry(company, "担当 太郎", "t@example.jp", "相談です"), actor="test"
        )
        if tenant is not None:
            row.tenant_id = tenant.id
        s.commit()
        return row.id


def store_assessment(
    db: Database, tenant: Tenant, answers: dict[str, str], *, title: str = "自己評価"
) -> str:
    """A stored JAMA/JAPIA assessment of ``tenant`` with ``answers`` (item -> status)."""
    with db.sessionmaker() as s:
        service = GuidelineService(
            guideline_repo.SqlAssessmentRepository(s), guideline_repo.SqlEvidenceBlobs(s)
        )
        a = service.create(tenant=tenant.slug, framework=load_builtin("jama-japia"), title=title)
        for item, status in answers.items():
            reason = "対象外の理由" if status == "対象外" else None
            service.answer(
                tenant=tenant.slug,
                assessment_id=a.id,
                item_id=item,
                status=status,
                reason=reason,
                actor="test",
            )
        s.commit()
        return a.id


def filled_sheet(path: Path, answers: dict[int, str]) -> Path:
    """The official check sheet layout (the guideline area's test workbook), answered."""
    rows = full_sheet_rows(load_builtin("jama-japia"))
    for row in rows:
        if row["no"] in answers:
            row["answer"] = answers[row["no"]]
    write_sheet(path, rows)
    return path


def tenant_of(world: World, name: str) -> Tenant:
    return world.tenant_a if name == "a" else world.tenant_b
