from __future__ import annotations

import pytest

from mamori.errors import ValidationError
from mamori.guideline.assessment import new_assessment, set_answer
from mamori.guideline.compare import compare


def test_improved_and_regressed(tiny):
    a = new_assessment(tiny, tenant="t")
    b = new_assessment(tiny, tenant="t")
    set_answer(a, tiny, 1, "未対策")
    set_answer(b, tiny, 1, "対策完了")
    set_answer(a, tiny, 2, "対策完了")
    set_answer(b, tiny, 2, "一部対策")
    set_answer(a, tiny, 3, "未対策")
    set_answer(b, tiny, 3, "対象外", reason="r")
    set_answer(b, tiny, 4, "一部対策")
    set_answer(a, tiny, 5, "対策完了")
    set_answer(b, tiny, 5, "対策完了")
    c = compare(tiny, a, tiny, b)
    assert [x.item_id for x in c.improved] == ["1", "4"]
    assert [x.item_id for x in c.regressed] == ["2"]
    assert [x.item_id for x in c.changed] == ["3"]
    assert c.unchanged == 2
    assert c.level_deltas[1] == 0.5  # Lv1 (items 1, 3, 4): 0/3 -> 1/2 (item 3 n/a)
    d = c.to_dict()
    assert d["improved"][0] == {"item": "1", "before": "未対策", "after": "対策完了"}
    assert set(d["rate_deltas_by_level"]) == {"1", "2", "3"}


def test_incomparable(tiny, jama):
    with pytest.raises(ValidationError):
        compare(tiny, new_assessment(tiny, tenant="t"), jama, new_assessment(jama, tenant="t"))
    with pytest.raises(ValidationError):
        compare(tiny, new_assessment(tiny, tenant="t"), tiny, new_assessment(tiny, tenant="u"))
