"""Alert intake: from the bus (or any producer) to deduplicated alerts and grouped incidents.

``AlertIntake`` is an :class:`~mamori.model.AlertSink`. Per alert it

1. refuses an alert without a known tenant (kept as a :class:`RejectedAlert` with the
   reason, counted, never silently dropped);
2. flags an alert whose host the tenant's inventory (:mod:`mamori.respond.hosts`) did not
   know yet (accepted: an unknown machine is itself worth a look; the incident gets the
   ``mamori.unknown_host`` tag and a timeline note) and marks the host as seen;
3. folds duplicates into one record's count: the in-memory
   :class:`~mamori.respond.dedup.Deduplicator` answers for alerts this process has seen,
   and :meth:`~mamori.respond.repos.AlertRepo.claim` lets the store decide between workers
   (one record per dedup key and window bucket, a unique index in SQL), so two
   ``mamori worker`` processes never both open a record for the same duplicate;
4. puts a new alert into the open incident it belongs to
   (:class:`~mamori.respond.grouping.Grouper`) or opens a new one, and emits
   :class:`IncidentOpened` / :class:`AlertGrouped` for playbooks, paging and notifications.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from mamori.hooks import Dispatcher, Hook
from mamori.model import Alert, utc
from mamori.respond.clock import Clock, system_clock
from mamori.respond.dedup import Deduplicator
from mamori.respond.errors import ConflictError
from mamori.respond.events import AlertGrouped, IncidentOpened
from mamori.respond.grouping import Grouper
from mamori.respond.hosts import HostInventory
from mamori.respond.incidents import apply_alert
from mamori.respond.models import AlertRecord, Incident, RejectedAlert, new_id
from mamori.respond.observables import user_of
from mamori.respond.repos import AlertRepo, IncidentRepo, TenantDirectory

log = logging.getLogger(__name__)

#: bound on the hosts the intake remembers as known (it asks the inventory again after)
MAX_KNOWN_HOSTS = 200_000

IntakeStatus = Literal["new_incident", "grouped", "duplicate", "rejected"]


@dataclass(frozen=True, slots=True)
class IntakeResult:
    status: IntakeStatus
    alert_id: str | None = None
    incident_id: str | None = None
    count: int = 0
    reason: str = ""


@dataclass(slots=True)
class IntakeStats:
    received: int = 0
    duplicates: int = 0
    rejected: int = 0
    incidents_opened: int = 0
    grouped: int = 0


class AlertIntake:
    """Turns alerts into alert records and incidents. Thread-safe (one lock)."""

    def __init__(
        self,
        *,
        alerts: AlertRepo,
        incidents: IncidentRepo,
        directory: TenantDirectory,
        dedup: Deduplicator | None = None,
        grouper: Grouper | None = None,
        dispatcher: Dispatcher | None = None,
        clock: Clock = system_clock,
        inventory: HostInventory | None = None,
    ) -> None:
        self.alerts = alerts
        self.inventory = inventory
        self._known_hosts: set[tuple[str, str]] = set()
        self.incidents = incidents
        self.directory = directory
        self.dedup = dedup or Deduplicator()
        self.grouper = grouper or Grouper()
        self.dispatcher = dispatcher or Dispatcher()
        self.clock = clock
        self.stats = IntakeStats()
        self._lock = threading.Lock()

    # AlertSink
    def alert(self, alert: Alert) -> None:
        self.submit(alert)

    def submit_dict(self, payload: dict[str, Any]) -> IntakeResult:
        """An alert as it comes off the bus (``Alert.to_dict`` form); bad payloads are rejected."""
        try:
            alert = Alert.from_dict(payload)
        except (KeyError, ValueError, TypeError) as exc:
            reason = f"malformed alert: {type(exc).__name__}: {exc}"
            return self._reject(payload, reason)
        return self.submit(alert)

    def _reject(self, payload: dict[str, Any], reason: str) -> IntakeResult:
        self.stats.rejected += 1
        self.alerts.reject(RejectedAlert(payload=payload, reason=reason, received_at=self.clock()))
        return IntakeResult(status="rejected", reason=reason)

    def submit(self, alert: Alert) -> IntakeResult:
        """Take one alert. Hooks are emitted after the intake lock is released."""
        hooks: list[Hook] = []
        result = self._submit(alert, hooks)
        for hook in hooks:
            self.dispatcher.emit(hook)
        return result

    def _submit(self, alert: Alert, hooks: list[Hook]) -> IntakeResult:
        with self._lock:
            self.stats.received += 1
            tenant = alert.tenant
            if not tenant:
                return self._reject(alert.to_dict(), "alert has no tenant")
            if not self.directory.has_tenant(tenant):
                return self._reject(alert.to_dict(), f"unknown tenant {tenant!r}")
            ts = utc(alert.timestamp)
            key = self.dedup.key(alert)
            existing = self.dedup.lookup(key, ts)
            if existing is not None:
                count, incident_id = self.alerts.fold(existing, ts)
                self.stats.duplicates += 1
                return IntakeResult(
                    status="duplicate", alert_id=existing, incident_id=incident_id, count=count
                )
            host = alert.host.lower() if alert.host else None
            record = AlertRecord(
                id=new_id("alr"),
                tenant=tenant,
                rule_id=alert.rule_id,
                rule_title=alert.rule_title,
                level=alert.level,
                host=host,
                user=user_of(alert.event) or user_of(alert.matched),
                tags=alert.tags,
                dedup_key=key,
                first_seen=ts,
                last_seen=ts,
                count=1,
                sample=alert,
                unknown_host=bool(host) and not self.directory.has_host(tenant, host or ""),
            )
            if host and self.inventory is not None and not self._knows(tenant, host):
                record.unknown_host = True
            holder = self.alerts.claim(record, self._bucket(ts))
            if holder is not None:  # another worker holds this key's record: fold into it
                self.dedup.remember(key, holder, ts)
                count, incident_id = self.alerts.fold(holder, ts)
                self.stats.duplicates += 1
                return IntakeResult(
                    status="duplicate", alert_id=holder, incident_id=incident_id, count=count
                )
            try:
                result = self._group(record, hooks)
            except BaseException:
                self.alerts.release(record.id)  # a retry claims afresh and groups again
                raise
            self.dedup.remember(key, record.id, ts)
            if host and self.inventory is not None:
                self._note_host(tenant, host, ts, result.incident_id)
            return result

    def _note_host(self, tenant: str, host: str, ts: datetime, incident_id: str | None) -> None:
        """Mark the host as seen. Bookkeeping: a failure is logged, the alert stays taken."""
        assert self.inventory is not None  # noqa: S101 - checked by the caller
        try:
            self.inventory.seen(tenant, host, ts, incident_id)
        except Exception:
            log.exception("could not record host %s of %s in the inventory", host, tenant)
            return
        self._known_hosts.add((tenant, host))

    def adopt(self, record: AlertRecord) -> IntakeResult:
        """Group a stored record that has no incident (its worker stopped between claiming
        and grouping it), so that alert and its folded duplicates reach an incident."""
        hooks: list[Hook] = []
        with self._lock:
            result = self._group(record, hooks)
            if record.host and self.inventory is not None:
                self._note_host(record.tenant, record.host, record.first_seen, result.incident_id)
        for hook in hooks:
            self.dispatcher.emit(hook)
        return result

    def _knows(self, tenant: str, host: str) -> bool:
        """Whether the inventory has the host (known hosts are remembered: they stay known)."""
        if (tenant, host) in self._known_hosts:
            return True
        assert self.inventory is not None  # noqa: S101 - checked by the caller
        if not self.inventory.knows(tenant, host):
            return False
        if len(self._known_hosts) >= MAX_KNOWN_HOSTS:
            self._known_hosts.clear()
        self._known_hosts.add((tenant, host))
        return True

    def _bucket(self, ts: datetime) -> int:
        """The dedup window ``ts`` falls in (whole windows since the epoch): the unit the
        store keeps one record per key for, whichever worker sees the alert first."""
        window = max(self.dedup.window.total_seconds(), 1.0)
        return int(ts.timestamp() // window)

    def _group(self, record: AlertRecord, hooks: list[Hook]) -> IntakeResult:
        now = self.clock()
        tactics = record.sample.attack_tactics
        for _ in range(5):
            target = self.grouper.find(
                record.tenant, record.host, record.user, tactics, record.first_seen
            )
            if target is None:
                break
            incident = self.incidents.get(target)
            if not incident.status.is_open or incident.merged_into:
                self.grouper.forget(target)
                continue
            record.incident_id = incident.id
            apply_alert(incident, record, now)
            _note_unknown_host(incident, record, now)
            try:
                self.incidents.save(incident)
            except ConflictError:
                continue  # an analyst saved meanwhile: reload and re-apply
            self.alerts.assign(record.id, incident.id)
            self.grouper.remember(
                incident.id, record.tenant, record.host, record.user, tactics, record.first_seen
            )
            self.stats.grouped += 1
            hooks.append(AlertGrouped(incident=incident, alert=record))
            return IntakeResult(
                status="grouped", alert_id=record.id, incident_id=incident.id, count=1
            )
        incident = Incident(
            id=new_id("inc"),
            tenant=record.tenant,
            title=record.rule_title + (f" — {record.host}" if record.host else ""),
            severity=record.level,
            created_at=now,
        )
        record.incident_id = incident.id
        incident.record(now, "created", "system", "インシデント作成", alert_id=record.id)
        apply_alert(incident, record, now)
        _note_unknown_host(incident, record, now)
        self.alerts.assign(record.id, incident.id)
        self.incidents.add(incident)
        self.grouper.remember(
            incident.id, record.tenant, record.host, record.user, tactics, record.first_seen
        )
        self.stats.incidents_opened += 1
        hooks.append(IncidentOpened(incident=incident, alert=record))
        return IntakeResult(
            status="new_incident", alert_id=record.id, incident_id=incident.id, count=1
        )


def _note_unknown_host(incident: Incident, record: AlertRecord, now: datetime) -> None:
    """Say on the timeline that an alert came from a host the inventory did not know."""
    if not record.unknown_host:
        return
    incident.record(
        now,
        "note",
        "system",
        f"未登録のホスト {record.host} からのアラート（資産台帳を確認してください）",
        host=record.host,
        alert_id=record.id,
        unknown_host=True,
    )


__all__ = ["AlertIntake", "IntakeResult", "IntakeStats"]
