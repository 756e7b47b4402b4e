from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mamori.guideline.checks import LogSourceSeen, Observations, checks
from mamori.guideline.checks.investigation_logs import InvestigationLogsCheck

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def _obs(retention: int | None, *sources: tuple[str, str, float]) -> Observations:
    return Observations(
        at=NOW,
        retention_days=retention,
        log_sources=tuple(
            LogSourceSeen(name, cat, NOW - timedelta(hours=age), events=10)
            for name, cat, age in sources
        ),
    )


def test_registered_for_item_143():
    assert checks.get("investigation_logs") is InvestigationLogsCheck
    assert InvestigationLogsCheck.ITEM == "143"


def test_pass():
    out = InvestigationLogsCheck().evaluate(
        _obs(365, ("windows_security", "endpoint", 1), ("fortigate", "firewall", 2))
    )
    assert out.passed is True
    assert out.evidence["retention_days"] == 365
    assert {s["name"] for s in out.evidence["live_sources"]} == {"windows_security", "fortigate"}


def test_fail_on_short_retention_and_missing_network():
    out = InvestigationLogsCheck().evaluate(_obs(30, ("windows_security", "endpoint", 1)))
    assert out.passed is False
    assert out.evidence["missing_groups"] == ["network"]
    assert "保存期間30日" in out.summary_ja and "network" in out.summary_en


def test_stale_source_does_not_count():
    out = InvestigationLogsCheck().evaluate(
        _obs(365, ("windows_security", "endpoint", 1), ("fortigate", "firewall", 72))
    )
    assert out.passed is False
    assert out.evidence["stale_sources"][0]["name"] == "fortigate"


def test_params_and_no_data():
    out = InvestigationLogsCheck(min_retention_days=20, required={"hosts": ["endpoint"]}).evaluate(
        _obs(30, ("windows_security", "endpoint", 1))
    )
    assert out.passed is True
    assert InvestigationLogsCheck().evaluate(Observations(at=NOW)).passed is None
