"""Fixtures for the guideline tests: a tiny catalogue text and the built-in framework."""

from __future__ import annotations

import pytest

from mamori.guideline.loader import load_builtin, parse_catalogue
from mamori.guideline.models import Framework

TINY = """\
framework:
  id: tiny
  version: "1"
  name_ja: 小さな枠組み
  name_en: Tiny
  item_count: 6
  label_count: 2
  labels_contiguous: true
  levels:
    - {level: 1, count: 3}
    - {level: 2, count: 2}
    - {level: 3, count: 1}
labels:
  - {no: 1, name_ja: 方針, name_en: Policy}
  - {no: 2, name_ja: 検知, name_en: Detection}
items:
  - no: 1
    label: 1
    level: 1
    summary_ja: 方針を定める
    provenance: {status: derived, source: test}
  - no: 2
    label: 1
    level: 2
    summary_ja: 方針を見直す
    provenance: {status: derived, source: test}
  - no: 3
    label: 1
    level: 1
    summary_ja: 方針を周知する
    provenance: {status: derived, source: test}
  - no: 4
    label: 2
    level: 1
    summary_ja: ログを取る
    provenance: {status: derived, source: test}
  - no: 5
    label: 2
    level: 2
    summary_ja: ログを分析する
    provenance: {status: derived, source: test}
  - no: 6
    label: 2
    provenance: {status: unknown}
"""


@pytest.fixture(scope="session")
def jama() -> Framework:
    return load_builtin("jama-japia")


@pytest.fixture()
def tiny() -> Framework:
    return parse_catalogue(TINY, path="tiny.yaml")


@pytest.fixture()
def tiny_text() -> str:
    return TINY


# --------------------------------------------------------------------------- check sheets


def full_sheet_rows(jama: Framework) -> list[dict]:
    """153 consistent rows (labels contiguous, 50/74/29 levels) built from the catalogue."""
    rows = []
    extra_levels = iter([1] * 3 + [2] * 29 + [3] * 21)
    for item in jama.items:
        n = item.number
        assert n is not None
        if item.label is not None:
            label = item.label
        elif 131 <= n <= 135:
            label = 21
        elif n == 136:
            label = 22
        else:
            label = item.label_candidates[0]
        if item.level is not None:
            level = item.level
        elif n == 36:
            level = 1
        else:
            level = next(extra_levels)
        rows.append(
            {
                "no": n,
                "label": jama.label(label).name_ja,
                "requirement": f"要求事項{n}の公式文言",
                "condition": f"達成条件{n}",
                "level": f"Lv{level}",
                "answer": None,
            }
        )
    return rows


def write_sheet(
    path,
    rows: list[dict],
    *,
    header_row: int = 4,
    headings: tuple[str, ...] = (
        "No.",
        "ラベル",
        "要求事項",
        "達成条件",
        "レベル",
        "実施状況",
        "備考",
    ),
    merge_labels: bool = True,
    extra_sheets: bool = True,
    formulas: bool = True,
    validation: bool = True,
    sub_headings: tuple[str, ...] | None = None,
):
    """An official-looking check sheet: title, merged cells, cover sheet, formulas, drop-down."""
    from openpyxl import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    if extra_sheets:
        cover = wb.active
        cover.title = "表紙"
        cover["A1"] = "サイバーセキュリティ 自己評価 チェックシート"
        cover["A3"] = "会社名"
        ws = wb.create_sheet("チェックシート")
    else:
        ws = wb.active
        ws.title = "チェックシート"
    ws["A1"] = "自工会/部工会 サイバーセキュリティガイドライン チェックシート"
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headings))
    for col, heading in enumerate(headings, start=1):
        ws.cell(row=header_row, column=col, value=heading)
    ws.column_dimensions["C"].width = 60
    first = header_row + 1
    if sub_headings:
        for col, heading in enumerate(sub_headings, start=1):
            ws.cell(row=first, column=col, value=heading or None)
        first += 1
    for offset, row in enumerate(rows):
        r = first + offset
        values = [
            row.get("no"),
            row.get("label"),
            row.get("requirement"),
            row.get("condition"),
            row.get("level"),
            row.get("answer"),
            row.get("comment"),
        ]
        for col, value in enumerate(values[: len(headings)], start=1):
            ws.cell(row=r, column=col, value=value)
        if formulas:
            ws.cell(row=r, column=len(headings) + 1, value=f'=IF(F{r}="対策完了",1,0)')
    last = first + len(rows) - 1
    if merge_labels:
        start = first
        for offset in range(1, len(rows) + 1):
            end_of_block = offset == len(rows) or rows[offset].get("label") != rows[
                start - first
            ].get("label")
            if end_of_block:
                end = first + offset - 1
                if end > start:
                    for r in range(start + 1, end + 1):
                        ws.cell(row=r, column=2).value = None
                    ws.merge_cells(start_row=start, start_column=2, end_row=end, end_column=2)
                start = end + 1 if end_of_block else start
    if validation:
        dv = DataValidation(
            type="list", formula1='"対策完了,一部対策,未対策,対象外"', allow_blank=True
        )
        ws.add_data_validation(dv)
        dv.add(f"F{first}:F{last}")
    if extra_sheets:
        summary = wb.create_sheet("集計")
        summary["A1"] = "達成数"
        summary["B1"] = f'=COUNTIF(チェックシート!F{first}:F{last},"対策完了")'
        summary["A2"] = "項目数"
        summary["B2"] = f"=COUNTA(チェックシート!A{first}:A{last})"
    wb.save(path)
    return path


@pytest.fixture()
def sheet_rows(jama: Framework) -> list[dict]:
    return full_sheet_rows(jama)


@pytest.fixture()
def make_sheet():
    """The :func:`write_sheet` builder."""
    return write_sheet
