"""Public test doubles, so tests of every area (and plugins) share one vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mamori.model import Alert, Event, Quarantined


@dataclass
class FakeSink:
    """Collects what a parser, collector or detector hands over."""

    events: list[Event] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    def event(self, event: Event) -> None:
        self.events.append(event)

    def quarantine(self, item: Quarantined) -> None:
        self.quarantined.append(item)

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def alert(self, alert: Alert) -> None:
        self.alerts.append(alert)


def make_event(
    fields: dict[str, Any] | None = None,
    *,
    source: str = "test",
    timestamp: datetime | None = None,
    tenant: str | None = "acme",
    host: str | None = "pc-01",
    data_type: str = "test:event",
    raw: str | None = None,
) -> Event:
    """An Event with sensible defaults; ``raw`` defaults to the fields as text."""
    fields = dict(fields or {})
    return Event(
        fields=fields,
        timestamp=timestamp or datetime(2026, 1, 1, tzinfo=UTC),
        source=source,
        raw=raw if raw is not None else repr(sorted(fields.items())),
        data_type=data_type,
        tenant=tenant,
        host=host,
    )


__all__ = ["FakeSink", "make_event"]
