from __future__ import annotations

import pytest

from mamori.errors import CatalogueError, NotFoundError, ValidationError
from mamori.guideline.assessment import Status, new_assessment, set_answer
from mamori.guideline.loader import CatalogueValidationError, dump_catalogue, parse_catalogue
from mamori.guideline.meti import (
    accept_proposal,
    load_meti_csv,
    parse_jama_refs,
    parse_meti_csv,
    propose_answers,
    reject_proposal,
)


@pytest.fixture(scope="module")
def meti(shared_data):
    from mamori.guideline.loader import load_builtin

    return load_meti_csv(
        shared_data / "guideline/meti-scs-criteria-2026-03.csv", jama=load_builtin()
    )


def test_parse_refs():
    assert parse_jama_refs("No.9 (LV1), No.10 (LV2) ") == [(9, 1), (10, 2)]
    assert parse_jama_refs("No.98, 102 (LV2)") == [(98, 2), (102, 2)]
    assert parse_jama_refs("No.103,\nNo.104 (LV2) ,\nNo.115 (Lv1)") == [
        (103, 2),
        (104, 2),
        (115, 1),
    ]
    assert parse_jama_refs("No.28, No.29, No.30\u3000(LV1)") == [(28, 1), (29, 1), (30, 1)]
    assert parse_jama_refs("") == []


def test_framework(meti):
    fw = meti.framework
    assert fw.id == "meti-scs" and fw.version == "2026-03"
    assert len(fw.items) == 153
    assert len(fw.items_within_level(3)) == 81
    assert len(fw.items_within_level(4)) == 153
    assert [lb.name_ja for lb in fw.labels][:2] == ["ガバナンスの整備", "取引先管理"]
    assert fw.item("4-4-3-1").refs["jama-japia"] == ("53", "143")
    assert fw.provenance_counts().verified == 153
    # round trip through the catalogue format
    again = parse_catalogue(dump_catalogue(fw), path="meti.yaml")
    assert again.items == fw.items


def test_crossref(meti):
    x = meti.crossref
    assert set(x.meti_for("115")) >= {"4-1-5-1", "4-5-1-2"}
    assert x.jama_for("1-1-1-1") == ["9", "10"]
    assert "No.36 is cited as Lv1 and Lv2" in meti.warnings


def test_bad_csv():
    header = (
        "大分類No.,大分類,中分類No.,中分類,要求事項No.,要求事項名,要求事項,★3/★4,"
        "評価基準No.,評価基準,自工会/部工会 2.3\n"
    )
    with pytest.raises(CatalogueError, match="lacks columns"):
        parse_meti_csv("a,b\n1,2\n")
    rows = (
        header
        + "1,ガバナンス,1-1,組織,1-1-1,ルール,要求,★5,1-1-1-1,基準,No.9 (LV1)\n"
        + "1,ガバナンス,1-1,組織,1-1-1,ルール,要求,★3,1-1-1-2,基準,No.999 (LV1)\n"
        + "1,ガバナンス,1-1,組織,1-1-1,ルール,要求,★3,x,基準,\n"
        + "1,ガバナンス,1-1,組織,1-1-1,ルール,要求,★3,1-1-1-3,基準,\n"
        + "1,ガバナンス,1-1,組織,1-1-1,ルール,要求,★3,1-1-1-3,基準,\n"
    )
    from mamori.guideline.loader import load_builtin

    with pytest.raises(CatalogueValidationError) as info:
        parse_meti_csv(rows, path="m.csv", jama=load_builtin())
    msgs = [str(p) for p in info.value.problems]
    assert len(msgs) == 4
    assert msgs[0].startswith("m.csv:2:") and "★5" in msgs[0]
    assert "No.999" in msgs[1] and "not like" in msgs[2] and "duplicate" in msgs[3]


def test_proposals_need_consent(meti, jama):
    fw_m = meti.framework
    j = new_assessment(jama, tenant="acme")
    m = new_assessment(fw_m, tenant="acme")
    set_answer(j, jama, 9, "対策完了")
    set_answer(j, jama, 10, "未対策")
    set_answer(j, jama, 11, "対策完了")
    set_answer(m, fw_m, "1-1-1-2", "未対策")
    proposals = {p.item_id: p for p in propose_answers(j, m, fw_m, meti.crossref)}
    assert proposals["1-1-1-1"].status is Status.PARTIAL  # No.9 done, No.10 not
    assert proposals["1-1-1-3"].status is Status.DONE
    assert proposals["1-1-1-2"].status is Status.DONE
    assert "現在の回答: 未対策" in proposals["1-1-1-2"].basis
    # nothing applied yet
    assert m.status("1-1-1-2") is Status.NOT_DONE and m.status("1-1-1-3") is None
    accept_proposal(m, fw_m, proposals["1-1-1-3"].id, actor="u")
    assert m.status("1-1-1-3") is Status.DONE
    assert m.history[-1].source.startswith("proposal:jama-japia")
    reject_proposal(m, proposals["1-1-1-2"].id)
    assert m.status("1-1-1-2") is Status.NOT_DONE
    with pytest.raises(NotFoundError):
        accept_proposal(m, fw_m, proposals["1-1-1-2"].id)
    # and the other direction: METI answers propose JAMA answers
    back = {p.item_id: p for p in propose_answers(m, j, jama, meti.crossref)}
    assert back["9"].status is Status.PARTIAL  # 1-1-1-1 unanswered, 1-1-1-3 done
    with pytest.raises(ValidationError):
        propose_answers(j, j, jama, meti.crossref)
    other = new_assessment(fw_m, tenant="other")
    with pytest.raises(ValidationError):
        propose_answers(j, other, fw_m, meti.crossref)
