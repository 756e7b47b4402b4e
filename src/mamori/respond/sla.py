"""SLA contracts, calendars, running clocks, breach flags and the MTTA/MTTR metrics.

Everything is computed from an incident's timeline (its audit trail): the clock starts at
``created``, the acknowledge clock stops at the first status change out of ``new``, the
respond clock at the first change to contained / resolved / false positive. The same
:func:`monthly_metrics` feeds the UI, the API and the monthly report.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

import yaml

from mamori.errors import ConfigError, ValidationError
from mamori.model import Severity, utc
from mamori.respond.models import Incident, IncidentStatus

JST = ZoneInfo("Asia/Tokyo")


class Calendar(Protocol):
    """Which time counts against an SLA."""

    name: str

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Counted seconds between ``start`` and ``end`` (0 when end <= start)."""

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of counted time after ``start``."""


class AlwaysOnCalendar:
    """24/7: every second counts."""

    name = "24x7"

    def working_seconds(self, start: datetime, end: datetime) -> float:
        return max(0.0, (utc(end) - utc(start)).total_seconds())

    def add(self, start: datetime, seconds: float) -> datetime:
        return utc(start) + timedelta(seconds=seconds)


def default_jp_holidays() -> frozenset[date]:
    """The Japanese public holidays shipped as package data (``data/jp_holidays.yaml``)."""
    text = resources.files("mamori.respond").joinpath("data/jp_holidays.yaml").read_text("utf-8")
    data = yaml.safe_load(text) or {}
    return frozenset(_as_date(d) for d in data.get("holidays", []))


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"not a date (YYYY-MM-DD): {value!r}") from None


class BusinessHoursCalendar:
    """Working hours on working days in a time zone (default weekdays 9:00–18:00 JST)."""

    name = "business_hours"

    def __init__(
        self,
        *,
        tz: ZoneInfo = JST,
        start: time = time(9, 0),
        end: time = time(18, 0),
        weekdays: Iterable[int] = (0, 1, 2, 3, 4),
        holidays: Iterable[date] = (),
    ) -> None:
        if end <= start:
            raise ValidationError("business hours must end after they start")
        self.tz = tz
        self.start = start
        self.end = end
        self.weekdays = frozenset(weekdays)
        if not self.weekdays:
            raise ValidationError("a business-hours calendar needs at least one working day")
        self.holidays = frozenset(holidays)

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        if day.weekday() not in self.weekdays or day in self.holidays:
            return None
        return (
            datetime.combine(day, self.start, self.tz).astimezone(UTC),
            datetime.combine(day, self.end, self.tz).astimezone(UTC),
        )

    def working_seconds(self, start: datetime, end: datetime) -> float:
        start, end = utc(start), utc(end)
        if end <= start:
            return 0.0
        total = 0.0
        day = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        while day <= last:
            window = self._window(day)
            if window:
                lo, hi = max(start, window[0]), min(end, window[1])
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    def add(self, start: datetime, seconds: float) -> datetime:
        current = utc(start)
        remaining = seconds
        day = current.astimezone(self.tz).date()
        for _ in range(3660):  # ten years of days; a calendar with no working day fails
            window = self._window(day)
            if window:
                lo = max(current, window[0])
                if lo < window[1]:
                    available = (window[1] - lo).total_seconds()
                    if remaining <= available:
                        return lo + timedelta(seconds=remaining)
                    remaining -= available
            day += timedelta(days=1)
        raise ValidationError("business-hours calendar has no working time in ten years")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*$")


def parse_duration(value: Any) -> timedelta:
    """``15m``, ``1h``, ``2d``, ``90s`` or a number of minutes."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(minutes=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValidationError(f"not a duration: {value!r} (use e.g. 15m, 1h, 2d)")
    number, unit = float(match.group(1)), match.group(2) or "m"
    seconds = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}[unit]
    return timedelta(seconds=number * seconds)


