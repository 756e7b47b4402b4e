from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mamori.guideline.assessment import CheckRecord, new_assessment, set_answer
from mamori.guideline.scoring import catalogue_notice, score


def test_tiny_rates(tiny):
    a = new_assessment(tiny, tenant="t")
    set_answer(a, tiny, 1, "対策完了")
    set_answer(a, tiny, 2, "一部対策")
    set_answer(a, tiny, 3, "対象外", reason="該当なし")
    set_answer(a, tiny, 4, "未対策")
    set_answer(a, tiny, 5, "対策完了")
    s = score(tiny, a)
    lv1 = s.levels[1]  # items 1, 3, 4
    assert (lv1.total, lv1.applicable, lv1.achieved, lv1.not_done) == (3, 2, 1, 1)
    assert lv1.rate == 0.5
    lv2 = s.levels[2]  # items 1-5, 3 n/a
    assert (lv2.applicable, lv2.achieved, lv2.partial) == (4, 2, 1)
    assert lv2.rate == 0.5
    lv3 = s.levels[3]  # all 6, item 6 unanswered
    assert (lv3.applicable, lv3.achieved, lv3.unanswered) == (5, 2, 1)
    assert lv3.rate == 0.4
    assert s.labels[1].rate == 0.5  # items 1,2 applicable, 1 achieved
    assert s.labels[2].rate == pytest.approx(1 / 3)
    d = s.to_dict(tiny)
    assert d["rates_by_level"] == {"1": 0.5, "2": 0.5, "3": 0.4}
    assert set(d["rates_by_label"]) == {"1", "2"}
    assert d["labels"]["1"]["name_ja"] == "方針"


def test_partial_never_counts(tiny):
    a = new_assessment(tiny, tenant="t")
    for n in range(1, 7):
        set_answer(a, tiny, n, "一部対策")
    s = score(tiny, a)
    assert all(r.rate == 0 for r in s.levels.values())
    assert s.overall.partial == 6


def test_nothing_applicable_is_none(tiny):
    a = new_assessment(tiny, tenant="t")
    for n in (1, 3, 4):
        set_answer(a, tiny, n, "対象外", reason="r")
    assert score(tiny, a).levels[1].rate is None


def test_contradicted_not_achieved(tiny):
    a = new_assessment(tiny, tenant="t")
    set_answer(a, tiny, 4, "対策完了")
    a.checks["4"] = CheckRecord("4", "investigation_logs", False, datetime.now(UTC))
    s = score(tiny, a)
    assert s.levels[1].achieved == 0 and s.levels[1].contradicted == 1
    assert s.levels[1].declared_rate == pytest.approx(1 / 3)
    assert s.contradicted_items == ("4",)


def test_jama_level_uncertainty(jama):
    a = new_assessment(jama, tenant="t")
    s = score(jama, a)
    assert s.levels[1].total == 46  # only the known Lv1 items
    assert s.levels[1].level_uncertain == 54  # 53 unknown + No.36 (1 or 2)
    assert s.levels[2].total == 92  # 46 + 45 + No.36
    assert s.levels[3].total == 153
    assert s.unknown == 53 and s.derived == 100
    assert "53" in catalogue_notice(jama) and "mamori assess import" in catalogue_notice(jama)
    assert "derived" in catalogue_notice(jama, "en")
    # Lv1 has 50 items: 46 known, No.36 is "1 or 2", so 3-4 unknown items are Lv1
    assert jama.level_gaps() == {1: (3, 4), 2: (28, 29), 3: (21, 21)}
    assert "Lv1が3–4項目" in catalogue_notice(jama)
    assert s.to_dict(jama)["catalogue"]["level_gaps"]["3"] == {"fewest": 21, "most": 21}
