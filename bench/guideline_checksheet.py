"""Speed of the guideline area: catalogue load, sheet import/export, scoring, reports.

Run: .venv/bin/python bench/guideline_checksheet.py  (prints figures; asserts nothing about time)
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from mamori.guideline.assessment import new_assessment, set_answer
from mamori.guideline.checksheet import apply_checksheet, export_checksheet, read_checksheet
from mamori.guideline.loader import load_builtin, parse_catalogue
from mamori.guideline.report import build_report, render_html, render_pdf
from mamori.guideline.scoring import score

STATUSES = ["対策完了", "一部対策", "未対策", None]


def timed(label: str, fn: Callable[[], Any], repeat: int = 5) -> Any:
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<40} {best * 1000:9.1f} ms (best of {repeat})")
    return result


def build_sheet(path: Path) -> None:
    fw = load_builtin()
    wb = Workbook()
    ws = wb.active
    ws.title = "チェックシート"
    ws.append(["自工会/部工会 チェックシート"])
    ws.append([])
    ws.append(["No.", "ラベル", "要求事項", "達成条件", "レベル", "回答", "備考"])
    extra = iter([1] * 3 + [2] * 29 + [3] * 21)
    for item in fw.items:
        n = item.number or 0
        label = item.label or (
            21 if 131 <= n <= 135 else 22 if n == 136 else item.label_candidates[0]
        )
        level = item.level or (1 if n == 36 else next(extra))
        ws.append(
            [
                n,
                fw.label(label).name_ja,
                f"要求事項{n}" * 5,
                f"達成条件{n}" * 3,
                f"Lv{level}",
                STATUSES[n % 4],
                None,
            ]
        )
    wb.save(path)


def main() -> None:
    from importlib import resources

    text = resources.files("mamori.guideline.catalogue").joinpath("jama-japia-2.3.yaml")
    yaml_text = text.read_text(encoding="utf-8")
    timed("parse + validate catalogue (153 items)", lambda: parse_catalogue(yaml_text))
    fw = load_builtin()
    with tempfile.TemporaryDirectory() as tmp:
        sheet = Path(tmp) / "sheet.xlsx"
        build_sheet(sheet)
        imported = timed("import check sheet (153 rows)", lambda: read_checksheet(sheet, base=fw))
        a = new_assessment(fw, tenant="bench")
        apply_checksheet(a, imported)
        cat = imported.framework
        for n in range(1, 154):
            set_answer(a, cat, n, STATUSES[(n + 1) % 4])
        timed("score", lambda: score(cat, a), repeat=50)
        counter = iter(range(100))
        timed(
            "export answers into a copy",
            lambda: export_checksheet(a, sheet, Path(tmp) / f"out{next(counter)}.xlsx"),
        )
        report = build_report(cat, a)
        timed("render HTML report", lambda: render_html(report))
        timed("render PDF report", lambda: render_pdf(report))
        print(f"PDF size: {len(render_pdf(report)) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
