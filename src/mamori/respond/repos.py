"""Repository protocols of the response area, and the in-memory implementations.

The SQL implementations (``mamori.store.repos.respond``) implement the same protocols; the
services here never know which one they hold. Repositories hand out *copies*: a caller
changes its copy and saves it, and :meth:`IncidentRepo.save` refuses a copy that is older
than the stored one (optimistic concurrency on ``Incident.version``).
"""

from __future__ import annotations

import builtins
import copy
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol, runtime_checkable

from mamori.errors import DuplicateError, NotFoundError
from mamori.respond.errors import ConflictError
from mamori.respond.models import AlertRecord, Incident, RejectedAlert


@runtime_checkable
class IncidentRepo(Protocol):
    def add(self, incident: Incident) -> None:
        """Store a new incident (version becomes 1). Raises DuplicateError on a known id."""

    def get(self, incident_id: str) -> Incident:
        """A copy of the incident. Raises NotFoundError."""

    def save(self, incident: Incident) -> None:
        """Store ``incident`` if nobody saved since it was read, and bump its version.

        Raises:
            ConflictError: the stored version is not ``incident.version``.
            NotFoundError: the incident does not exist.
        """

    def list(self, *, tenant: str | None = None, open_only: bool = False) -> list[Incident]:
        """Copies of the incidents, oldest first."""


@runtime_checkable
class AlertRepo(Protocol):
    def add(self, record: AlertRecord) -> None: ...

    def get(self, alert_id: str) -> AlertRecord: ...

    def save(self, record: AlertRecord) -> None:
        """Store changes; ``count``, ``first_seen`` and ``last_seen`` move only by fold."""

    def fold(self, alert_id: str, ts: datetime) -> tuple[int, str | None]:
        """Count one more duplicate (``count + 1``, widen first/last seen) in one step.

        Returns the new count and the record's incident id. Raises NotFoundError.
        """

    def claim(self, record: AlertRecord, bucket: int) -> str | None:
        """Store ``record`` as the one record of its ``dedup_key`` in window ``bucket``.

        Atomic across processes sharing the store: of two callers claiming the same key and
        bucket, one stores its record (gets None) and the other gets that record's id (and
        folds into it) instead of storing a second row.
        """

    def release(self, alert_id: str) -> None:
        """Remove a claimed record whose grouping failed (so a retry can claim again)."""

    def assign(self, alert_id: str, incident_id: str) -> None:
        """Set the incident of a (claimed) record. Raises NotFoundError."""

    def list(self, *, tenant: str | None = None) -> list[AlertRecord]: ...

    def reject(self, item: RejectedAlert) -> None:
        """Keep an alert the intake could not accept, with its reason."""

    def rejected(self) -> builtins.list[RejectedAlert]: ...


@runtime_checkable
class TenantDirectory(Protocol):
    """What the intake asks about tenants and their hosts (the store's tenant table)."""

    def has_tenant(self, tenant: str) -> bool: ...

    def has_host(self, tenant: str, host: str) -> bool: ...


def copy_incident(incident: Incident) -> Incident:
    """An independent copy: lists are copied; their items are immutable except tasks."""
    out = copy.copy(incident)
    for name in (
        "alert_ids",
        "hosts",
        "users",
        "tactics",
        "rule_ids",
        "tags",
        "observables",
        "comments",
        "attachments",
        "timeline",
        "links",
        "sla_breaches",
    ):
        setattr(out, name, list(getattr(incident, name)))
    out.tasks = [copy.copy(t) for t in incident.tasks]
    return out


class MemoryIncidentRepo:
    def __init__(self) -> None:
        self._items: dict[str, Incident] = {}
        self._lock = threading.Lock()

    def add(self, incident: Incident) -> None:
        with self._lock:
            if incident.id in self._items:
                raise DuplicateError(f"incident {incident.id} already exists")
            incident.version = 1
            self._items[incident.id] = copy_incident(incident)

    def get(self, incident_id: str) -> Incident:
        with self._lock:
            try:
                return copy_incident(self._items[incident_id])
            except KeyError:
                raise NotFoundError(f"incident {incident_id} not found") from None

    def save(self, incident: Incident) -> None:
        with self._lock:
            stored = self._items.get(incident.id)
            if stored is None:
                raise NotFoundError(f"incident {incident.id} not found")
            if stored.version != incident.version:
                raise ConflictError(
                    f"incident {incident.id} was changed by someone else "
                    f"(version {stored.version}, yours {incident.version}); reload and retry"
                )
            incident.version += 1
            self._items[incident.id] = copy_incident(incident)

    def list(self, *, tenant: str | None = None, open_only: bool = False) -> list[Incident]:
        with self._lock:
            items: Iterable[Incident] = self._items.values()
            out = [
                copy_incident(i)
                for i in items
                if (tenant is None or i.tenant == tenant)
                and (not open_only or (i.status.is_open and i.merged_into is None))
            ]
        return sorted(out, key=lambda i: i.created_at)


