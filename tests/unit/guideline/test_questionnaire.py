from __future__ import annotations

import pytest

from mamori.errors import ValidationError
from mamori.guideline.questionnaire import QUESTIONS, target_level


def test_levels():
    assert target_level({}).level == 1
    assert len(target_level({}).unanswered) == len(QUESTIONS)
    assert target_level({"handles_confidential": "はい"}).level == 2
    assert target_level({"important_technology": True, "significant_scale": "no"}).level == 2
    r = target_level({"industry_leader": "yes", "handles_confidential": "yes"})
    assert r.level == 3 and [q.id for q in r.reasons] == ["industry_leader"]
    assert "レベル3" in r.explain() and "Level 3" in r.explain("en")
    assert "レベル1" in target_level({"handles_confidential": "いいえ"}).explain()


def test_bad_answers():
    with pytest.raises(ValidationError, match="unknown question"):
        target_level({"big": True})
    with pytest.raises(ValidationError, match="yes/no"):
        target_level({"handles_confidential": "maybe"})
