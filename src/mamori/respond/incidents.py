"""Incident service: the status machine, assignment, tasks, comments, attachments, merge/split/link.

Every change goes through :meth:`IncidentService._change`: load a copy, check tenant access
and (when the caller says which version it saw) the version, apply, record on the timeline,
save. A save that races another one fails with :class:`ConflictError`; nothing is lost and
nothing is half-written.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from mamori.errors import NotFoundError, PermissionDeniedError, ValidationError
from mamori.hooks import AuditRecorded, Dispatcher
from mamori.model import Severity
from mamori.respond.clock import Clock, system_clock
from mamori.respond.errors import ConflictError, InvalidTransitionError
from mamori.respond.events import IncidentChanged
from mamori.respond.grouping import Grouper, normalise_tactics
from mamori.respond.models import (
    TRANSITIONS,
    Actor,
    AlertRecord,
    Attachment,
    Comment,
    Incident,
    IncidentStatus,
    Task,
    new_id,
)
from mamori.respond.observables import extract
from mamori.respond.repos import AlertRepo, IncidentRepo

MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024
#: tag of an incident with an alert from a host the tenant's inventory did not know
UNKNOWN_HOST_TAG = "mamori.unknown_host"


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed storage for attachments and evidence."""

    def put(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256 (hex)."""

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``. Raises NotFoundError."""


class MemoryBlobStore:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self._blobs[digest] = bytes(data)
        return digest

    def get(self, sha256: str) -> bytes:
        try:
            return self._blobs[sha256]
        except KeyError:
            raise NotFoundError(f"no blob {sha256}") from None


class FileBlobStore:
    """Content-addressed files under ``root`` (``ab/cd/abcd…``), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise NotFoundError(f"no blob {sha256}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return digest

    def get(self, sha256: str) -> bytes:
        try:
            data = self._path(sha256).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no blob {sha256}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValidationError(f"blob {sha256} is corrupt (hash mismatch)")
        return data


def apply_alert(
    incident: Incident, record: AlertRecord, at: datetime, actor: str = "system"
) -> None:
    """Fold a (new, not duplicate) alert record into an incident's derived fields."""
    if record.id not in incident.alert_ids:
        incident.alert_ids.append(record.id)
        incident.alert_count = len(incident.alert_ids)
    for target, value in (
        (incident.hosts, (record.host or "").lower() or None),
        (incident.users, record.user),
        (incident.rule_ids, record.rule_id),
    ):
        if value and value not in target:
            target.append(value)
    for tag in (*record.tags, *((UNKNOWN_HOST_TAG,) if record.unknown_host else ())):
        if tag not in incident.tags:
            incident.tags.append(tag)
    incident.tactics = normalise_tactics([*incident.tactics, *record.sample.attack_tactics])
    incident.add_observables(extract(record.sample))
    if incident.last_alert_at is None or record.last_seen > incident.last_alert_at:
        incident.last_alert_at = record.last_seen
    incident.record(
        at,
        "alert",
        actor,
        f"アラート: {record.rule_title}" + (f" ({record.host})" if record.host else ""),
        alert_id=record.id,
        rule_id=record.rule_id,
        level=record.level.value,
        alert_time=record.first_seen.isoformat(),
        unknown_host=record.unknown_host,
    )
    if not incident.severity_overridden and record.level.rank > incident.severity.rank:
        old = incident.severity
        incident.severity = record.level
        incident.record(
            at,
            "severity",
            actor,
            f"重大度 {old.value} → {record.level.value}",
            old=old.value,
            new=record.level.value,
            source="alert",
        )


def derive_from_alerts(incident: Incident, records: Iterable[AlertRecord], at: datetime) -> None:
    """Recompute the alert-derived fields from ``records`` (after a split or merge)."""
    records = sorted(records, key=lambda r: r.first_seen)
    incident.alert_ids = [r.id for r in records]
    incident.alert_count = len(records)
    incident.hosts = sorted({r.host.lower() for r in records if r.host})
    incident.users = sorted({r.user for r in records if r.user})
    incident.rule_ids = sorted({r.rule_id for r in records})
    incident.tags = sorted(
        {t for r in records for t in r.tags}
        | ({UNKNOWN_HOST_TAG} if any(r.unknown_host for r in records) else set())
    )
    incident.tactics = normalise_tactics(t for r in records for t in r.sample.attack_tactics)
    incident.observables = []
    for r in records:
        incident.add_observables(extract(r.sample))
    incident.last_alert_at = max((r.last_seen for r in records), default=None)
    if not incident.severity_overridden and records:
        incident.severity = max((r.level for r in records), key=lambda s: s.rank)
    incident.updated_at = at


class IncidentService:
    """Analyst (and customer) operations on incidents, tenant-checked and version-checked."""

    def __init__(
        self,
        *,
        incidents: IncidentRepo,
        alerts: AlertRepo,
        blobs: BlobStore | None = None,
        grouper: Grouper | None = None,
        dispatcher: Dispatcher | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.incidents = incidents
        self.alerts = alerts
        self.blobs = blobs or MemoryBlobStore()
        self.grouper = grouper
        self.dispatcher = dispatcher
        self.clock = clock

    # -- reading -----------------------------------------------------------------------
    def get(self, incident_id: str, actor: Actor) -> Incident:
        """The incident, if ``actor`` may see it. Raises NotFoundError otherwise."""
        incident = self.incidents.get(incident_id)
        if not actor.can_access(incident.tenant):
            # same answer as a missing incident: do not reveal other tenants' ids
            raise NotFoundError(f"incident {incident_id} not found")
        return incident

    def list(
        self, actor: Actor, *, tenant: str | None = None, open_only: bool = False
    ) -> list[Incident]:
        if tenant is not None and not actor.can_access(tenant):
            raise NotFoundError(f"tenant {tenant} not found")
        items = self.incidents.list(tenant=tenant, open_only=open_only)
        return [i for i in items if actor.can_access(i.tenant)]

    # -- changing ----------------------------------------------------------------------
    def _change(
        self,
        incident_id: str,
        actor: Actor,
        expected_version: int | None,
        apply: Callable[[Incident, datetime], None],
        *,
        kind: str,
        staff_only: bool = True,
    ) -> Incident:
        incident = self.get(incident_id, actor)
        if staff_only and actor.role == "customer":
            raise PermissionDeniedError(f"{actor.name} may not {kind} incidents")
        if incident.merged_into:
            raise ValidationError(
                f"incident {incident_id} was merged into {incident.merged_into}; change that one"
            )
        if expected_version is not None and incident.version != expected_version:
            raise ConflictError(
                f"incident {incident_id} was changed by someone else "
                f"(version {incident.version}, yours {expected_version}); reload and retry"
            )
        apply(incident, self.clock())
        self.incidents.save(incident)
        if self.grouper is not None:
            self.grouper.remember_incident(incident)
        if self.dispatcher is not None:
            self.dispatcher.emit(IncidentChanged(incident=incident, kind=kind, actor=actor.name))
            last = incident.timeline[-1] if incident.timeline else None
            self.dispatcher.emit(
                AuditRecorded(
                    action=f"incident.{kind}",
                    actor=actor.name,
                    tenant=incident.tenant,
                    detail={
                        "incident_id": incident.id,
                        "version": incident.version,
                        "summary": last.summary if last else "",
                    },
                )
            )
        return incident

    def transition(
        self,
        incident_id: str,
        status: IncidentStatus | str,
        actor: Actor,
        *,
        expected_version: int | None = None,
        note: str = "",
    ) -> Incident:
        """Move the incident to ``status``. Raises InvalidTransitionError when not allowed."""
        try:
            target = IncidentStatus(status)
        except ValueError:
            known = ", ".join(s.value for s in IncidentStatus)
            raise ValidationError(f"unknown status {status!r} (expected one of {known})") from None

        def apply(incident: Incident, now: datetime) -> None:
            if target not in TRANSITIONS[incident.status]:
                allowed = ", ".join(sorted(s.value for s in TRANSITIONS[incident.status]))
                raise InvalidTransitionError(
                    f"incident {incident.id}: {incident.status.value} → {target.value} is not "
                    f"allowed (allowed: {allowed or 'none, the incident is closed'})"
                )
            old = incident.status
            incident.status = target
            if target is IncidentStatus.ACKNOWLEDGED and incident.assignee is None:
                incident.assignee = actor.name
            incident.record(
                now,
                "status",
                actor.name,
                f"状態 {old.label_ja} → {target.label_ja}",
                old=old.value,
                new=target.value,
                note=note,
            )

        return self._change(incident_id, actor, expected_version, apply, kind="status")

    def acknowledge(
        self, incident_id: str, actor: Actor, *, expected_version: int | None = None
    ) -> Incident:
        return self.transition(
            incident_id, IncidentStatus.ACKNOWLEDGED, actor, expected_version=expected_version
        )

    def assign(
        self,
        incident_id: str,
        assignee: str | None,
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Incident:
        def apply(incident: Incident, now: datetime) -> None:
            old = incident.assignee
            incident.assignee = assignee
            incident.record(
                now,
                "assign",
                actor.name,
                f"担当 {old or '-'} → {assignee or '-'}",
                old=old,
                new=assignee,
            )

        return self._change(incident_id, actor, expected_version, apply, kind="assign")

    def set_severity(
        self,
        incident_id: str,
        severity: Severity | str,
        actor: Actor,
        *,
        reason: str = "",
        expected_version: int | None = None,
    ) -> Incident:
        try:
            level = Severity.parse(severity)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

        def apply(incident: Incident, now: datetime) -> None:
            old = incident.severity
            incident.severity = level
            incident.severity_overridden = True
            incident.record(
                now,
                "severity",
                actor.name,
                f"重大度 {old.value} → {level.value}",
                old=old.value,
                new=level.value,
                source="analyst",
                reason=reason,
            )

        return self._change(incident_id, actor, expected_version, apply, kind="severity")

    def set_title(
        self, incident_id: str, title: str, actor: Actor, *, expected_version: int | None = None
    ) -> Incident:
        title = title.strip()
        if not title:
            raise ValidationError("title must not be empty")

        def apply(incident: Incident, now: datetime) -> None:
            old = incident.title
            incident.title = title
            incident.record(now, "title", actor.name, f"件名変更: {title}", old=old, new=title)

        return self._change(incident_id, actor, expected_version, apply, kind="title")

    def comment(
        self, incident_id: str, text: str, actor: Actor, *, expected_version: int | None = None
    ) -> Incident:
        text = text.strip()
        if not text:
            raise ValidationError("comment must not be empty")

        def apply(incident: Incident, now: datetime) -> None:
            c = Comment(id=new_id("cmt"), author=actor.name, at=now, text=text)
            incident.comments.append(c)
            incident.record(now, "comment", actor.name, "コメント追加", comment_id=c.id)

        return self._change(
            incident_id, actor, expected_version, apply, kind="comment", staff_only=False
        )

    def add_task(
        self,
        incident_id: str,
        title: str,
        actor: Actor,
        *,
        assignee: str | None = None,
        expected_version: int | None = None,
    ) -> tuple[Incident, Task]:
        title = title.strip()
        if not title:
            raise ValidationError("task title must not be empty")
        created: list[Task] = []

        def apply(incident: Incident, now: datetime) -> None:
            task = Task(
                id=new_id("tsk"),
                title=title,
                created_at=now,
                created_by=actor.name,
                assignee=assignee,
            )
            incident.tasks.append(task)
            created.append(task)
            incident.record(now, "task", actor.name, f"タスク追加: {title}", task_id=task.id)

        incident = self._change(incident_id, actor, expected_version, apply, kind="task")
        return incident, created[0]

    def complete_task(
        self, incident_id: str, task_id: str, actor: Actor, *, expected_version: int | None = None
    ) -> Incident:
        def apply(incident: Incident, now: datetime) -> None:
            for task in incident.tasks:
                if task.id == task_id:
                    if task.done:
                        raise ValidationError(f"task {task_id} is already done")
                    task.done, task.done_at, task.done_by = True, now, actor.name
                    incident.record(
                        now, "task_done", actor.name, f"タスク完了: {task.title}", task_id=task_id
                    )
                    return
            raise NotFoundError(f"task {task_id} not found on incident {incident_id}")

        return self._change(incident_id, actor, expected_version, apply, kind="task")

    def attach(
        self,
        incident_id: str,
        name: str,
        data: bytes,
        actor: Actor,
        *,
        content_type: str = "application/octet-stream",
        expected_version: int | None = None,
    ) -> tuple[Incident, Attachment]:
        """Store evidence; its SHA-256 goes on the incident and the timeline."""
        name = name.strip().replace("/", "_").replace("\\", "_")
        if not name:
            raise ValidationError("attachment needs a file name")
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise ValidationError(
                f"attachment {name} is {len(data)} bytes; the limit is {MAX_ATTACHMENT_BYTES}"
            )
        added: list[Attachment] = []

        def apply(incident: Incident, now: datetime) -> None:
            digest = self.blobs.put(data)
            att = Attachment(
                id=new_id("att"),
                name=name,
                sha256=digest,
                size=len(data),
                content_type=content_type,
                added_by=actor.name,
                added_at=now,
            )
            incident.attachments.append(att)
            added.append(att)
            incident.record(
                now,
                "attachment",
                actor.name,
                f"証拠添付: {name}",
                sha256=digest,
                size=len(data),
            )

        incident = self._change(
            incident_id, actor, expected_version, apply, kind="attachment", staff_only=False
        )
        return incident, added[0]

    def record_event(
        self, incident_id: str, kind: str, summary: str, actor: Actor, **detail: object
    ) -> Incident:
        """Put something that happened elsewhere (action, notification, page) on the timeline.

        Retries on a conflict: the entry is an append, so re-applying it is safe.
        """

        def apply(incident: Incident, now: datetime) -> None:
            incident.record(now, kind, actor.name, summary, **detail)

        for attempt in range(20):
            try:
                return self._change(incident_id, actor, None, apply, kind=kind, staff_only=False)
            except ConflictError:
                time.sleep(0.001 * attempt)
        raise ConflictError(f"incident {incident_id} is too busy to record {kind}; retry")

    def set_personal_data(self, incident_id: str, flag: bool, actor: Actor) -> Incident:
        """Mark (or unmark) the incident as possibly involving personal data."""

        def apply(incident: Incident, now: datetime) -> None:
            incident.personal_data = flag
            incident.record(
                now, "personal_data", actor.name, "個人情報フラグ " + ("ON" if flag else "OFF")
            )

        return self._change(incident_id, actor, None, apply, kind="personal_data")

    def flag_sla_breach(self, incident_id: str, clock: str, actor: Actor, **detail: object) -> bool:
        """Mark an SLA clock breached (once); False when it was already flagged."""
        flagged: list[bool] = []

        def apply(incident: Incident, now: datetime) -> None:
            if clock in incident.sla_breaches:
                flagged.append(False)
                return
            incident.sla_breaches.append(clock)
            label = {"ack": "受付", "respond": "対応"}.get(clock, clock)
            incident.record(
                now, "sla_breach", actor.name, f"SLA違反: {label}期限超過", clock=clock, **detail
            )
            flagged.append(True)

        for _ in range(5):
            flagged.clear()
            try:
                self._change(incident_id, actor, None, apply, kind="sla_breach", staff_only=False)
                return flagged[0]
            except ConflictError:
                continue
        raise ConflictError(f"incident {incident_id} is too busy to flag the SLA breach; retry")

    # -- merge / split / link -----------------------------------------------------------
    def merge(
        self,
        target_id: str,
        source_ids: Iterable[str],
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> Incident:
        """Fold ``source_ids`` into ``target_id``; the sources point at the target afterwards."""
        if actor.role == "customer":
            raise PermissionDeniedError(f"{actor.name} may not merge incidents")
        sources = [self.get(s, actor) for s in dict.fromkeys(source_ids) if s != target_id]
        if not sources:
            raise ValidationError("merge needs at least one other incident")
        target = self.get(target_id, actor)
        for s in sources:
            if s.tenant != target.tenant:
                raise ValidationError(
                    f"cannot merge incidents of different tenants ({s.id}: {s.tenant})"
                )
            if s.merged_into:
                raise ValidationError(f"incident {s.id} was already merged into {s.merged_into}")
        if expected_version is not None and target.version != expected_version:
            raise ConflictError(
                f"incident {target_id} was changed by someone else "
                f"(version {target.version}, yours {expected_version}); reload and retry"
            )
        moved: list[AlertRecord] = []

        def apply(incident: Incident, at: datetime) -> None:
            records = [self.alerts.get(a) for a in incident.alert_ids]
            moved.clear()
            for s in sources:
                theirs = [self.alerts.get(a) for a in s.alert_ids]
                moved.extend(theirs)
                records.extend(theirs)
                incident.comments.extend(s.comments)
                incident.tasks.extend(s.tasks)
                incident.attachments.extend(s.attachments)
                incident.links.extend(
                    link for link in s.links if link not in incident.links and link != incident.id
                )
            derive_from_alerts(incident, records, at)
            incident.record(
                at,
                "merge",
                actor.name,
                f"{len(sources)} 件のインシデントを統合",
                sources=[s.id for s in sources],
            )

        # the target first: if it fails (conflict), nothing has changed anywhere
        merged = self._change(target_id, actor, expected_version, apply, kind="merge")
        for r in moved:
            r.incident_id = target_id
            self.alerts.save(r)
        for s in sources:
            for _ in range(5):
                current = self.incidents.get(s.id)
                current.merged_into = target_id
                current.record(
                    self.clock(), "merged", actor.name, f"{target_id} に統合", into=target_id
                )
                try:
                    self.incidents.save(current)
                    break
                except ConflictError:
                    continue
            if self.grouper is not None:
                self.grouper.forget(s.id)
        if self.grouper is not None:
            self.grouper.remember_incident(merged)
        return merged

    def split(
        self,
        incident_id: str,
        alert_ids: Iterable[str],
        actor: Actor,
        *,
        title: str | None = None,
        expected_version: int | None = None,
    ) -> tuple[Incident, Incident]:
        """Move ``alert_ids`` out into a new incident; returns (old, new)."""
        if actor.role == "customer":
            raise PermissionDeniedError(f"{actor.name} may not split incidents")
        moving = list(dict.fromkeys(alert_ids))
        original = self.get(incident_id, actor)
        unknown = [a for a in moving if a not in original.alert_ids]
        if not moving or unknown:
            raise ValidationError(
                f"split needs alerts of incident {incident_id}; not on it: {', '.join(unknown)}"
                if unknown
                else "split needs at least one alert"
            )
        if len(moving) == len(original.alert_ids):
            raise ValidationError("split must leave at least one alert on the incident")
        if expected_version is not None and original.version != expected_version:
            raise ConflictError(
                f"incident {incident_id} was changed by someone else "
                f"(version {original.version}, yours {expected_version}); reload and retry"
            )
        new_id_ = new_id("inc")

        def apply(incident: Incident, at: datetime) -> None:
            if any(a not in incident.alert_ids for a in moving):
                raise ConflictError(f"incident {incident_id} changed meanwhile; reload and retry")
            keep = [self.alerts.get(a) for a in incident.alert_ids if a not in moving]
            derive_from_alerts(incident, keep, at)
            if new_id_ not in incident.links:
                incident.links.append(new_id_)
            incident.record(
                at,
                "split",
                actor.name,
                f"{len(moving)} 件のアラートを {new_id_} に分割",
                new_incident=new_id_,
                alerts=moving,
            )

        # the original first: if it fails (conflict), no new incident exists
        old = self._change(incident_id, actor, expected_version, apply, kind="split")
        now = self.clock()
        moved_records = [self.alerts.get(a) for a in moving]
        new = Incident(
            id=new_id_,
            tenant=original.tenant,
            title=title or f"{original.title}（分割）",
            severity=Severity.INFORMATIONAL,
            created_at=now,
        )
        derive_from_alerts(new, moved_records, now)
        new.record(now, "created", actor.name, f"{incident_id} から分割", split_from=incident_id)
        new.links.append(incident_id)
        self.incidents.add(new)
        for r in moved_records:
            r.incident_id = new.id
            self.alerts.save(r)
        if self.grouper is not None:
            self.grouper.remember_incident(new)
        return old, self.incidents.get(new.id)

    def link(self, a: str, b: str, actor: Actor) -> tuple[Incident, Incident]:
        """Relate two incidents both ways (they stay separate)."""
        if a == b:
            raise ValidationError("an incident cannot be linked to itself")
        first, second = self.get(a, actor), self.get(b, actor)
        if first.tenant != second.tenant:
            raise ValidationError("only incidents of the same tenant can be linked")

        def linker(other: str) -> Callable[[Incident, datetime], None]:
            def apply(incident: Incident, now: datetime) -> None:
                if other not in incident.links:
                    incident.links.append(other)
                    incident.record(now, "link", actor.name, f"{other} と関連付け", other=other)

            return apply

        return (
            self._change(a, actor, None, linker(b), kind="link"),
            self._change(b, actor, None, linker(a), kind="link"),
        )


__all__ = [
    "BlobStore",
    "FileBlobStore",
    "IncidentService",
    "MemoryBlobStore",
    "UNKNOWN_HOST_TAG",
    "apply_alert",
    "derive_from_alerts",
]
