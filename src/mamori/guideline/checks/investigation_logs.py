"""JAMA/JAPIA No.143: collect and keep the logs needed to investigate incidents.

Passes when logs from hosts (endpoints or servers) *and* from the network edge (firewall or
proxy) arrived recently, and the store keeps them at least the minimum retention.
Parameters: ``min_retention_days`` (default 90), ``max_silence_hours`` (default 24),
``required`` (groups of categories, each needing one live source).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mamori.guideline.checks.base import Check, Observations, Outcome, checks

DEFAULT_GROUPS: dict[str, tuple[str, ...]] = {
    "hosts": ("endpoint", "server"),
    "network": ("firewall", "proxy"),
}


@checks.register
class InvestigationLogsCheck(Check):
    NAME = "investigation_logs"
    ITEM = "143"
    TITLE_JA = "事故調査に必要なログの取得と保管"
    TITLE_EN = "Logs needed for incident investigation are collected and kept"

    def evaluate(self, observations: Observations) -> Outcome:
        min_days = int(self.params.get("min_retention_days", 90))
        silence = timedelta(hours=float(self.params.get("max_silence_hours", 24)))
        groups: dict[str, tuple[str, ...]] = {
            k: tuple(v) for k, v in dict(self.params.get("required", DEFAULT_GROUPS)).items()
        }
        if not observations.log_sources and observations.retention_days is None:
            return Outcome(
                None,
                "ログの受信状況と保存期間の情報がありません",
                "no information on log sources or retention",
                {"min_retention_days": min_days},
            )
        live = [s for s in observations.log_sources if observations.at - s.last_seen <= silence]
        stale = [s for s in observations.log_sources if s not in live]
        missing = [
            name for name, cats in groups.items() if not any(s.category in cats for s in live)
        ]
        retention_ok = (
            observations.retention_days is not None and observations.retention_days >= min_days
        )
        evidence: dict[str, Any] = {
            "live_sources": [
                {
                    "name": s.name,
                    "category": s.category,
                    "last_seen": s.last_seen.isoformat(),
                    "events": s.events,
                }
                for s in live
            ],
            "stale_sources": [
                {"name": s.name, "last_seen": s.last_seen.isoformat()} for s in stale
            ],
            "missing_groups": missing,
            "retention_days": observations.retention_days,
            "min_retention_days": min_days,
            "max_silence_hours": silence.total_seconds() / 3600,
        }
        problems_ja, problems_en = [], []
        if missing:
            problems_ja.append("受信のないログ種別: " + "、".join(missing))
            problems_en.append("no live logs for: " + ", ".join(missing))
        if observations.retention_days is None:
            problems_ja.append("保存期間が不明")
            problems_en.append("retention unknown")
        elif not retention_ok:
            problems_ja.append(f"保存期間{observations.retention_days}日 < 必要{min_days}日")
            problems_en.append(f"retention {observations.retention_days} d < required {min_days} d")
        if not problems_ja:
            return Outcome(
                True,
                f"{len(live)}種のログを受信中、保存期間{observations.retention_days}日",
                f"{len(live)} live log sources, retention {observations.retention_days} days",
                evidence,
            )
        return Outcome(False, "；".join(problems_ja), "; ".join(problems_en), evidence)