@dataclass(frozen=True, slots=True)
class SlaContract:
    """A tenant's response promise."""

    tenant: str
    calendar: Calendar
    ack: Mapping[Severity, timedelta] = field(default_factory=dict)
    respond: Mapping[Severity, timedelta] = field(default_factory=dict)
    escalate_to: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, tenant: str | None = None) -> SlaContract:
        """Build from configuration, e.g.::

        tenant: acme
        calendar: business_hours   # or 24x7
        hours: {start: "09:00", end: "18:00"}
        holidays: default          # or a list of dates, or [] for none
        ack: {critical: 15m, high: 60m}
        respond: {critical: 38m}
        escalate_to: [manager@example.jp]
        """
        name = tenant or data.get("tenant")
        if not name:
            raise ValidationError("SLA contract needs a tenant")
        kind = str(data.get("calendar", "24x7"))
        calendar: Calendar
        if kind in ("24x7", "24/7", "always"):
            calendar = AlwaysOnCalendar()
        elif kind == "business_hours":
            hours = data.get("hours") or {}
            raw_holidays = data.get("holidays", "default")
            holidays = (
                default_jp_holidays()
                if raw_holidays == "default"
                else frozenset(_as_date(d) for d in raw_holidays or [])
            )
            try:
                start = time.fromisoformat(str(hours.get("start", "09:00")))
                end = time.fromisoformat(str(hours.get("end", "18:00")))
            except ValueError as exc:
                raise ValidationError(f"bad business hours: {exc}") from None
            calendar = BusinessHoursCalendar(
                tz=ZoneInfo(str(data.get("timezone", "Asia/Tokyo"))),
                start=start,
                end=end,
                weekdays=data.get("weekdays", (0, 1, 2, 3, 4)),
                holidays=holidays,
            )
        else:
            raise ValidationError(f"unknown SLA calendar {kind!r} (use 24x7 or business_hours)")

        def targets(key: str) -> dict[Severity, timedelta]:
            raw = data.get(key) or {}
            if not isinstance(raw, Mapping):
                raise ValidationError(f"SLA {key} must map severity to duration")
            try:
                return {Severity.parse(k): parse_duration(v) for k, v in raw.items()}
            except ValueError as exc:
                raise ValidationError(f"SLA {key}: {exc}") from None

        return cls(
            tenant=str(name),
            calendar=calendar,
            ack=targets("ack"),
            respond=targets("respond"),
            escalate_to=tuple(data.get("escalate_to") or ()),
        )


