"""Domain values of the response area: alerts as stored, incidents and what hangs off them.

Plain dataclasses, no storage: repositories (:mod:`mamori.respond.repos`) persist them.
An :class:`Incident` is an aggregate with a ``version``; a repository refuses to save a
copy whose version is older than the stored one (:class:`~mamori.respond.errors.ConflictError`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from mamori.model import Alert, Severity


def new_id(prefix: str) -> str:
    """A short random id with a readable prefix (``inc-...``, ``alr-...``)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does something. ``tenants=None`` is MSSP staff (every tenant); customers see theirs."""

    name: str
    tenants: frozenset[str] | None = None
    role: str = "analyst"

    def can_access(self, tenant: str) -> bool:
        return self.tenants is None or tenant in self.tenants

    @classmethod
    def customer(cls, name: str, tenant: str) -> Actor:
        return cls(name=name, tenants=frozenset({tenant}), role="customer")


SYSTEM = Actor(name="system", role="system")


class IncidentStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    CONTAINED = "contained"
    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"

    @property
    def is_open(self) -> bool:
        return self not in (IncidentStatus.RESOLVED, IncidentStatus.FALSE_POSITIVE)

    @property
    def is_acknowledged(self) -> bool:
        """Acknowledged or any later state."""
        return self is not IncidentStatus.NEW

    @property
    def is_responded(self) -> bool:
        """Contained, resolved or closed as a false positive: the response SLA is met."""
        return self in (
            IncidentStatus.CONTAINED,
            IncidentStatus.RESOLVED,
            IncidentStatus.FALSE_POSITIVE,
        )

    @property
    def label_ja(self) -> str:
        return _STATUS_JA[self]


_STATUS_JA = {
    IncidentStatus.NEW: "新規",
    IncidentStatus.ACKNOWLEDGED: "受付済",
    IncidentStatus.INVESTIGATING: "調査中",
    IncidentStatus.CONTAINED: "封じ込め済",
    IncidentStatus.RESOLVED: "解決",
    IncidentStatus.FALSE_POSITIVE: "誤検知",
}

#: The status machine: which states each state may move to.
TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    IncidentStatus.NEW: frozenset({IncidentStatus.ACKNOWLEDGED, IncidentStatus.FALSE_POSITIVE}),
    IncidentStatus.ACKNOWLEDGED: frozenset(
        {IncidentStatus.INVESTIGATING, IncidentStatus.RESOLVED, IncidentStatus.FALSE_POSITIVE}
    ),
    IncidentStatus.INVESTIGATING: frozenset(
        {IncidentStatus.CONTAINED, IncidentStatus.RESOLVED, IncidentStatus.FALSE_POSITIVE}
    ),
    IncidentStatus.CONTAINED: frozenset({IncidentStatus.RESOLVED}),
    IncidentStatus.RESOLVED: frozenset(),
    IncidentStatus.FALSE_POSITIVE: frozenset(),
}


class ObservableKind(StrEnum):
    IP = "ip"
    DOMAIN = "domain"
    HASH = "hash"
    USER = "user"
    HOST = "host"


@dataclass(frozen=True, slots=True, order=True)
class Observable:
    kind: ObservableKind
    value: str


@dataclass(slots=True)
class AlertRecord:
    """An alert as the response area keeps it: duplicates folded in with a ``count``."""

    id: str
    tenant: str
    rule_id: str
    rule_title: str
    level: Severity
    host: str | None
    user: str | None
    tags: tuple[str, ...]
    dedup_key: str
    first_seen: datetime
    last_seen: datetime
    count: int
    sample: Alert
    incident_id: str | None = None
    unknown_host: bool = False


@dataclass(frozen=True, slots=True)
class RejectedAlert:
    """An alert the intake could not accept (unknown tenant...): kept with its reason."""

    payload: dict[str, Any]
    reason: str
    received_at: datetime


@dataclass(slots=True)
class Task:
    id: str
    title: str
    created_at: datetime
    created_by: str
    assignee: str | None = None
    done: bool = False
    done_at: datetime | None = None
    done_by: str | None = None


@dataclass(frozen=True, slots=True)
class Comment:
    id: str
    author: str
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    name: str
    sha256: str
    size: int
    content_type: str
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One thing that happened to an incident; the audit trail metrics are computed from."""

    at: datetime
    kind: str
    actor: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Incident:
    id: str
    tenant: str
    title: str
    severity: Severity
    created_at: datetime
    status: IncidentStatus = IncidentStatus.NEW
    severity_overridden: bool = False
    assignee: str | None = None
    updated_at: datetime | None = None
    last_alert_at: datetime | None = None
    version: int = 0
    alert_ids: list[str] = field(default_factory=list)
    alert_count: int = 0
    hosts: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    tactics: list[str] = field(default_factory=list)
    rule_ids: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    observables: list[Observable] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    merged_into: str | None = None
    sla_breaches: list[str] = field(default_factory=list)
    personal_data: bool = False

    def record(
        self, at: datetime, kind: str, actor: str, summary: str, /, **detail: Any
    ) -> TimelineEntry:
        entry = TimelineEntry(at=at, kind=kind, actor=actor, summary=summary, detail=detail)
        self.timeline.append(entry)
        self.updated_at = at
        return entry

    def add_observables(self, items: list[Observable]) -> list[Observable]:
        """Add new observables; return the ones that were not there yet."""
        known = set(self.observables)
        added = [o for o in items if o not in known]
        for o in added:
            known.add(o)
        self.observables.extend(added)
        return added

    def observables_of(self, kind: ObservableKind) -> list[str]:
        return [o.value for o in self.observables if o.kind is kind]


__all__ = [
    "SYSTEM",
    "TRANSITIONS",
    "Actor",
    "AlertRecord",
    "Attachment",
    "Comment",
    "Incident",
    "IncidentStatus",
    "Observable",
    "ObservableKind",
    "RejectedAlert",
    "Task",
    "TimelineEntry",
    "new_id",
]
