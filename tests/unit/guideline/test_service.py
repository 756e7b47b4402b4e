from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mamori.errors import NotFoundError, ValidationError
from mamori.guideline.checks import Observations
from mamori.guideline.service import GuidelineService

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture()
def svc(tmp_path):
    return GuidelineService.on_disk(tmp_path, max_evidence_bytes=1024)


def test_tenant_cannot_read_other_tenants_assessment(svc, jama):
    a = svc.create(tenant="acme", framework=jama, title="2026")
    assert svc.get(tenant="acme", assessment_id=a.id).title == "2026"
    with pytest.raises(NotFoundError):
        svc.get(tenant="other", assessment_id=a.id)
    with pytest.raises(NotFoundError):
        svc.answer(tenant="other", assessment_id=a.id, item_id="1", status="対策完了")
    with pytest.raises(NotFoundError):
        svc.get(tenant="acme", assessment_id="../other/x")
    assert svc.list_assessments(tenant="other") == []
    assert [x.id for x in svc.list_assessments(tenant="acme")] == [a.id]


def test_tenant_cannot_read_other_tenants_evidence(svc, jama):
    a = svc.create(tenant="acme", framework=jama)
    b = svc.create(tenant="other", framework=jama)
    ref = svc.upload_evidence(
        tenant="acme", assessment_id=a.id, item_id="143", stream=PDF, filename="logs.pdf", actor="u"
    )
    got, data = svc.open_evidence(tenant="acme", assessment_id=a.id, sha256=ref.sha256)
    assert data == PDF and got.filename == "logs.pdf"
    with pytest.raises(NotFoundError):
        svc.open_evidence(tenant="other", assessment_id=a.id, sha256=ref.sha256)
    with pytest.raises(NotFoundError):  # own assessment, but evidence not attached to it
        svc.open_evidence(tenant="other", assessment_id=b.id, sha256=ref.sha256)


def test_evidence_upload_rejections(svc, jama):
    a = svc.create(tenant="acme", framework=jama)
    with pytest.raises(ValidationError, match="larger than the limit"):
        svc.upload_evidence(
            tenant="acme", assessment_id=a.id, item_id="1", stream=b"x" * 2000, filename="a.txt"
        )
    with pytest.raises(ValidationError, match="not allowed"):
        svc.upload_evidence(
            tenant="acme", assessment_id=a.id, item_id="1", stream=b"MZ\x00\x00", filename="a.exe"
        )
    with pytest.raises(NotFoundError):
        svc.upload_evidence(
            tenant="acme", assessment_id=a.id, item_id="999", stream=PDF, filename="a.pdf"
        )
    assert svc.get(tenant="acme", assessment_id=a.id).answers == {}


def test_questionnaire_progress_dashboard(svc, jama):
    a = svc.create(tenant="acme", framework=jama, target_level=1)
    svc.answer(tenant="acme", assessment_id=a.id, item_id="1", status="対策完了")
    svc.answer(tenant="acme", assessment_id=a.id, item_id="143", status="対策完了")
    progress = {p.no: p for p in svc.label_progress(tenant="acme", assessment_id=a.id)}
    assert progress[1].answered == 1 and progress[1].total == 3
    assert progress[0].name_ja == "ラベル未確定" and progress[0].total == 37
    contradicted = svc.record_observations(
        tenant="acme",
        assessment_id=a.id,
        observations=Observations(at=datetime(2026, 1, 1, tzinfo=UTC), retention_days=1),
    )
    assert contradicted == ["143"]
    rows = svc.questionnaire(tenant="acme", assessment_id=a.id, label=23)
    row = next(r for r in rows if r.item.id == "143")
    assert row.contradicted and row.check is not None and row.check.passed is False
    assert len(svc.questionnaire(tenant="acme", assessment_id=a.id, label=0)) == 37
    with pytest.raises(NotFoundError):
        svc.questionnaire(tenant="acme", assessment_id=a.id, label=99)
    d = svc.dashboard(tenant="acme", assessment_id=a.id)
    assert d["score"]["rates_by_level"]["1"] is not None
    assert d["level_chart_svg"].startswith("<svg") and d["label_radar_svg"].startswith("<svg")
    assert "mamori assess import" in d["notice"]
    with pytest.raises(ValidationError):
        svc.record_observations(
            tenant="acme",
            assessment_id=a.id,
            observations=Observations(at=datetime(2026, 1, 1, tzinfo=UTC), tenant="other"),
        )
    with pytest.raises(ValidationError):
        svc.set_target_level(tenant="acme", assessment_id=a.id, level=5)
    assert svc.set_target_level(tenant="acme", assessment_id=a.id, level=3).target_level == 3


def test_compare_and_sheets(svc, jama, tmp_path, sheet_rows, make_sheet):
    a = svc.create(tenant="acme", framework=jama)
    b = svc.create(tenant="acme", framework=jama)
    svc.answer(tenant="acme", assessment_id=b.id, item_id="1", status="対策完了")
    c = svc.compare(tenant="acme", earlier_id=a.id, later_id=b.id)
    assert [x.item_id for x in c.improved] == ["1"]
    with pytest.raises(NotFoundError):
        svc.compare(tenant="other", earlier_id=a.id, later_id=b.id)
    sheet_rows[1]["answer"] = "未対策"
    path = make_sheet(tmp_path / "s.xlsx", sheet_rows)
    result = svc.import_sheet(tenant="acme", assessment_id=b.id, path=path)
    assert result.changed == 1 and result.kept == 1
    out = svc.export_sheet(
        tenant="acme", assessment_id=b.id, workbook=path, dest=tmp_path / "o.xlsx"
    )
    assert out.written == 2
