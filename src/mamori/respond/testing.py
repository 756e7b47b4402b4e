"""Test doubles of the response area: an in-memory environment and an alert factory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mamori.hooks import Dispatcher
from mamori.model import Alert, Severity
from mamori.respond.clock import ManualClock
from mamori.respond.incidents import IncidentService
from mamori.respond.intake import AlertIntake
from mamori.respond.repos import MemoryAlertRepo, MemoryIncidentRepo, MemoryTenantDirectory

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 10:00 JST


def make_alert(
    rule_id: str = "r-1",
    *,
    level: str = "high",
    host: str | None = "pc-01",
    tenant: str | None = "acme",
    ts: datetime = T0,
    tags: tuple[str, ...] = ("attack.execution",),
    event: dict[str, Any] | None = None,
    matched: dict[str, Any] | None = None,
    title: str | None = None,
) -> Alert:
    return Alert(
        rule_id=rule_id,
        rule_title=title or f"Rule {rule_id}",
        level=Severity.parse(level),
        timestamp=ts,
        tags=tags,
        tenant=tenant,
        host=host,
        event=event if event is not None else {"Image": "C:\\evil.exe", "User": "ACME\\taro"},
        matched=matched if matched is not None else {"Image": "C:\\evil.exe"},
    )


class RespondEnv:
    """In-memory repositories, a manual clock, the intake and the incident service."""

    def __init__(self) -> None:
        self.clock = ManualClock(T0)
        self.alerts = MemoryAlertRepo()
        self.incidents = MemoryIncidentRepo()
        self.directory = MemoryTenantDirectory({"acme": {"pc-01", "pc-02", "srv-01"}, "beta": None})
        self.dispatcher = Dispatcher()
        self.intake = AlertIntake(
            alerts=self.alerts,
            incidents=self.incidents,
            directory=self.directory,
            dispatcher=self.dispatcher,
            clock=self.clock,
        )
        self.service = IncidentService(
            incidents=self.incidents,
            alerts=self.alerts,
            grouper=self.intake.grouper,
            dispatcher=self.dispatcher,
            clock=self.clock,
        )


__all__ = ["T0", "RespondEnv", "make_alert"]
