from __future__ import annotations

from datetime import UTC, datetime

from mamori.guideline.checks import Observations
from mamori.guideline.checks.log_analysis import LogAnalysisCheck

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def test_pass_fail_none():
    ok = Observations(
        at=NOW, detection_rules=120, events_analysed_24h=5000, notification_channels=1
    )
    assert LogAnalysisCheck().evaluate(ok).passed is True
    bad = Observations(at=NOW, detection_rules=0, events_analysed_24h=0, notification_channels=0)
    out = LogAnalysisCheck().evaluate(bad)
    assert out.passed is False and "通知先" in out.summary_ja
    assert LogAnalysisCheck().evaluate(Observations(at=NOW)).passed is None
