from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mamori.errors import DuplicateError, ValidationError
from mamori.guideline.assessment import new_assessment, set_answer
from mamori.guideline.checks import (
    Check,
    Observations,
    Outcome,
    checks,
    checks_for_item,
    record_checks,
    run_checks,
)
from mamori.guideline.scoring import score

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def test_lookup_by_item():
    assert [c.NAME for c in checks_for_item(143)] == ["investigation_logs"]
    assert checks_for_item(1) == []


def test_duplicate_registration_refused():
    class Again(Check):
        NAME = "investigation_logs"
        ITEM = "143"

        def evaluate(self, observations: Observations) -> Outcome:
            return Outcome(None, "", "")

    with pytest.raises(DuplicateError):
        checks.register(Again)


def test_failing_check_contradicts_declared_done(jama):
    a = new_assessment(jama, tenant="acme")
    set_answer(a, jama, 143, "対策完了")
    obs = Observations.from_dict(
        {
            "at": "2026-11-25T09:00:00Z",
            "retention_days": 7,
            "log_sources": [
                {"name": "win", "category": "endpoint", "last_seen": "2026-11-25T08:00:00Z"}
            ],
        }
    )
    records = run_checks(obs)
    by_item = {r.item_id: r for r in records}
    assert by_item["143"].passed is False and by_item["143"].at == NOW
    assert by_item["145"].passed is None
    assert record_checks(a, records) == ["143"]
    s = score(jama, a)
    assert s.contradicted_items == ("143",)
    assert a.answer(143).status.value == "対策完了"  # the declared answer is kept apart


def test_observations_errors():
    with pytest.raises(ValidationError):
        Observations.from_dict({"retention_days": -1})
    with pytest.raises(ValidationError):
        Observations.from_dict({"log_sources": [{"name": "x"}]})
    with pytest.raises(ValidationError):
        Observations.from_dict({"at": "yesterday"})
    with pytest.raises(ValidationError):
        Observations.from_dict([])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="malformed"):
        Observations.from_dict(
            {"log_sources": [{"name": "x", "last_seen": "2026-01-01T00:00:00", "events": "many"}]}
        )
