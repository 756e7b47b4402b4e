"""Guideline gaps for the proposal: from assessments, from check sheets, into the course."""

from __future__ import annotations

import pytest

from mamori.errors import CatalogueError, ValidationError
from mamori.guideline import load_builtin, new_assessment, set_answer
from mamori.service.gaps import (
    Gap,
    GapSet,
    gaps_from_assessment,
    gaps_from_checksheet,
    gaps_from_checksheet_bytes,
)
from mamori.service.recommend import normalise_gaps, recommend_course
from mamori.service.text import Text
from tests.unit.guideline.conftest import full_sheet_rows, write_sheet

COMM = Text("通信制御", "Communication control")
MALWARE = Text("マルウェア対策", "Malware protection")
POLICY = Text("方針", "Policy")


def _gap(item: int, label: int, name: Text, level: int, status: str = "未対策") -> Gap:
    return Gap(item=item, label=label, label_name=name, level=level, status=status)


@pytest.fixture(scope="module")
def jama():
    return load_builtin("jama-japia")


# --- the pure recommendation with several gap sets --------------------------------------


def test_an_unlisted_item_of_a_network_label_pushes_towards_a_network_course():
    # No.97 is not in the item mapping; its label (17 通信制御) is a network label
    result = recommend_course(8, "none", [_gap(97, 17, COMM, 1)])
    assert result.course.id == "small-network"
    assert result.network_gaps == (97,)
    assert result.addressed_gaps == (97,)
    network_reason = next(r for r in result.reasons if "UTM" in r.ja)
    assert "「通信制御」No.97 Lv1" in network_reason.ja
    assert "Communication control: No.97 Lv1" in network_reason.en


def test_endpoint_and_policy_gaps_keep_the_endpoint_course():
    gaps = [_gap(140, 22, MALWARE, 2, "一部対策"), _gap(1, 1, POLICY, 1)]
    result = recommend_course(8, "none", gaps)
    assert result.course.id == "endpoint"
    assert result.network_gaps == ()
    assert result.addressed_gaps == (140,)  # label 22 is an endpoint label
    assert result.remaining_gaps == (1,)
    assert any(r.ja.startswith("自己評価の未対応項目: Lv1 1件、Lv2 1件") for r in result.reasons)
    assert any("Lv1 is the baseline" in r.en for r in result.reasons)


def test_a_large_network_and_network_gaps_choose_the_network_course():
    gaps = [_gap(103, 17, COMM, 2), _gap(146, 23, Text("不正アクセスの検知", "Detection"), 2)]
    result = recommend_course(40, "large", gaps)
    assert result.course.id == "network"
    assert result.addressed_gaps == (103, 146)
    assert result.remaining_gaps == ()
    data = result.to_dict("en")
    assert data["network_gaps"] == [103, 146]
    assert data["gaps"][0]["description"] == "No.103 (Communication control, Lv2, not done)"
    assert result.to_dict("ja")["gaps"][0]["description"] == "No.103（通信制御・Lv2・未対策）"


def test_a_network_gap_with_more_devices_than_the_small_model_takes_the_network_course():
    result = recommend_course(40, "none", [_gap(108, 17, COMM, 2)])
    assert result.course.id == "network"
    assert result.addressed_gaps == (108,)
    assert any("40台はネットワーク&端末監視コース" in r.ja for r in result.reasons)


def test_no_gaps_and_no_network_is_endpoint_without_level_reason():
    result = recommend_course(3, "none", [])
    assert result.course.id == "endpoint"
    assert not any("Lv" in r.ja for r in result.reasons)


def test_typed_numbers_and_detailed_gaps_merge_keeping_the_details():
    merged = normalise_gaps(["103", _gap(103, 17, COMM, 2), 5], 153)
    assert [g.item for g in merged] == [5, 103]
    assert merged[1].label == 17


@pytest.mark.parametrize("bad", [[Gap(0)], [Gap(154)], [_gap(200, 17, COMM, 1)]])
def test_gaps_outside_the_guideline_are_refused(bad):
    with pytest.raises(ValidationError, match="not guideline item numbers"):
        recommend_course(3, "none", bad)


# --- gaps from an assessment ------------------------------------------------------------