def load_contracts(path: Path) -> dict[str, SlaContract]:
    """Read ``{tenants: [{tenant: ..., calendar: ..., ack: {...}, ...}, ...]}`` from YAML.

    Raises:
        ConfigError: unreadable file or invalid YAML, or a contract that does not validate
            (the message names the file and the tenant).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read SLA contracts {path}: {exc}") from None
    items = data.get("tenants", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ConfigError(f"{path}: expected a list of tenant contracts under 'tenants'")
    out: dict[str, SlaContract] = {}
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ConfigError(f"{path}: contract {i} is not a mapping")
        try:
            contract = SlaContract.from_dict(item)
        except ValidationError as exc:
            raise ConfigError(f"{path}: contract {i} ({item.get('tenant', '?')}): {exc}") from None
        if contract.tenant in out:
            raise ConfigError(f"{path}: tenant {contract.tenant} has two contracts")
        out[contract.tenant] = contract
    return out


ClockKind = Literal["ack", "respond"]
ClockState = Literal["running", "met", "breached"]


@dataclass(frozen=True, slots=True)
class SlaClock:
    kind: ClockKind
    target: timedelta
    started_at: datetime
    deadline: datetime
    stopped_at: datetime | None
    elapsed_seconds: float
    remaining_seconds: float
    state: ClockState

    @property
    def breached(self) -> bool:
        return self.state == "breached"


def first_status_at(
    incident: Incident, predicate: Callable[[IncidentStatus], bool]
) -> datetime | None:
    """When the timeline first shows a status change into a state matching ``predicate``."""
    for entry in incident.timeline:
        if entry.kind == "status":
            try:
                status = IncidentStatus(str(entry.detail.get("new")))
            except ValueError:
                continue
            if predicate(status):
                return entry.at
    return None


def acknowledged_at(incident: Incident) -> datetime | None:
    return first_status_at(incident, lambda s: s.is_acknowledged)


def responded_at(incident: Incident) -> datetime | None:
    return first_status_at(incident, lambda s: s.is_responded)


def clocks(incident: Incident, contract: SlaContract, now: datetime) -> list[SlaClock]:
    """The incident's SLA clocks under ``contract`` at ``now`` (none when no target applies)."""
    out = []
    for kind, targets, stop in (
        ("ack", contract.ack, acknowledged_at(incident)),
        ("respond", contract.respond, responded_at(incident)),
    ):
        target = targets.get(incident.severity)
        if target is None:
            continue
        start = incident.created_at
        deadline = contract.calendar.add(start, target.total_seconds())
        end = stop or now
        elapsed = contract.calendar.working_seconds(start, end)
        remaining = target.total_seconds() - elapsed
        if stop is not None:
            state: ClockState = "met" if stop <= deadline else "breached"
        else:
            state = "running" if now <= deadline else "breached"
        out.append(
            SlaClock(
                kind=kind,  # type: ignore[arg-type]
                target=target,
                started_at=start,
                deadline=deadline,
                stopped_at=stop,
                elapsed_seconds=elapsed,
                remaining_seconds=remaining,
                state=state,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class MonthlyMetrics:
    tenant: str
    year: int
    month: int
    incidents: int
    acknowledged: int
    responded: int
    mtta_seconds: float | None
    mttr_seconds: float | None
    median_tta_seconds: float | None
    median_ttr_seconds: float | None
    ack_sla_met: int
    ack_sla_total: int
    respond_sla_met: int
    respond_sla_total: int
    by_severity: dict[str, int]

    @property
    def sla_compliance(self) -> float | None:
        """Met clocks / decided clocks (running clocks that have not breached are left out)."""
        total = self.ack_sla_total + self.respond_sla_total
        if total == 0:
            return None
        return (self.ack_sla_met + self.respond_sla_met) / total

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "month": f"{self.year:04d}-{self.month:02d}",
            "incidents": self.incidents,
            "acknowledged": self.acknowledged,
            "responded": self.responded,
            "mtta_seconds": self.mtta_seconds,
            "mttr_seconds": self.mttr_seconds,
            "median_tta_seconds": self.median_tta_seconds,
            "median_ttr_seconds": self.median_ttr_seconds,
            "ack_sla": [self.ack_sla_met, self.ack_sla_total],
            "respond_sla": [self.respond_sla_met, self.respond_sla_total],
            "sla_compliance": self.sla_compliance,
            "by_severity": self.by_severity,
        }


def month_bounds(year: int, month: int, tz: ZoneInfo = JST) -> tuple[datetime, datetime]:
    """The month as [start, end) in UTC, months taken in ``tz`` (JST by default)."""
    if not 1 <= month <= 12:
        raise ValidationError(f"month must be 1-12, not {month}")
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def monthly_metrics(
    incidents: Iterable[Incident],
    *,
    tenant: str,
    year: int,
    month: int,
    contract: SlaContract | None = None,
    now: datetime | None = None,
) -> MonthlyMetrics:
    """MTTA, MTTR and SLA compliance of ``tenant``'s incidents created in the month.

    MTTA/MTTR are wall-clock (created → acknowledged / → contained-or-closed); SLA
    compliance uses the contract's calendar. Merged-away incidents are not counted.
    """
    start, end = month_bounds(year, month)
    now = now or datetime.now(UTC)
    chosen = [
        i
        for i in incidents
        if i.tenant == tenant and i.merged_into is None and start <= i.created_at < end
    ]
    tta, ttr = [], []
    ack_met = ack_total = resp_met = resp_total = 0
    by_severity: dict[str, int] = {}
    for inc in chosen:
        by_severity[inc.severity.value] = by_severity.get(inc.severity.value, 0) + 1
        acked, responded = acknowledged_at(inc), responded_at(inc)
        if acked:
            tta.append((acked - inc.created_at).total_seconds())
        if responded:
            ttr.append((responded - inc.created_at).total_seconds())
        if contract is None:
            continue
        for c in clocks(inc, contract, now):
            if c.state == "running":
                continue
            if c.kind == "ack":
                ack_total += 1
                ack_met += c.state == "met"
            else:
                resp_total += 1
                resp_met += c.state == "met"
    return MonthlyMetrics(
        tenant=tenant,
        year=year,
        month=month,
        incidents=len(chosen),
        acknowledged=len(tta),
        responded=len(ttr),
        mtta_seconds=statistics.fmean(tta) if tta else None,
        mttr_seconds=statistics.fmean(ttr) if ttr else None,
        median_tta_seconds=statistics.median(tta) if tta else None,
        median_ttr_seconds=statistics.median(ttr) if ttr else None,
        ack_sla_met=ack_met,
        ack_sla_total=ack_total,
        respond_sla_met=resp_met,
        respond_sla_total=resp_total,
        by_severity=by_severity,
    )


__all__ = [
    "JST",
    "AlwaysOnCalendar",
    "BusinessHoursCalendar",
    "Calendar",
    "MonthlyMetrics",
    "SlaClock",
    "SlaContract",
    "acknowledged_at",
    "clocks",
    "default_jp_holidays",
    "load_contracts",
    "month_bounds",
    "monthly_metrics",
    "parse_duration",
    "responded_at",
]
