"""What the reports show, gathered once (the HTML and the PDF render the same data)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from mamori.respond.breach import BreachDueItem, BreachTrack, due_items
from mamori.respond.models import AlertRecord, Incident
from mamori.respond.notify.delivery import DeliveryRecord
from mamori.respond.runner import ActionRecord
from mamori.respond.sla import (
    JST,
    MonthlyMetrics,
    SlaClock,
    SlaContract,
    clocks,
    month_bounds,
    monthly_metrics,
)


def jst(ts: datetime | None) -> str:
    """A timestamp as people in Japan read it."""
    if ts is None:
        return "-"
    return ts.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")


def duration(seconds: float | None, lang: str = "ja") -> str:
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    hours, rest = divmod(minutes, 60)
    if lang != "ja":
        if minutes < 60:
            return f"{minutes} min"
        return f"{hours} h {rest} min" if hours < 48 else f"{hours // 24} d {hours % 24} h"
    if minutes < 60:
        return f"{minutes}分"
    if hours < 48:
        return f"{hours}時間{rest}分"
    return f"{hours // 24}日{hours % 24}時間"


@dataclass(frozen=True, slots=True)
class IncidentReport:
    incident: Incident
    alerts: Sequence[AlertRecord]
    actions: Sequence[ActionRecord]
    notifications: Sequence[DeliveryRecord]
    clocks: Sequence[SlaClock]
    breach: BreachTrack | None
    breach_items: Sequence[BreachDueItem]
    generated_at: datetime
    organisation: str = ""


def incident_report(
    incident: Incident,
    *,
    alerts: Iterable[AlertRecord],
    actions: Iterable[ActionRecord] = (),
    notifications: Iterable[DeliveryRecord] = (),
    contract: SlaContract | None = None,
    breach: BreachTrack | None = None,
    now: datetime,
    organisation: str = "",
) -> IncidentReport:
    return IncidentReport(
        incident=incident,
        alerts=sorted(alerts, key=lambda a: a.first_seen),
        actions=sorted(actions, key=lambda a: a.requested_at),
        notifications=sorted(notifications, key=lambda n: n.created_at),
        clocks=clocks(incident, contract, now) if contract else [],
        breach=breach,
        breach_items=due_items(breach, now) if breach else [],
        generated_at=now,
        organisation=organisation,
    )


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    tenant: str
    year: int
    month: int
    metrics: MonthlyMetrics
    alert_records: int
    alert_events: int
    top_rules: list[tuple[str, int]]
    top_hosts: list[tuple[str, int]]
    daily_incidents: list[tuple[date, int]]
    daily_alerts: list[tuple[date, int]]
    by_status: dict[str, int]
    generated_at: datetime
    incidents: list[Incident] = field(default_factory=list)


def monthly_report(
    *,
    tenant: str,
    year: int,
    month: int,
    incidents: Iterable[Incident],
    alerts: Iterable[AlertRecord],
    contract: SlaContract | None,
    now: datetime,
    top: int = 10,
) -> MonthlyReport:
    start, end = month_bounds(year, month)
    incidents = [i for i in incidents if i.tenant == tenant]
    month_incidents = [
        i for i in incidents if start <= i.created_at < end and i.merged_into is None
    ]
    month_alerts = [a for a in alerts if a.tenant == tenant and start <= a.first_seen < end]
    metrics = monthly_metrics(
        incidents, tenant=tenant, year=year, month=month, contract=contract, now=now
    )
    rules: Counter[str] = Counter()
    hosts: Counter[str] = Counter()
    per_day_alerts: Counter[date] = Counter()
    for a in month_alerts:
        rules[a.rule_title] += a.count
        if a.host:
            hosts[a.host] += a.count
        per_day_alerts[a.first_seen.astimezone(JST).date()] += a.count
    per_day_inc: Counter[date] = Counter(
        i.created_at.astimezone(JST).date() for i in month_incidents
    )
    days = []
    day = start.astimezone(JST).date()
    last = (end - timedelta(seconds=1)).astimezone(JST).date()
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    return MonthlyReport(
        tenant=tenant,
        year=year,
        month=month,
        metrics=metrics,
        alert_records=len(month_alerts),
        alert_events=sum(a.count for a in month_alerts),
        top_rules=rules.most_common(top),
        top_hosts=hosts.most_common(top),
        daily_incidents=[(d, per_day_inc[d]) for d in days],
        daily_alerts=[(d, per_day_alerts[d]) for d in days],
        by_status=dict(Counter(i.status.value for i in month_incidents)),
        generated_at=now,
        incidents=month_incidents,
    )


def svg_bars(
    values: Sequence[tuple[Any, int]], *, width: int = 640, height: int = 160, label: str = ""
) -> str:
    """A small inline SVG bar chart (no JavaScript, no external files)."""
    n = max(1, len(values))
    top = max([v for _, v in values] + [1])
    bar = width / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20}" '
        f'role="img" aria-label="{label}">'
    ]
    for i, (key, v) in enumerate(values):
        h = (height - 10) * v / top
        x = i * bar
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{height - h:.1f}" width="{max(bar - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="#2b6cb0"><title>{key}: {v}</title></rect>'
        )
        if i % 7 == 0:
            parts.append(
                f'<text x="{x + 1:.1f}" y="{height + 15}" font-size="10">{str(key)[-5:]}</text>'
            )
    parts.append(
        f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" stroke="#333" stroke-width="1"/>'
    )
    parts.append(f'<text x="{width - 60}" y="12" font-size="11">max {top}</text></svg>')
    return "".join(parts)


__all__ = [
    "IncidentReport",
    "MonthlyReport",
    "duration",
    "incident_report",
    "jst",
    "monthly_report",
    "svg_bars",
]
