from __future__ import annotations

import pytest
from openpyxl import load_workbook

from mamori.errors import CatalogueError, ValidationError
from mamori.guideline.assessment import Status, new_assessment, set_answer
from mamori.guideline.checksheet import (
    ColumnMapping,
    apply_checksheet,
    export_checksheet,
    find_layout,
    read_checksheet,
)
from mamori.guideline.loader import CatalogueValidationError
from mamori.guideline.models import LabelSource, ProvenanceStatus
from mamori.guideline.scoring import score


def test_detect_layout_with_title_cover_and_merged(tmp_path, sheet_rows, make_sheet):
    path = make_sheet(tmp_path / "s.xlsx", sheet_rows)
    layout = find_layout(path)
    assert layout.sheet == "チェックシート"
    assert layout.header_row == 4
    assert layout.columns == {
        "answer": 6,
        "comment": 7,
        "condition": 4,
        "label": 2,
        "level": 5,
        "no": 1,
        "requirement": 3,
    }


def test_import_becomes_verified_catalogue(tmp_path, jama, sheet_rows, make_sheet):
    sheet_rows[0]["answer"] = "対策完了"
    sheet_rows[142]["answer"] = "一部対策"
    sheet_rows[4]["answer"] = "対象外"
    sheet_rows[4]["comment"] = "該当する従業員がいない"
    path = make_sheet(tmp_path / "s.xlsx", sheet_rows)
    imp = read_checksheet(path, base=jama)
    fw = imp.framework
    assert fw.provenance_counts().verified == 153
    assert fw.item(8).requirement == "要求事項8の公式文言"
    assert fw.item(8).label == 2  # from the merged label cell
    assert fw.item(8).provenance.label_source is LabelSource.SHEET
    assert fw.item(153).level == 2
    assert len(fw.items_within_level(1)) == 50
    assert len(fw.items_within_level(2)) == 124
    assert imp.answers == {"1": Status.DONE, "143": Status.PARTIAL, "5": Status.NOT_APPLICABLE}
    assert imp.rows["1"] == 5


def test_existing_answers_survive_import(tmp_path, jama, sheet_rows, make_sheet):
    a = new_assessment(jama, tenant="acme")
    set_answer(a, jama, 2, "未対策", comment="来期対応")
    set_answer(a, jama, 1, "未対策")
    sheet_rows[0]["answer"] = "対策完了"
    path = make_sheet(tmp_path / "s.xlsx", sheet_rows)
    result = apply_checksheet(a, read_checksheet(path, base=jama), actor="importer")
    assert result.changed == 1 and result.kept == 1
    assert a.answer(1).status is Status.DONE
    assert a.answer(2).status is Status.NOT_DONE and a.answer(2).comment == "来期対応"
    assert a.catalogue is not None and a.catalogue.provenance_counts().verified == 153
    assert a.history[-1].source == "import:s.xlsx"
    assert score(a.catalogue, a).verified == 153


def test_no_header(tmp_path, sheet_rows, make_sheet):
    path = make_sheet(tmp_path / "s.xlsx", sheet_rows, headings=("a", "b", "c", "d", "e", "f", "g"))
    with pytest.raises(CatalogueError, match="no recognisable check-sheet header"):
        find_layout(path)


def test_explicit_mapping_when_detection_fails(tmp_path, jama, sheet_rows, make_sheet):
    sheet_rows[2]["answer"] = "未対策"
    path = make_sheet(
        tmp_path / "s.xlsx",
        sheet_rows,
        headings=("番", "区分", "内容", "基準", "水準", "状態", "メモ"),
    )
    mapping = ColumnMapping.parse(
        ["sheet=チェックシート,header=4", "no=A,label=B,requirement=C,condition=D,level=E,answer=F"]
    )
    imp = read_checksheet(path, base=jama, mapping=mapping)
    assert imp.answers == {"3": Status.NOT_DONE}
    assert imp.framework.item(3).requirement == "要求事項3の公式文言"


def test_mapping_errors():
    with pytest.raises(ValidationError):
        ColumnMapping.parse(["colour=A"])
    with pytest.raises(ValidationError):
        ColumnMapping.parse(["no=?"])
    with pytest.raises(ValidationError):
        ColumnMapping.parse(["header=0"])
    with pytest.raises(ValidationError):
        ColumnMapping.parse(["no"])
    m = ColumnMapping.parse(["value:○=対策完了,value:×=未対策,no=1"])
    assert m.answer_values == {"○": Status.DONE, "×": Status.NOT_DONE}
    assert m.columns == {"no": 1}


