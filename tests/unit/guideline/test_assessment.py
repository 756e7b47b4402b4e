from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from mamori.errors import NotFoundError, ValidationError
from mamori.guideline.assessment import (
    EvidenceRef,
    Status,
    add_evidence,
    ensure_tenant,
    framework_of,
    load_assessment,
    new_assessment,
    save_assessment,
    set_answer,
)


def test_status_parse():
    assert Status.parse("対策完了") is Status.DONE
    assert Status.parse(" 一部対策 ") is Status.PARTIAL
    assert Status.parse("not done") is Status.NOT_DONE
    assert Status.parse("na") is Status.NOT_APPLICABLE
    assert Status.parse("○", extra={"○": Status.DONE}) is Status.DONE
    with pytest.raises(ValidationError, match="対策完了 / 一部対策 / 未対策 / 対象外"):
        Status.parse("たぶん")


def test_answers_and_history(jama):
    a = new_assessment(jama, tenant="acme")
    set_answer(a, jama, 1, "対策完了", owner="佐藤", actor="u1")
    set_answer(a, jama, 1, comment="規程第3条", actor="u2")
    assert a.answer(1).status is Status.DONE
    assert a.answer(1).owner == "佐藤" and a.answer(1).comment == "規程第3条"
    assert [h.actor for h in a.history] == ["u1", "u2"]
    assert a.history[1].before["status"] == "対策完了"
    # unchanged answer: no new history entry
    set_answer(a, jama, 1, "対策完了", actor="u3")
    assert len(a.history) == 2
    set_answer(a, jama, "2", "未対策", due="2027/03/31")
    assert a.answer(2).due == date(2027, 3, 31)


def test_bad_answers(jama):
    a = new_assessment(jama, tenant="acme")
    with pytest.raises(ValidationError, match="needs a reason"):
        set_answer(a, jama, 5, "対象外")
    assert a.answer(5).status is None and not a.history
    set_answer(a, jama, 5, "対象外", reason="機密情報を扱う従業員がいない")
    with pytest.raises(NotFoundError):
        set_answer(a, jama, 154, "対策完了")
    with pytest.raises(ValidationError):
        set_answer(a, jama, 6, "maybe")
    with pytest.raises(ValidationError):
        set_answer(a, jama, 6, due="next week")
    with pytest.raises(ValidationError):
        set_answer(a, jama, 6, effort_days=-1)
    with pytest.raises(ValidationError):
        new_assessment(jama, tenant=" ")
    with pytest.raises(ValidationError):
        new_assessment(jama, tenant="x", target_level=4)


def test_tenant_isolation(jama):
    a = new_assessment(jama, tenant="acme")
    assert ensure_tenant(a, "acme") is a
    with pytest.raises(NotFoundError):
        ensure_tenant(a, "other")


def test_roundtrip_file(jama, tmp_path):
    a = new_assessment(jama, tenant="acme", title="2026年度", target_level=2)
    set_answer(a, jama, 143, "一部対策", owner="情シス", due=date(2027, 1, 31), effort_days=2.5)
    ref = EvidenceRef("ab" * 32, 10, "application/pdf", "log.pdf", datetime(2026, 1, 1, tzinfo=UTC))
    add_evidence(a, jama, 143, ref, actor="u1")
    add_evidence(a, jama, 143, ref, actor="u1")  # same hash: once
    assert len(a.answer(143).evidence) == 1
    path = save_assessment(a, tmp_path / "a.json")
    b = load_assessment(path)
    assert b.answers == a.answers
    assert b.history == a.history
    assert b.target_level == 2 and b.title == "2026年度"
    assert framework_of(b).key == "jama-japia@2.3"


def test_load_errors(tmp_path):
    with pytest.raises(NotFoundError):
        load_assessment(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValidationError, match="not JSON"):
        load_assessment(bad)
    bad.write_text(json.dumps({"kind": "other"}), encoding="utf-8")
    with pytest.raises(ValidationError, match="not a mamori assessment"):
        load_assessment(bad)
    bad.write_text(json.dumps({"kind": "mamori-guideline-assessment"}), encoding="utf-8")
    with pytest.raises(ValidationError, match="malformed"):
        load_assessment(bad)


def test_simple_files(tmp_path, jama):
    from mamori.guideline.scoring import score

    j = tmp_path / "simple.json"
    j.write_text(
        json.dumps({"answers": {"1": "対策完了", "2": {"status": "一部対策", "owner": "総務"}}})
    )
    a = load_assessment(j)
    assert a.tenant == "local" and a.framework_key == "jama-japia@2.3"
    assert a.answer(2).owner == "総務"
    y = tmp_path / "simple.yaml"
    y.write_text(
        "framework: jama-japia\ntenant: acme\nanswers:\n"
        "  1: 対策完了\n  5: {status: 対象外, reason: なし}\n"
    )
    b = load_assessment(y)
    assert b.tenant == "acme" and b.status(5) is Status.NOT_APPLICABLE
    c = tmp_path / "answers.csv"
    c.write_text("\ufeffNo,回答,備考\n1,対策完了,\n143,一部対策,90日\n,,\n", encoding="utf-8")
    d = load_assessment(c)
    assert d.status(143) is Status.PARTIAL and d.answer(143).comment == "90日"
    assert score(jama, d).levels[1].achieved == 1
    with pytest.raises(ValidationError, match="JSON"):
        save_assessment(d, c)


def test_simple_file_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValidationError, match="header"):
        load_assessment(bad)
    bad.write_text("no,status\n1,対策完了\n1,未対策\n")
    with pytest.raises(ValidationError, match="duplicate item 1"):
        load_assessment(bad)
    bad.write_text("no,status\n1,対象外\n")
    with pytest.raises(ValidationError, match="needs a reason"):
        load_assessment(bad)
    bad.write_text("no,status\n1,たぶん\n")
    with pytest.raises(ValidationError, match="unknown answer"):
        load_assessment(bad)
    y = tmp_path / "bad.yaml"
    y.write_text("answers: [1, 2\n")
    with pytest.raises(ValidationError, match="not YAML"):
        load_assessment(y)
