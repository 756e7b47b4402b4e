"""SQL implementations of the response repository protocols (:mod:`mamori.respond`).

Each class holds a :class:`~mamori.store.db.Database` and commits per call, so what a
method returns is durable. The services in :mod:`mamori.respond` never know whether they
hold these or the in-memory repositories; both pass the same protocol tests.

* :class:`SqlIncidentRepo` — ``save`` is one ``UPDATE ... WHERE version = :seen``; a stale
  copy raises :class:`~mamori.respond.errors.ConflictError` (no lost update on either engine).
* :class:`SqlAlertRepo` — ``fold`` is one ``UPDATE ... SET count = count + 1`` (an alert
  storm stays one row); ``claim`` inserts a new record under the unique index
  (dedup key, window bucket), so concurrent workers fold into one row.
* :class:`SqlTenantDirectory` — the foundation ``tenants`` table (active tenants by slug).
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import threading
import time
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from sqlalchemy import Select, case, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mamori.errors import DuplicateError, NotFoundError, ValidationError
from mamori.model import Alert, Severity, utc
from mamori.respond.blocklist import BlockEntry, IndicatorKind
from mamori.respond.breach import BreachTrack
from mamori.respond.commands import CommandStatus, EndpointCommand
from mamori.respond.errors import ConflictError
from mamori.respond.models import AlertRecord, Incident, IncidentStatus, RejectedAlert
from mamori.respond.notify.delivery import DeliveryRecord
from mamori.respond.oncall import Page
from mamori.respond.playbooks.engine import PlaybookRun
from mamori.respond.runner import ActionRecord
from mamori.respond.serialize import incident_from_dict, incident_to_dict
from mamori.store.db import Database
from mamori.store.tables import (
    RespondAction,
    RespondAlert,
    RespondBlob,
    RespondBlockEntry,
    RespondBreachTrack,
    RespondCommand,
    RespondDelivery,
    RespondIncident,
    RespondPage,
    RespondPlaybookRun,
    RespondRejectedAlert,
    Tenant,
)

T = TypeVar("T")

CLOSED_STATUSES = (IncidentStatus.RESOLVED.value, IncidentStatus.FALSE_POSITIVE.value)


# -- a small codec for the domain dataclasses (JSON documents) ----------------------------
def to_doc(value: Any) -> Any:
    """A JSON-ready form of a domain value (dataclasses, enums, datetimes, containers)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_doc(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple | set | frozenset):
        return [to_doc(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_doc(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.loads(json.dumps(value, default=str))


def _decode(tp: Any, value: Any) -> Any:
    if tp is Any or tp is object:
        return value
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _decode(args[0], value) if len(args) == 1 else value
    if origin is typing.Literal:
        return value
    if origin in (list, builtins.list):
        (arg,) = get_args(tp) or (Any,)
        return [_decode(arg, v) for v in value]
    if origin is tuple:
        items = get_args(tp)
        if len(items) == 2 and items[1] is Ellipsis:
            return tuple(_decode(items[0], v) for v in value)
        return tuple(_decode(a, v) for a, v in zip(items, value, strict=False))
    if origin is dict:
        v_tp = get_args(tp)[1] if get_args(tp) else Any
        return {k: _decode(v_tp, v) for k, v in value.items()}
    if isinstance(tp, type):
        if value is None:
            return None
        if issubclass(tp, datetime):
            return datetime.fromisoformat(value)
        if issubclass(tp, Enum):
            return tp(value)
        if dataclasses.is_dataclass(tp):
            return from_doc(tp, value)
    return value


def from_doc(cls: type[T], doc: dict[str, Any]) -> T:
    """Inverse of :func:`to_doc` for the dataclass ``cls``."""
    hints = get_type_hints(cls)
    kwargs = {
        f.name: _decode(hints[f.name], doc[f.name])
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in doc
    }
    return cls(**kwargs)


_M = TypeVar("_M")
_T = TypeVar("_T")


def _get_row(session: Session, model: type[_M], key: object, missing: str) -> _M:
    """The row of ``model`` with primary key ``key``, or NotFoundError(``missing``)."""
    row = session.get(model, key)
    if row is None:
        raise NotFoundError(missing)
    return row


def _where_given(stmt: Select[_T], *conditions: tuple[Any, object | None]) -> Select[_T]:
    """Add ``column == value`` for every given (not None) filter value."""
    for column, value in conditions:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


class _Repo:
    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self.db.session() as session:
            yield session


# -- tenants --------------------------------------------------------------------------------
class SqlTenantDirectory(_Repo):
    """Active tenants of the foundation ``tenants`` table, by slug.

    There is no host inventory yet (the endpoint agent brings it), so every host of a
    known tenant counts as known unless ``hosts`` (slug -> known host names, or ``None``
    for "any") says otherwise. Answers are cached for ``ttl`` seconds.
    """

    def __init__(
        self,
        db: Database,
        *,
        hosts: Callable[[str], set[str] | None] | None = None,
        ttl: float = 30.0,
    ) -> None:
        super().__init__(db)
        self.hosts = hosts
        self.ttl = ttl
        self._cache: dict[str, tuple[float, int | None]] = {}
        self._lock = threading.Lock()

    def tenant_id(self, tenant: str) -> int | None:
        """The id of the active tenant ``tenant`` (slug), or None."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(tenant)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1]
        with self._session() as s:
            row = s.execute(
                select(Tenant.id).where(Tenant.slug == tenant, Tenant.active.is_(True))
            ).first()
        found = int(row[0]) if row else None
        with self._lock:
            self._cache[tenant] = (now, found)
        return found

    def has_tenant(self, tenant: str) -> bool:
        return self.tenant_id(tenant) is not None

    def has_host(self, tenant: str, host: str) -> bool:
        if self.hosts is None:
            return True
        known = self.hosts(tenant)
        return known is None or host.lower() in {h.lower() for h in known}


def _tenant_id(session: Session, slug: str) -> int:
    row = session.execute(select(Tenant.id).where(Tenant.slug == slug)).first()
    if row is None:
        raise NotFoundError(f"tenant {slug} not found")
    return int(row[0])


# -- incidents --------------------------------------------------------------------------------
def _incident_columns(incident: Incident) -> dict[str, Any]:
    return {
        "tenant": incident.tenant,
        "title": incident.title[:500],
        "severity": incident.severity.value,
        "status": incident.status.value,
        "assignee": incident.assignee,
        "merged_into": incident.merged_into,
        "created_at": incident.created_at,
        "updated_at": incident.updated_at,
        "doc": incident_to_dict(incident),
    }


def _incident(row: RespondIncident) -> Incident:
    incident = incident_from_dict(row.doc)
    incident.version = row.version
    return incident


class SqlIncidentRepo(_Repo):
    def add(self, incident: Incident) -> None:
        incident.version = 1
        try:
            with self._session() as s:
                s.add(
                    RespondIncident(
                        id=incident.id,
                        tenant_id=_tenant_id(s, incident.tenant),
                        version=1,
                        **_incident_columns(incident),
                    )
                )
                s.flush()
        except IntegrityError:
            raise DuplicateError(f"incident {incident.id} already exists") from None

    def get(self, incident_id: str) -> Incident:
        with self._session() as s:
            row = _get_row(s, RespondIncident, incident_id, f"incident {incident_id} not found")
            return _incident(row)

    def save(self, incident: Incident) -> None:
        seen = incident.version
        incident.version = seen + 1
        try:
            with self._session() as s:
                result = s.execute(
                    update(RespondIncident)
                    .where(RespondIncident.id == incident.id, RespondIncident.version == seen)
                    .values(version=RespondIncident.version + 1, **_incident_columns(incident))
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    return
                stored = s.execute(
                    select(RespondIncident.version).where(RespondIncident.id == incident.id)
                ).first()
        except BaseException:
            incident.version = seen
            raise
        incident.version = seen
        if stored is None:
            raise NotFoundError(f"incident {incident.id} not found")
        raise ConflictError(
            f"incident {incident.id} was changed by someone else "
            f"(version {stored[0]}, yours {seen}); reload and retry"
        )

    def list(
        self,
        *,
        tenant: str | None = None,
        open_only: bool = False,
    ) -> builtins.list[Incident]:
        stmt = select(RespondIncident).order_by(RespondIncident.created_at, RespondIncident.id)
        if tenant is not None:
            stmt = stmt.where(RespondIncident.tenant == tenant)
        if open_only:
            stmt = stmt.where(
                RespondIncident.status.not_in(CLOSED_STATUSES),
                RespondIncident.merged_into.is_(None),
            )
        with self._session() as s:
            return [_incident(r) for r in s.scalars(stmt)]


# -- alerts -----------------------------------------------------------------------------------
def _alert_columns(record: AlertRecord) -> dict[str, Any]:
    return {
        "tenant": record.tenant,
        "rule_id": record.rule_id[:200],
        "rule_title": record.rule_title[:500],
        "level": record.level.value,
        "host": record.host,
        "user": record.user,
        "dedup_key": record.dedup_key[:128],
        "first_seen": record.first_seen,
        "last_seen": record.last_seen,
        "count": record.count,
        "incident_id": record.incident_id,
        "unknown_host": record.unknown_host,
        "tags": list(record.tags),
        "sample": record.sample.to_dict(),
    }


def _alert(row: RespondAlert) -> AlertRecord:
    return AlertRecord(
        id=row.id,
        tenant=row.tenant,
        rule_id=row.rule_id,
        rule_title=row.rule_title,
        level=Severity.parse(row.level),
        host=row.host,
        user=row.user,
        tags=tuple(row.tags or ()),
        dedup_key=row.dedup_key,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        count=row.count,
        sample=Alert.from_dict(row.sample),
        incident_id=row.incident_id,
        unknown_host=row.unknown_host,
    )


class SqlAlertRepo(_Repo):
    def add(self, record: AlertRecord) -> None:
        try:
            with self._session() as s:
                s.add(
                    RespondAlert(
                        id=record.id,
                        tenant_id=_tenant_id(s, record.tenant),
                        **_alert_columns(record),
                    )
                )
                s.flush()
        except IntegrityError:
            raise DuplicateError(f"alert {record.id} already exists") from None

    def get(self, alert_id: str) -> AlertRecord:
        with self._session() as s:
            row = _get_row(s, RespondAlert, alert_id, f"alert {alert_id} not found")
            return _alert(row)

    def claim(self, record: AlertRecord, bucket: int) -> str | None:
        """Insert the record unless its (dedup key, bucket) has one: the unique index
        ``uq_respond_alerts_dedup`` decides between concurrent workers (on PostgreSQL the
        second insert waits for the first transaction, then fails and folds)."""
        key = record.dedup_key[:128]
        find = select(RespondAlert.id).where(
            RespondAlert.dedup_key == key, RespondAlert.dedup_bucket == bucket
        )
        tenant_row = select(Tenant.id).where(Tenant.slug == record.tenant)
        for _ in range(3):
            try:
                with self.db.engine.begin() as conn:  # Core: no ORM unit of work per alert
                    tid = conn.execute(tenant_row).scalar()
                    if tid is None:
                        raise NotFoundError(f"tenant {record.tenant} not found")
                    conn.execute(
                        insert(RespondAlert).values(
                            id=record.id,
                            tenant_id=tid,
                            dedup_bucket=bucket,
                            **_alert_columns(record),
                        )
                    )
                return None
            except IntegrityError:
                pass  # the slot is taken (or was, by a record deleted since): read its holder
            with self._session() as s:
                held = s.execute(find).first()
            if held is not None:
                return str(held[0])
        raise ConflictError(f"cannot claim the dedup slot of alert {record.id}; retry")

    def assign(self, alert_id: str, incident_id: str) -> None:
        stmt = (
            update(RespondAlert)
            .where(RespondAlert.id == alert_id)
            .values(incident_id=incident_id)
            .execution_options(synchronize_session=False)
        )
        with self.db.engine.begin() as conn:
            if conn.execute(stmt).rowcount != 1:
                raise NotFoundError(f"alert {alert_id} not found")

    def release(self, alert_id: str) -> None:
        with self._session() as s:
            s.execute(delete(RespondAlert).where(RespondAlert.id == alert_id))

    def save(self, record: AlertRecord) -> None:
        """Store changes (the incident an alert belongs to...). The fold counters
        (count, first/last seen) are left alone: only :meth:`fold` moves them, so a save
        racing a storm of duplicates loses none of them."""
        columns = _alert_columns(record)
        for owned_by_fold in ("count", "first_seen", "last_seen"):
            columns.pop(owned_by_fold)
        with self._session() as s:
            result = s.execute(
                update(RespondAlert)
                .where(RespondAlert.id == record.id)
                .values(**columns)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFoundError(f"alert {record.id} not found")

    def fold(self, alert_id: str, ts: datetime) -> tuple[int, str | None]:
        ts = utc(ts)
        stmt = (
            update(RespondAlert)
            .where(RespondAlert.id == alert_id)
            .values(
                count=RespondAlert.count + 1,
                last_seen=case((RespondAlert.last_seen < ts, ts), else_=RespondAlert.last_seen),
                first_seen=case((RespondAlert.first_seen > ts, ts), else_=RespondAlert.first_seen),
            )
            .returning(RespondAlert.count, RespondAlert.incident_id)
            .execution_options(synchronize_session=False)
        )
        with self.db.engine.begin() as conn:  # one statement: no ORM session needed
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFoundError(f"alert {alert_id} not found")
        return int(row[0]), row[1]

    def list(self, *, tenant: str | None = None) -> builtins.list[AlertRecord]:
        stmt = select(RespondAlert).order_by(RespondAlert.first_seen, RespondAlert.id)
        if tenant is not None:
            stmt = stmt.where(RespondAlert.tenant == tenant)
        with self._session() as s:
            return [_alert(r) for r in s.scalars(stmt)]

    def since(self, ts: datetime) -> builtins.list[AlertRecord]:
        """Records first seen at or after ``ts`` (to rebuild the dedup window on start)."""
        stmt = (
            select(RespondAlert)
            .where(RespondAlert.first_seen >= utc(ts))
            .order_by(RespondAlert.first_seen, RespondAlert.id)
        )
        with self._session() as s:
            return [_alert(r) for r in s.scalars(stmt)]

    def reject(self, item: RejectedAlert) -> None:
        with self._session() as s:
            s.add(
                RespondRejectedAlert(
                    received_at=item.received_at,
                    reason=item.reason,
                    payload=to_doc(item.payload),
                )
            )

    def rejected(self) -> builtins.list[RejectedAlert]:
        stmt = select(RespondRejectedAlert).order_by(RespondRejectedAlert.id)
        with self._session() as s:
            return [
                RejectedAlert(payload=r.payload, reason=r.reason, received_at=r.received_at)
                for r in s.scalars(stmt)
            ]


# -- documents (actions, runs, deliveries, pages, breach tracks) -------------------------------
class SqlActionRepo(_Repo):
    def _cols(self, record: ActionRecord) -> dict[str, Any]:
        return {
            "incident_id": record.incident_id,
            "tenant": record.tenant,
            "status": record.status.value,
            "requested_at": record.requested_at,
            "doc": to_doc(record),
        }

    def add(self, record: ActionRecord) -> None:
        with self._session() as s:
            s.merge(RespondAction(id=record.id, **self._cols(record)))

    save = add

    def get(self, record_id: str) -> ActionRecord:
        with self._session() as s:
            row = _get_row(s, RespondAction, record_id, f"action {record_id} not found")
            return from_doc(ActionRecord, row.doc)

    def list(
        self, *, incident_id: str | None = None, status: str | None = None
    ) -> builtins.list[ActionRecord]:
        stmt = select(RespondAction).order_by(RespondAction.requested_at, RespondAction.id)
        stmt = _where_given(
            stmt,
            (RespondAction.incident_id, incident_id),
            (RespondAction.status, None if status is None else str(status)),
        )
        with self._session() as s:
            return [from_doc(ActionRecord, r.doc) for r in s.scalars(stmt)]


class SqlPlaybookRunRepo(_Repo):
    def add(self, run: PlaybookRun) -> None:
        with self._session() as s:
            s.merge(
                RespondPlaybookRun(
                    id=run.id,
                    incident_id=run.incident_id,
                    playbook=run.playbook,
                    tenant=run.tenant,
                    started_at=run.started_at,
                    doc=to_doc(run),
                )
            )

    save = add

    def get(self, run_id: str) -> PlaybookRun:
        with self._session() as s:
            row = _get_row(s, RespondPlaybookRun, run_id, f"playbook run {run_id} not found")
            return from_doc(PlaybookRun, row.doc)

    def find(self, incident_id: str, playbook: str) -> PlaybookRun | None:
        stmt = (
            select(RespondPlaybookRun)
            .where(
                RespondPlaybookRun.incident_id == incident_id,
                RespondPlaybookRun.playbook == playbook,
            )
            .order_by(RespondPlaybookRun.started_at)
            .limit(1)
        )
        with self._session() as s:
            row = s.scalars(stmt).first()
            return from_doc(PlaybookRun, row.doc) if row else None

    def list(self, *, incident_id: str | None = None) -> builtins.list[PlaybookRun]:
        stmt = select(RespondPlaybookRun).order_by(RespondPlaybookRun.started_at)
        stmt = _where_given(stmt, (RespondPlaybookRun.incident_id, incident_id))
        with self._session() as s:
            return [from_doc(PlaybookRun, r.doc) for r in s.scalars(stmt)]


class SqlDeliveryRepo(_Repo):
    def add(self, record: DeliveryRecord) -> None:
        with self._session() as s:
            s.merge(
                RespondDelivery(
                    id=record.id,
                    tenant=record.tenant,
                    status=record.status,
                    incident_id=record.incident_id,
                    created_at=record.created_at,
                    doc=to_doc(record),
                )
            )

    def list(
        self,
        *,
        tenant: str | None = None,
        status: str | None = None,
        incident_id: str | None = None,
    ) -> builtins.list[DeliveryRecord]:
        stmt = select(RespondDelivery).order_by(RespondDelivery.created_at, RespondDelivery.id)
        stmt = _where_given(
            stmt,
            (RespondDelivery.tenant, tenant),
            (RespondDelivery.status, status),
            (RespondDelivery.incident_id, incident_id),
        )
        with self._session() as s:
            return [from_doc(DeliveryRecord, r.doc) for r in s.scalars(stmt)]


class SqlPageRepo(_Repo):
    def add(self, page: Page) -> None:
        with self._session() as s:
            s.merge(
                RespondPage(
                    id=page.id,
                    incident_id=page.incident_id,
                    status=page.status,
                    sent_at=page.sent_at,
                    doc=to_doc(page),
                )
            )

    save = add

    def get(self, page_id: str) -> Page:
        with self._session() as s:
            row = _get_row(s, RespondPage, page_id, f"page {page_id} not found")
            return from_doc(Page, row.doc)

    def list(
        self, *, incident_id: str | None = None, status: str | None = None
    ) -> builtins.list[Page]:
        stmt = select(RespondPage).order_by(RespondPage.sent_at, RespondPage.id)
        stmt = _where_given(
            stmt,
            (RespondPage.incident_id, incident_id),
            (RespondPage.status, status),
        )
        with self._session() as s:
            return [from_doc(Page, r.doc) for r in s.scalars(stmt)]


class SqlBreachRepo(_Repo):
    def get(self, incident_id: str) -> BreachTrack:
        with self._session() as s:
            row = _get_row(
                s, RespondBreachTrack, incident_id, f"incident {incident_id} has no breach track"
            )
            return from_doc(BreachTrack, row.doc)

    def put(self, track: BreachTrack) -> None:
        with self._session() as s:
            s.merge(
                RespondBreachTrack(
                    incident_id=track.incident_id, tenant=track.tenant, doc=to_doc(track)
                )
            )

    def list(self, *, tenant: str | None = None) -> builtins.list[BreachTrack]:
        stmt = select(RespondBreachTrack).order_by(RespondBreachTrack.incident_id)
        if tenant is not None:
            stmt = stmt.where(RespondBreachTrack.tenant == tenant)
        with self._session() as s:
            return [from_doc(BreachTrack, r.doc) for r in s.scalars(stmt)]


# -- endpoint command queue ---------------------------------------------------------------------
_OPEN = (CommandStatus.QUEUED.value, CommandStatus.DELIVERED.value)


class SqlCommandQueue(_Repo):
    """The agent command queue. State changes are conditional updates, so two agents
    polling at once never both receive a command, and a finished one stays finished."""

    def enqueue(self, command: EndpointCommand) -> EndpointCommand:
        with self._session() as s:
            s.add(
                RespondCommand(
                    id=command.id,
                    tenant=command.tenant,
                    host=command.host,
                    status=command.status.value,
                    created_at=command.created_at,
                    expires_at=command.expires_at,
                    incident_id=command.incident_id,
                    doc=to_doc(command),
                )
            )
        return command

    def get(self, command_id: str) -> EndpointCommand:
        with self._session() as s:
            row = _get_row(s, RespondCommand, command_id, f"command {command_id} not found")
            return from_doc(EndpointCommand, row.doc)

    def _move(self, s: Session, cmd: EndpointCommand, old: str) -> bool:
        result = s.execute(
            update(RespondCommand)
            .where(RespondCommand.id == cmd.id, RespondCommand.status == old)
            .values(status=cmd.status.value, doc=to_doc(cmd))
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def pending(self, tenant: str, host: str, now: datetime) -> builtins.list[EndpointCommand]:
        now = utc(now)
        stmt = (
            select(RespondCommand)
            .where(
                RespondCommand.tenant == tenant,
                RespondCommand.host == host.lower(),
                RespondCommand.status == CommandStatus.QUEUED.value,
                RespondCommand.expires_at > now,
            )
            .order_by(RespondCommand.created_at, RespondCommand.id)
        )
        out = []
        with self._session() as s:
            for row in s.scalars(stmt).all():
                cmd = from_doc(EndpointCommand, row.doc)
                cmd.status = CommandStatus.DELIVERED
                cmd.delivered_at = now
                if self._move(s, cmd, CommandStatus.QUEUED.value):
                    out.append(cmd)
        return out

    def complete(
        self, command_id: str, *, ok: bool, result: dict[str, Any], now: datetime
    ) -> EndpointCommand:
        for _ in range(5):
            with self._session() as s:
                row = _get_row(s, RespondCommand, command_id, f"command {command_id} not found")
                cmd = from_doc(EndpointCommand, row.doc)
                if cmd.status.finished:
                    raise ValidationError(f"command {command_id} is already {cmd.status.value}")
                old = cmd.status.value
                cmd.status = CommandStatus.SUCCEEDED if ok else CommandStatus.FAILED
                cmd.finished_at = utc(now)
                cmd.result = dict(result)
                if self._move(s, cmd, old):
                    return cmd
        raise ConflictError(f"command {command_id} keeps changing; retry")

    def cancel(self, command_id: str, now: datetime) -> EndpointCommand:
        for _ in range(5):
            with self._session() as s:
                row = _get_row(s, RespondCommand, command_id, f"command {command_id} not found")
                cmd = from_doc(EndpointCommand, row.doc)
                if cmd.status.finished:
                    return cmd
                old = cmd.status.value
                cmd.status = CommandStatus.CANCELLED
                cmd.finished_at = utc(now)
                if self._move(s, cmd, old):
                    return cmd
        raise ConflictError(f"command {command_id} keeps changing; retry")

    def expire(self, now: datetime) -> builtins.list[EndpointCommand]:
        now = utc(now)
        stmt = select(RespondCommand).where(
            RespondCommand.status.in_(_OPEN), RespondCommand.expires_at <= now
        )
        out = []
        with self._session() as s:
            for row in s.scalars(stmt).all():
                cmd = from_doc(EndpointCommand, row.doc)
                old = cmd.status.value
                cmd.status = CommandStatus.EXPIRED
                cmd.finished_at = now
                if self._move(s, cmd, old):
                    out.append(cmd)
        return out

    def list(
        self, *, tenant: str | None = None, incident_id: str | None = None
    ) -> builtins.list[EndpointCommand]:
        """Every command (newest last), for the incident page and the API."""
        stmt = select(RespondCommand).order_by(RespondCommand.created_at, RespondCommand.id)
        stmt = _where_given(
            stmt,
            (RespondCommand.tenant, tenant),
            (RespondCommand.incident_id, incident_id),
        )
        with self._session() as s:
            return [from_doc(EndpointCommand, r.doc) for r in s.scalars(stmt)]


# -- blocklist ----------------------------------------------------------------------------------
def _entry(row: RespondBlockEntry) -> BlockEntry:
    return BlockEntry(
        id=row.id,
        tenant=row.tenant,
        kind=IndicatorKind(row.kind),
        value=row.value,
        reason=row.reason,
        added_by=row.added_by,
        added_at=row.added_at,
        expires_at=row.expires_at,
        incident_id=row.incident_id,
    )


class SqlBlocklist(_Repo):
    def add(self, entry: BlockEntry) -> BlockEntry:
        tenant_clause = (
            RespondBlockEntry.tenant.is_(None)
            if entry.tenant is None
            else RespondBlockEntry.tenant == entry.tenant
        )
        with self._session() as s:
            for row in s.scalars(
                select(RespondBlockEntry).where(
                    tenant_clause,
                    RespondBlockEntry.kind == entry.kind.value,
                    RespondBlockEntry.value == entry.value,
                )
            ):
                existing = _entry(row)
                if existing.active(entry.added_at):
                    return existing
            s.add(
                RespondBlockEntry(
                    id=entry.id,
                    tenant=entry.tenant,
                    kind=entry.kind.value,
                    value=entry.value,
                    reason=entry.reason,
                    added_by=entry.added_by,
                    added_at=entry.added_at,
                    expires_at=entry.expires_at,
                    incident_id=entry.incident_id,
                )
            )
        return entry

    def remove(self, entry_id: str) -> BlockEntry:
        with self._session() as s:
            row = _get_row(s, RespondBlockEntry, entry_id, f"blocklist entry {entry_id} not found")
            entry = _entry(row)
            s.execute(delete(RespondBlockEntry).where(RespondBlockEntry.id == entry_id))
            return entry

    def list(
        self, *, tenant: str | None = None, now: datetime | None = None, include_global: bool = True
    ) -> builtins.list[BlockEntry]:
        stmt = select(RespondBlockEntry)
        if tenant is not None:
            if include_global:
                stmt = stmt.where(
                    (RespondBlockEntry.tenant == tenant) | RespondBlockEntry.tenant.is_(None)
                )
            else:
                stmt = stmt.where(RespondBlockEntry.tenant == tenant)
        with self._session() as s:
            items = [_entry(r) for r in s.scalars(stmt)]
        out = [e for e in items if now is None or e.active(now)]
        return sorted(out, key=lambda e: (e.kind.value, e.value))


# -- blobs ----------------------------------------------------------------------------------------
class SqlBlobStore(_Repo):
    """Attachments by SHA-256 in the database (shared by web and worker processes)."""

    def put(self, data: bytes) -> str:
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        try:
            with self._session() as s:
                if s.get(RespondBlob, digest) is None:
                    s.add(RespondBlob(sha256=digest, size=len(data), data=bytes(data)))
                    s.flush()
        except IntegrityError:
            pass  # stored meanwhile by someone else: same content, same key
        return digest

    def get(self, sha256: str) -> bytes:
        import hashlib

        with self._session() as s:
            row = _get_row(s, RespondBlob, sha256, f"no blob {sha256}")
            data = bytes(row.data)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValidationError(f"blob {sha256} is corrupt (hash mismatch)")
        return data


class RespondStore:
    """Every SQL repository of the response area over one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.directory = SqlTenantDirectory(db)
        self.incidents = SqlIncidentRepo(db)
        self.alerts = SqlAlertRepo(db)
        self.actions = SqlActionRepo(db)
        self.runs = SqlPlaybookRunRepo(db)
        self.deliveries = SqlDeliveryRepo(db)
        self.pages = SqlPageRepo(db)
        self.breaches = SqlBreachRepo(db)
        self.commands = SqlCommandQueue(db)
        self.blocklist = SqlBlocklist(db)
        self.blobs = SqlBlobStore(db)


__all__ = [
    "RespondStore",
    "SqlActionRepo",
    "SqlAlertRepo",
    "SqlBlobStore",
    "SqlBlocklist",
    "SqlBreachRepo",
    "SqlCommandQueue",
    "SqlDeliveryRepo",
    "SqlIncidentRepo",
    "SqlPageRepo",
    "SqlPlaybookRunRepo",
    "SqlTenantDirectory",
    "from_doc",
    "to_doc",
]