def test_wrong_answer_values_all_reported(tmp_path, jama, sheet_rows, make_sheet):
    sheet_rows[0]["answer"] = "やった"
    sheet_rows[9]["answer"] = "○"
    sheet_rows[11]["answer"] = "対象外"  # no reason
    sheet_rows[20]["answer"] = "対策完了"
    path = make_sheet(tmp_path / "s.xlsx", sheet_rows)
    with pytest.raises(CatalogueValidationError) as info:
        read_checksheet(path, base=jama)
    text = str(info.value)
    assert "チェックシート!F5" in text and "やった" in text
    assert "チェックシート!F14" in text and "○" in text
    assert "チェックシート!F16" in text and "reason" in text
    assert len(info.value.problems) == 3
    lenient = read_checksheet(path, base=jama, strict=False)
    assert lenient.answers == {"21": Status.DONE}
    assert len(lenient.problems) == 3
    # the alias mapping makes ○ acceptable
    m = ColumnMapping(answer_values={"○": Status.DONE})
    assert read_checksheet(path, base=jama, mapping=m, strict=False).answers["10"] is Status.DONE


def test_duplicate_numbers(tmp_path, jama, sheet_rows, make_sheet):
    sheet_rows[5]["no"] = 5
    path = make_sheet(tmp_path / "s.xlsx", sheet_rows, merge_labels=False)
    with pytest.raises(CatalogueValidationError, match="duplicate item number 5"):
        read_checksheet(path, base=jama)


def test_formula_without_value_and_unknown_label(tmp_path, jama, sheet_rows, make_sheet):
    sheet_rows[3]["no"] = "=A7+1"
    sheet_rows[6]["label"] = "謎のラベル"
    path = make_sheet(tmp_path / "s.xlsx", sheet_rows, merge_labels=False)
    with pytest.raises(CatalogueValidationError) as info:
        read_checksheet(path, base=jama)
    text = str(info.value)
    assert "チェックシート!A8" in text and "formula" in text
    assert "unknown label '謎のラベル'" in text


def test_not_a_workbook(tmp_path, jama):
    bad = tmp_path / "x.xlsx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CatalogueError, match="not a readable .xlsx"):
        read_checksheet(bad, base=jama)
    with pytest.raises(CatalogueError, match="not found"):
        read_checksheet(tmp_path / "none.xlsx", base=jama)


def test_partial_sheet_keeps_derived_items(tmp_path, jama, sheet_rows, make_sheet):
    path = make_sheet(tmp_path / "s.xlsx", sheet_rows[:10], extra_sheets=False, formulas=False)
    imp = read_checksheet(path, base=jama)
    counts = imp.framework.provenance_counts()
    assert counts.verified == 10
    assert imp.framework.item(50).provenance.status is ProvenanceStatus.DERIVED
    assert imp.warnings and "143" in imp.warnings[0]


def test_export_into_copy_keeps_layout_and_formulas(tmp_path, jama, sheet_rows, make_sheet):
    src = make_sheet(tmp_path / "official.xlsx", sheet_rows)
    before = src.read_bytes()
    a = new_assessment(jama, tenant="acme")
    set_answer(a, jama, 1, "対策完了")
    set_answer(a, jama, 143, "一部対策", comment="保存期間90日")
    set_answer(a, jama, 5, "対象外", reason="該当者なし")
    result = export_checksheet(a, src, tmp_path / "out" / "submit.xlsx")
    assert result.written == 3
    assert src.read_bytes() == before  # the original is untouched
    orig = load_workbook(src)
    out = load_workbook(result.path)
    assert out.sheetnames == orig.sheetnames
    ws, ows = out["チェックシート"], orig["チェックシート"]
    assert ws["F5"].value == "対策完了"
    assert ws["F147"].value == "一部対策" and ws["G147"].value == "保存期間90日"
    assert ws["G9"].value == "該当者なし"
    changed = {"F5", "F147", "G147", "F9", "G9"}
    for row in ows.iter_rows():
        for cell in row:
            if cell.coordinate not in changed:
                assert ws[cell.coordinate].value == cell.value, cell.coordinate
    assert ws["H5"].value == '=IF(F5="対策完了",1,0)'
    assert out["集計"]["B1"].value == orig["集計"]["B1"].value
    assert {str(r) for r in ws.merged_cells.ranges} == {str(r) for r in ows.merged_cells.ranges}
    assert ws.column_dimensions["C"].width == 60
    assert len(ws.data_validations.dataValidation) == 1
    # round trip: importing the exported copy gives the same answers
    again = read_checksheet(result.path, base=jama)
    assert again.answers == {"1": Status.DONE, "143": Status.PARTIAL, "5": Status.NOT_APPLICABLE}


def test_export_refuses_original_and_existing(tmp_path, jama, sheet_rows, make_sheet):
    src = make_sheet(tmp_path / "official.xlsx", sheet_rows)
    a = new_assessment(jama, tenant="acme")
    with pytest.raises(ValidationError, match="copy"):
        export_checksheet(a, src, src)
    (tmp_path / "exists.xlsx").write_bytes(b"x")
    with pytest.raises(ValidationError, match="exists"):
        export_checksheet(a, src, tmp_path / "exists.xlsx")


