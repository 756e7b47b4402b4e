"""JAMA/JAPIA No.145: analyse logs and alerts to detect attacks and notify.

Passes when detection rules are active, events were analysed in the last 24 hours and at
least one notification channel is configured. Parameter: ``min_rules`` (default 1).
"""

from __future__ import annotations

from mamori.guideline.checks.base import Check, Observations, Outcome, checks


@checks.register
class LogAnalysisCheck(Check):
    NAME = "log_analysis"
    ITEM = "145"
    TITLE_JA = "ログ・アラートの分析による攻撃検知と通知"
    TITLE_EN = "Logs and alerts are analysed to detect attacks and notify"

    def evaluate(self, observations: Observations) -> Outcome:
        min_rules = int(self.params.get("min_rules", 1))
        facts = {
            "detection_rules": observations.detection_rules,
            "events_analysed_24h": observations.events_analysed_24h,
            "notification_channels": observations.notification_channels,
            "min_rules": min_rules,
        }
        values = (
            observations.detection_rules,
            observations.events_analysed_24h,
            observations.notification_channels,
        )
        if all(v is None for v in values):
            return Outcome(None, "検知・通知の稼働情報がありません", "no detection data", facts)
        ja, en = [], []
        if (observations.detection_rules or 0) < min_rules:
            ja.append(f"有効な検知ルール{observations.detection_rules or 0}件")
            en.append(f"{observations.detection_rules or 0} active rules")
        if not observations.events_analysed_24h:
            ja.append("直近24時間に分析したイベントなし")
            en.append("no events analysed in 24 h")
        if not observations.notification_channels:
            ja.append("通知先が未設定")
            en.append("no notification channel")
        if ja:
            return Outcome(False, "；".join(ja), "; ".join(en), facts)
        return Outcome(
            True,
            f"検知ルール{observations.detection_rules}件で24時間に"
            f"{observations.events_analysed_24h}件を分析、通知先{observations.notification_channels}件",
            f"{observations.detection_rules} rules, {observations.events_analysed_24h} events "
            f"in 24 h, {observations.notification_channels} channels",
            facts,
        )
