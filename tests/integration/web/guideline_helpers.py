"""Helpers for the guideline web tests: API calls and check-sheet workbooks built in code."""

from __future__ import annotations

import io

from openpyxl import Workbook, load_workbook

from foundation_db import login
from mamori.guideline import load_builtin

API = "/api/v1/guideline"
PDF = b"%PDF-1.4\n% evidence for a test\n" + b"0" * 200
HEADINGS = ["No.", "ラベル", "要求事項", "達成条件", "レベル", "実施状況", "備考"]


def as_user(client, username: str) -> dict[str, str]:
    """Log in and return headers carrying the CSRF token for unsafe API calls."""
    return {"X-CSRF-Token": login(client, username)}


def create(client, headers, **body) -> dict:
    r = client.post(f"{API}/assessments", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def sheet_bytes(answers: dict[int, str | None], *, items: int = 6, header: bool = True) -> bytes:
    """A check sheet with a title row, the Japanese headings and the first ``items`` items."""
    jama = load_builtin("jama-japia")
    wb = Workbook()
    cover = wb.active
    cover.title = "表紙"
    cover["A1"] = "自己評価チェックシート"
    ws = wb.create_sheet("チェックシート")
    ws["A1"] = "サイバーセキュリティガイドライン チェックシート"
    if header:
        ws.append([])
        ws.append(HEADINGS)
    for item in jama.items[:items]:
        n = int(item.id)
        label = jama.label(item.label).name_ja if item.label else None
        level = f"Lv{item.level or 1}"
        ws.append([n, label, f"要求事項{n}（公式）", f"達成条件{n}", level, answers.get(n), None])
        r = ws.max_row
        ws.cell(row=r, column=8, value=f'=IF(F{r}="対策完了",1,0)')
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def formulas_in(xlsx: bytes) -> list[str]:
    ws = load_workbook(io.BytesIO(xlsx))["チェックシート"]
    return [str(c.value) for c in ws["H"] if isinstance(c.value, str) and c.value.startswith("=")]


def answers_in(xlsx: bytes) -> dict[int, str | None]:
    ws = load_workbook(io.BytesIO(xlsx))["チェックシート"]
    out = {}
    for row in ws.iter_rows(min_row=4, values_only=True):
        if isinstance(row[0], int):
            out[row[0]] = row[5]
    return out