def test_export_reports_formula_and_dropdown(tmp_path, jama, sheet_rows, make_sheet):
    sheet_rows[0]["answer"] = '=IF(1,"対策完了","")'
    src = make_sheet(tmp_path / "official.xlsx", sheet_rows)
    a = new_assessment(jama, tenant="acme")
    set_answer(a, jama, 1, "対策完了")
    with pytest.raises(CatalogueValidationError, match="formula"):
        export_checksheet(a, src, tmp_path / "o.xlsx")
    assert not (tmp_path / "o.xlsx").exists()
    # a sheet whose drop-down uses ○/× needs the alias mapping
    rows = [dict(r, answer=None) for r in sheet_rows]
    src2 = make_sheet(tmp_path / "marks.xlsx", rows, validation=False)
    wb = load_workbook(src2)
    from openpyxl.worksheet.datavalidation import DataValidation

    dv = DataValidation(type="list", formula1='"○,△,×,-"')
    wb["チェックシート"].add_data_validation(dv)
    dv.add("F5:F157")
    wb.save(src2)
    with pytest.raises(CatalogueValidationError, match="drop-down"):
        export_checksheet(a, src2, tmp_path / "o2.xlsx")
    m = ColumnMapping.parse(["value:○=対策完了,value:△=一部対策,value:×=未対策"])
    res = export_checksheet(a, src2, tmp_path / "o2.xlsx", mapping=m)
    assert load_workbook(res.path)["チェックシート"]["F5"].value == "○"


def test_heading_variants_prefer_exact(tmp_path, jama, sheet_rows, make_sheet):
    rows = [dict(r, answer="未対策") for r in sheet_rows]
    path = make_sheet(
        tmp_path / "v.xlsx",
        rows,
        headings=(
            "項番",
            "ラベル",
            "チェック項目 (要求事項)",
            "達成\n条件",
            "Lv",
            "回答",
            "コメント",
        ),
        header_row=2,
    )
    layout = find_layout(path)
    assert layout.header_row == 2
    assert layout.columns["requirement"] == 3 and layout.columns["answer"] == 6
    assert layout.columns["condition"] == 4 and layout.columns["level"] == 5
    imp = read_checksheet(path, base=jama)
    assert len(imp.answers) == 153


def test_two_row_header_with_group_heading(tmp_path, jama, sheet_rows, make_sheet):
    path = make_sheet(
        tmp_path / "g.xlsx",
        [dict(r, answer="一部対策") for r in sheet_rows],
        headings=("No.", "ラベル", "要求事項", "達成条件", "レベル", "自己評価", ""),
        header_row=3,
        sub_headings=("", "", "", "", "", "回答", ""),
    )
    imp = read_checksheet(path, base=jama)
    assert imp.layout.header_row == 3 and imp.layout.columns["answer"] == 6
    assert set(imp.answers.values()) == {Status.PARTIAL} and len(imp.answers) == 153


def test_example_sheet_with_same_header_is_not_chosen(tmp_path, jama, sheet_rows, make_sheet):
    path = make_sheet(tmp_path / "s.xlsx", sheet_rows)
    wb = load_workbook(path)
    example = wb.create_sheet("記入例", 0)
    example.append(["No.", "ラベル", "要求事項", "達成条件", "レベル", "実施状況", "備考"])
    example.append([1, "方針", "例", "例", "Lv1", "対策完了", "記入例"])
    wb.save(path)
    assert find_layout(path).sheet == "チェックシート"


def test_export_refuses_answer_cell_merged_over_items(tmp_path, jama, sheet_rows, make_sheet):
    src = make_sheet(tmp_path / "m.xlsx", sheet_rows, validation=False)
    wb = load_workbook(src)
    wb["チェックシート"].merge_cells("F5:F6")
    wb.save(src)
    a = new_assessment(jama, tenant="acme")
    set_answer(a, jama, 1, "対策完了")
    with pytest.raises(CatalogueValidationError, match="merged cell spans several rows"):
        export_checksheet(a, src, tmp_path / "o.xlsx")
    assert not (tmp_path / "o.xlsx").exists()


def test_label_spellings(tmp_path, jama, sheet_rows, make_sheet):
    rows = [dict(r) for r in sheet_rows]
    rows[0]["label"] = "1.方針"
    rows[3]["label"] = "②機密情報を扱うルール"
    rows[12]["label"] = "体制(平時)について"
    rows[17]["label"] = 5
    path = make_sheet(tmp_path / "l.xlsx", rows, merge_labels=False)
    fw = read_checksheet(path, base=jama).framework
    assert (fw.item(1).label, fw.item(4).label, fw.item(13).label, fw.item(18).label) == (
        1,
        2,
        4,
        5,
    )