class MemoryAlertRepo:
    def __init__(self) -> None:
        self._items: dict[str, AlertRecord] = {}
        self._rejected: list[RejectedAlert] = []
        self._claims: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    def claim(self, record: AlertRecord, bucket: int) -> str | None:
        with self._lock:
            holder = self._claims.get((record.dedup_key, bucket))
            if holder is not None and holder in self._items:
                return holder
            if record.id in self._items:
                raise DuplicateError(f"alert {record.id} already exists")
            self._claims[(record.dedup_key, bucket)] = record.id
            self._items[record.id] = copy.copy(record)
            return None

    def assign(self, alert_id: str, incident_id: str) -> None:
        with self._lock:
            record = self._items.get(alert_id)
            if record is None:
                raise NotFoundError(f"alert {alert_id} not found")
            record.incident_id = incident_id

    def release(self, alert_id: str) -> None:
        with self._lock:
            self._items.pop(alert_id, None)
            for slot, holder in list(self._claims.items()):
                if holder == alert_id:
                    del self._claims[slot]

    def add(self, record: AlertRecord) -> None:
        with self._lock:
            if record.id in self._items:
                raise DuplicateError(f"alert {record.id} already exists")
            self._items[record.id] = copy.copy(record)

    def get(self, alert_id: str) -> AlertRecord:
        with self._lock:
            try:
                return copy.copy(self._items[alert_id])
            except KeyError:
                raise NotFoundError(f"alert {alert_id} not found") from None

    def save(self, record: AlertRecord) -> None:
        with self._lock:
            stored = self._items.get(record.id)
            if stored is None:
                raise NotFoundError(f"alert {record.id} not found")
            kept = copy.copy(record)
            # the fold counters move only through fold()
            kept.count, kept.first_seen, kept.last_seen = (
                stored.count,
                stored.first_seen,
                stored.last_seen,
            )
            self._items[record.id] = kept

    def fold(self, alert_id: str, ts: datetime) -> tuple[int, str | None]:
        with self._lock:
            record = self._items.get(alert_id)
            if record is None:
                raise NotFoundError(f"alert {alert_id} not found")
            record.count += 1
            if ts > record.last_seen:
                record.last_seen = ts
            elif ts < record.first_seen:
                record.first_seen = ts
            return record.count, record.incident_id

    def list(self, *, tenant: str | None = None) -> list[AlertRecord]:
        with self._lock:
            out = [copy.copy(r) for r in self._items.values() if tenant in (None, r.tenant)]
        return sorted(out, key=lambda r: r.first_seen)

    def reject(self, item: RejectedAlert) -> None:
        with self._lock:
            self._rejected.append(item)

    def rejected(self) -> builtins.list[RejectedAlert]:
        with self._lock:
            return list(self._rejected)


class MemoryTenantDirectory:
    """Tenants and their hosts; a tenant mapped to ``None`` accepts any host."""

    def __init__(self, tenants: dict[str, set[str] | None] | None = None) -> None:
        self._tenants: dict[str, set[str] | None] = dict(tenants or {})

    def add_tenant(self, tenant: str, hosts: Iterable[str] | None = None) -> None:
        self._tenants[tenant] = None if hosts is None else {h.lower() for h in hosts}

    def has_tenant(self, tenant: str) -> bool:
        return tenant in self._tenants

    def has_host(self, tenant: str, host: str) -> bool:
        hosts = self._tenants.get(tenant)
        return hosts is None or host.lower() in hosts


__all__ = [
    "AlertRepo",
    "IncidentRepo",
    "MemoryAlertRepo",
    "MemoryIncidentRepo",
    "MemoryTenantDirectory",
    "TenantDirectory",
    "copy_incident",
]
