"""Cost of the proposal's gap sources: reading a filled 153-row check sheet, an assessment,
and the recommendation with detailed gaps.

Run: .venv/bin/python bench/service_gaps.py  (prints wall and CPU time; no assertions)
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.guideline.conftest import full_sheet_rows, write_sheet  # noqa: E402

from mamori.guideline import load_builtin, new_assessment, set_answer  # noqa: E402
from mamori.service.gaps import gaps_from_assessment, gaps_from_checksheet  # noqa: E402
from mamori.service.recommend import recommend_course  # noqa: E402


def measure(name: str, fn: Callable[[int], object], n: int) -> None:
    fn(0)  # warm caches (catalogue parsing, data files)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        fn(i)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{name:<40} {n:>6} runs  wall {wall * 1e3 / n:>9.2f} ms/run  "
        f"cpu {cpu * 1e3 / n:>9.2f} ms/run"
    )


def main() -> None:
    jama = load_builtin("jama-japia")
    rows = full_sheet_rows(jama)
    for row in rows:  # every third item open, the rest done
        row["answer"] = "未対策" if row["no"] % 3 == 0 else "対策完了"
    with tempfile.TemporaryDirectory() as tmp:
        sheet = Path(tmp) / "sheet.xlsx"
        write_sheet(sheet, rows)
        print(f"check sheet: {sheet.stat().st_size:,} bytes, {len(rows)} rows")
        gap_set = gaps_from_checksheet(sheet)
        print(f"gaps from the sheet: {len(gap_set.gaps)}")
        measure("gaps_from_checksheet (153 rows)", lambda _i: gaps_from_checksheet(sheet), 10)
    a = new_assessment(jama, tenant="bench")
    for item in jama.items:
        set_answer(a, jama, item.id, "未対策" if int(item.id) % 3 == 0 else "対策完了")
    measure("gaps_from_assessment (153 answers)", lambda _i: gaps_from_assessment(a), 200)
    measure(
        "recommend_course (51 detailed gaps)",
        lambda i: recommend_course(1 + i % 100, "none", gap_set.gaps),
        2_000,
    )


if __name__ == "__main__":
    main()