def test_unmet_items_of_an_assessment_become_gaps(jama):
    a = new_assessment(jama, tenant="acme", title="2026年度")
    set_answer(a, jama, "103", "未対策")
    set_answer(a, jama, "137", "一部対策")
    set_answer(a, jama, "1", "対策完了")
    set_answer(a, jama, "2", "対象外", reason="本社のみ")
    found = gaps_from_assessment(a)
    assert found.items == (103, 137)
    assert (found.answered, found.item_count, found.unanswered) == (4, 153, 149)
    first = found.gaps[0]
    assert (first.label, first.level, first.status) == (17, 2, "未対策")
    assert first.label_name == Text("通信制御", "Communication control")
    assert first.summary is not None and first.summary.ja
    assert found.source == "assessment" and found.reference == a.id
    assert "2026年度" in found.describe_source().ja
    assert GapSet.from_dict(found.to_dict()) == found
    result = recommend_course(10, "none", found.gaps)
    assert result.course.id == "small-network"  # the open No.103 asks for the UTM


def test_an_assessment_of_another_framework_is_refused(jama):
    from dataclasses import replace

    a = replace(new_assessment(jama, tenant="acme"), framework_id="meti-scs")
    with pytest.raises(ValidationError, match="JAMA/JAPIA"):
        gaps_from_assessment(a)


def test_stored_gap_sets_are_checked():
    with pytest.raises(ValidationError, match="unknown gap source"):
        GapSet.from_dict({"source": "rumour", "gaps": []})
    with pytest.raises(ValidationError, match="whole item number"):
        GapSet.from_dict({"source": "sheet", "gaps": [{"item": "103"}]})


# --- gaps from a filled check sheet (the guideline area's layout, built with openpyxl) ---


def _filled_sheet(tmp_path, jama, answers: dict[int, tuple[str, str | None]]):
    rows = full_sheet_rows(jama)
    for row in rows:
        if row["no"] in answers:
            row["answer"], row["comment"] = answers[row["no"]]
    path = tmp_path / "チェックシート_見込み客.xlsx"
    write_sheet(path, rows)
    return path


def test_a_filled_check_sheet_gives_its_unmet_items(tmp_path, jama):
    path = _filled_sheet(
        tmp_path,
        jama,
        {
            103: ("未対策", None),
            97: ("一部対策", None),
            140: ("未対策", None),
            1: ("対策完了", None),
            12: ("対象外", "該当する取引なし"),
        },
    )
    found = gaps_from_checksheet(path)
    assert found.items == (97, 103, 140)
    assert found.source == "sheet" and found.reference == path.name
    assert found.answered == 5
    # the sheet's own wording is the item text (the import made the items verified)
    assert found.gaps[0].summary == Text("要求事項97の公式文言", "要求事項97の公式文言")
    assert found.gaps[0].level == int(full_sheet_rows(jama)[96]["level"][2:])
    result = recommend_course(6, "none", found.gaps)
    assert result.course.id == "small-network"
    assert result.addressed_gaps == (97, 103, 140)


def test_uploaded_bytes_are_checked_before_reading(tmp_path, jama):
    data = _filled_sheet(tmp_path, jama, {142: ("未対策", None)}).read_bytes()
    assert gaps_from_checksheet_bytes(data, filename="sheet.xlsx").items == (142,)
    with pytest.raises(ValidationError, match="empty"):
        gaps_from_checksheet_bytes(b"", filename="sheet.xlsx")
    with pytest.raises(ValidationError, match=r"\.xlsx"):
        gaps_from_checksheet_bytes(b"No.,answer\n1,x\n", filename="sheet.csv")
    with pytest.raises(ValidationError, match="over"):
        gaps_from_checksheet_bytes(data, filename="sheet.xlsx", max_bytes=100)


def test_a_sheet_without_answers_or_with_a_bad_answer_is_refused(tmp_path, jama):
    empty = _filled_sheet(tmp_path, jama, {})
    with pytest.raises(ValidationError, match="no answers"):
        gaps_from_checksheet(empty)
    bad = _filled_sheet(tmp_path, jama, {5: ("たぶん", None)})
    with pytest.raises(CatalogueError) as info:
        gaps_from_checksheet(bad)
    assert "F" in str(info.value)  # the answer cell is named


def test_a_workbook_that_is_not_a_check_sheet_is_refused(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "売上表"
    path = tmp_path / "other.xlsx"
    wb.save(path)
    with pytest.raises(CatalogueError):
        gaps_from_checksheet(path)
