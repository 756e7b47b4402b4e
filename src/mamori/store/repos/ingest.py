"""Stored events and quarantined records: idempotent batch insert, search, retention.

Inserts ignore rows whose key already exists (``(tenant_id, event_id)`` for events,
``record_key`` for quarantined records) with the engine's own ``ON CONFLICT DO NOTHING``,
so a redelivered batch is stored once on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Select, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mamori.errors import NotFoundError, ValidationError
from mamori.store.tables import QuarantinedRecord, StoredEvent, Tenant
from mamori.store.types import utcnow

MAX_PAGE = 1000
FIELD_NAME_RE = re.compile(r"^[\w@.:\-]{1,100}$")
_BATCH = 500


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValidationError(f"unsupported database {dialect!r}")  # pragma: no cover


class EventRow(NamedTuple):
    """One event row to insert (the columns of ``events`` but the row id).

    ``ts`` and ``received_at`` are aware datetimes (naive ones are taken as UTC);
    ``received_at=None`` means now. ``fields_json``, when the caller has it at hand, is
    ``fields`` as :func:`encode_fields` writes them, so that they are not serialised twice.
    """

    tenant_id: int
    event_id: str
    ts: datetime
    host: str | None
    source: str
    data_type: str
    fields: dict[str, Any]
    raw: str
    received_at: datetime | None = None
    fields_json: bytes | None = None


def insert_events(session: Session, *, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert event rows (column -> value); rows already stored are skipped.

    Each row needs ``tenant_id``, ``event_id`` and ``ts``; ``host``, ``source``,
    ``data_type``, ``fields``, ``raw`` and ``received_at`` are optional. Returns how many
    rows were new.
    """
    return insert_event_rows(
        session,
        rows=[
            EventRow(
                row["tenant_id"],
                row["event_id"],
                row["ts"],
                row.get("host"),
                row.get("source") or "",
                row.get("data_type") or "",
                row.get("fields") or {},
                row.get("raw") or "",
                row.get("received_at"),
            )
            for row in rows
        ],
    )


def insert_event_rows(session: Session, *, rows: Sequence[EventRow]) -> int:
    """:func:`insert_events` for :class:`EventRow` tuples (the ingest hot path): rows
    already stored (same tenant and event id) are skipped; returns how many were new."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "sqlite":
        return _insert_events_sqlite(session, rows)
    now = utcnow()
    values = [
        {
            "tenant_id": row.tenant_id,
            "event_id": str(row.event_id)[:64],
            "ts": row.ts,
            "host": (str(row.host)[:255] if row.host else None),
            "source": str(row.source or "")[:100],
            "data_type": str(row.data_type or "")[:100],
            "fields": row.fields or {},
            "raw": str(row.raw or ""),
            "received_at": row.received_at or now,
        }
        for row in rows
    ]
    stmt = (
        _insert(session, StoredEvent)
        .on_conflict_do_nothing(index_elements=["tenant_id", "event_id"])
        .returning(StoredEvent.id)
    )
    conn = session.connection()
    inserted = 0
    for start in range(0, len(values), _BATCH):
        inserted += len(conn.execute(stmt, values[start : start + _BATCH]).all())
    return inserted


_SQLITE_INSERT_EVENTS = (
    "INSERT INTO events (tenant_id, event_id, ts, host, source, data_type, fields, raw,"
    " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (tenant_id, event_id) DO NOTHING"
)


def _sqlite_time(value: datetime) -> str:
    """The text form SQLAlchemy's SQLite DateTime stores (naive UTC), so queries compare:
    ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    value = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if value.year < 1000:  # strftime does not pad such years on every platform
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    text = value.isoformat(" ")
    return text if value.microsecond else f"{text}.000000"


_ORJSON_OPTS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def encode_fields(value: Any) -> bytes | None:
    """orjson's compact JSON of an event's fields (what :attr:`EventRow.fields_json`
    holds); None when orjson refuses them (the store then asks ``json``)."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON_OPTS)
    except (TypeError, orjson.JSONEncodeError):
        return None


def _json_text(value: Any, encoded: bytes | None = None) -> str:
    """JSON text of an event's fields exactly as ``json.dumps(value, default=str)`` means
    it: ASCII with ``\\uXXXX`` escapes (field search names keys in that form, see
    :func:`_json_key`). orjson writes it when the text is ASCII anyway (most logs);
    ``encoded`` is its output when the caller has it already."""
    out = encoded if encoded is not None else encode_fields(value)
    if out is not None and out.isascii():
        return out.decode("ascii")
    return json.dumps(value, default=str)


def _insert_events_sqlite(session: Session, rows: Sequence[EventRow]) -> int:
    """The hot path of the store on SQLite: one ``executemany`` in the driver.

    Writes exactly what the ORM types would (naive-UTC time text, JSON text), in the
    session's own transaction; the driver's change counter gives the new rows.
    """
    raw_conn = session.connection().connection.dbapi_connection
    assert raw_conn is not None  # noqa: S101 - an open session has a connection
    times: dict[datetime, str] = {}  # events of a batch share few distinct times
    now = _sqlite_time(utcnow())
    params: list[tuple[Any, ...]] = []
    append = params.append
    for row in rows:
        ts = times.get(row.ts)
        if ts is None:
            ts = times[row.ts] = _sqlite_time(row.ts)
        received = now
        if row.received_at:
            received = times.get(row.received_at) or _sqlite_time(row.received_at)
        append(
            (
                row.tenant_id,
                str(row.event_id)[:64],
                ts,
                str(row.host)[:255] if row.host else None,
                str(row.source or "")[:100],
                str(row.data_type or "")[:100],
                _json_text(row.fields or {}, row.fields_json if row.fields else None),
                str(row.raw or ""),
                received,
            )
        )
    before = raw_conn.total_changes
    cursor = raw_conn.cursor()
    try:
        cursor.executemany(_SQLITE_INSERT_EVENTS, params)
    finally:
        cursor.close()
    return int(raw_conn.total_changes - before)


def insert_quarantined(session: Session, *, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert quarantined records; a ``record_key`` already stored is skipped."""
    if not rows:
        return 0
    now = utcnow()
    values = [
        {
            "tenant_id": row.get("tenant_id"),
            "record_key": str(row["record_key"])[:64],
            "source": str(row.get("source") or "")[:100],
            "reason": str(row.get("reason") or ""),
            "raw": bytes(row.get("raw") or b""),
            "location": str(row.get("location") or ""),
            "tenant_label": str(row.get("tenant_label") or "")[:100],
            "received_at": row.get("received_at") or now,
        }
        for row in rows
    ]
    stmt = _insert(session, QuarantinedRecord).on_conflict_do_nothing(index_elements=["record_key"])
    inserted = 0
    for start in range(0, len(values), _BATCH):
        chunk = values[start : start + _BATCH]
        keys = {v["record_key"] for v in chunk}
        known = set(
            session.scalars(
                select(QuarantinedRecord.record_key).where(QuarantinedRecord.record_key.in_(keys))
            )
        )
        session.execute(stmt, chunk)
        inserted += len(keys - known)
    return inserted


def tenant_ids_by_slug(session: Session, *, slugs: Iterable[str]) -> dict[str, int]:
    """``slug -> id`` for the given slugs that name existing tenants."""
    wanted = sorted(set(slugs))
    if not wanted:
        return {}
    rows = session.execute(select(Tenant.slug, Tenant.id).where(Tenant.slug.in_(wanted)))
    return {str(slug): int(tid) for slug, tid in rows}


# ---- search ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventQuery:
    """What ``GET /api/v1/events`` and the ログ page filter by (all optional).

    ``text`` is a case-insensitive substring of the raw record; ``fields`` compares named
    event fields for equality (as text). ``tenant_ids=None`` means every tenant.
    """

    tenant_ids: Collection[int] | None = None
    start: datetime | None = None
    end: datetime | None = None
    host: str | None = None
    source: str | None = None
    text: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)

    def validate(self) -> EventQuery:
        """Raises:
        ValidationError: a bad time range or field name.
        """
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValidationError("the start of the time range is after its end")
        for name in self.fields:
            if not FIELD_NAME_RE.fullmatch(name):
                raise ValidationError(f"field name {name!r} is not allowed in a filter")
        return self


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _json_key(name: str, dialect: str) -> str:
    # SQLite compares JSON object keys as written, and the stored JSON escapes non-ASCII
    # characters (\\uXXXX): the path must name the key in that escaped form
    return json.dumps(name)[1:-1] if dialect == "sqlite" else name


def _filtered(stmt: Select[Any], query: EventQuery, dialect: str) -> Select[Any]:
    query.validate()
    if query.tenant_ids is not None:
        stmt = stmt.where(StoredEvent.tenant_id.in_(list(query.tenant_ids)))
    if query.start is not None:
        stmt = stmt.where(StoredEvent.ts >= query.start)
    if query.end is not None:
        stmt = stmt.where(StoredEvent.ts < query.end)
    if query.host:
        stmt = stmt.where(StoredEvent.host == query.host)
    if query.source:
        stmt = stmt.where(StoredEvent.source == query.source)
    if query.text:
        stmt = stmt.where(StoredEvent.raw.ilike(_like(query.text), escape="\\"))
    for name, value in query.fields.items():
        stmt = stmt.where(StoredEvent.fields[_json_key(name, dialect)].as_string() == value)
    return stmt


def search_events(
    session: Session, *, query: EventQuery, limit: int = 100, offset: int = 0
) -> tuple[list[StoredEvent], bool]:
    """Newest first; returns the page and whether more rows follow.

    Raises:
        ValidationError: bad paging values or filters.
    """
    if not 0 < limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise ValidationError("offset must not be negative")
    stmt = _filtered(select(StoredEvent), query, session.get_bind().dialect.name)
    stmt = stmt.order_by(StoredEvent.ts.desc(), StoredEvent.id.desc()).offset(offset)
    rows = list(session.scalars(stmt.limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def count_events(session: Session, *, query: EventQuery) -> int:
    dialect = session.get_bind().dialect.name
    stmt = _filtered(select(func.count()).select_from(StoredEvent), query, dialect)
    return int(session.scalar(stmt) or 0)


def get_event(
    session: Session, *, row_id: int, tenant_ids: Collection[int] | None = None
) -> StoredEvent:
    """Raises:
    NotFoundError: no such event, or it belongs to a tenant outside ``tenant_ids``.
    """
    event = session.get(StoredEvent, row_id)
    if event is None or (tenant_ids is not None and event.tenant_id not in tenant_ids):
        raise NotFoundError(f"event {row_id} not found")
    return event


def event_sources(session: Session, *, tenant_ids: Collection[int] | None = None) -> list[str]:
    """The distinct sources of stored events (for the search form)."""
    stmt = select(StoredEvent.source).distinct().order_by(StoredEvent.source)
    if tenant_ids is not None:
        stmt = stmt.where(StoredEvent.tenant_id.in_(list(tenant_ids)))
    return [s for s in session.scalars(stmt.limit(200)) if s]


#: Category of a log source by the first part of its data type, for the guideline checks.
_CATEGORY_BY_NAMESPACE = {
    "windows": "endpoint",
    "sysmon": "endpoint",
    "auth": "auth",
    "linux": "server",
    "syslog": "server",
    "firewall": "firewall",
    "proxy": "proxy",
    "web": "proxy",
    "mail": "mail",
    "dns": "dns",
    "scan": "mail",
}


def source_activity(session: Session, *, tenant_id: int, since: datetime) -> list[dict[str, Any]]:
    """Per log source of one tenant since ``since``: first/last event time, events, hosts.

    This is what the platform has *seen*, the input of the guideline's automatic checks
    (e.g. "logs needed to investigate an incident are collected").
    """
    stmt = (
        select(
            StoredEvent.source,
            func.max(StoredEvent.data_type),
            func.min(StoredEvent.ts),
            func.max(StoredEvent.ts),
            func.count(),
            func.count(func.distinct(StoredEvent.host)),
        )
        .where(StoredEvent.tenant_id == tenant_id, StoredEvent.ts >= since)
        .group_by(StoredEvent.source)
        .order_by(StoredEvent.source)
    )
    out = []
    for source, data_type, first, last, events, hosts in session.execute(stmt):
        namespace = str(data_type or source or "").split(":", 1)[0]
        out.append(
            {
                "name": source or "unknown",
                "category": _CATEGORY_BY_NAMESPACE.get(namespace, "other"),
                "first_seen": _aware(first).isoformat(),
                "last_seen": _aware(last).isoformat(),
                "events": int(events),
                "hosts": int(hosts),
            }
        )
    return out


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ---- quarantine --------------------------------------------------------------------------


def _quarantine_scope(stmt: Any, tenant_ids: Collection[int] | None) -> Any:
    if tenant_ids is not None:
        stmt = stmt.where(QuarantinedRecord.tenant_id.in_(list(tenant_ids)))
    return stmt


def list_quarantined(
    session: Session,
    *,
    tenant_ids: Collection[int] | None = None,
    source: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[QuarantinedRecord], bool]:
    """Newest first; ``tenant_ids=None`` (administrators) includes tenant-less records.

    Raises:
        ValidationError: bad paging values.
    """
    if not 0 < limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise ValidationError("offset must not be negative")
    stmt = _quarantine_scope(select(QuarantinedRecord), tenant_ids)
    if source:
        stmt = stmt.where(QuarantinedRecord.source == source)
    stmt = stmt.order_by(QuarantinedRecord.received_at.desc(), QuarantinedRecord.id.desc())
    rows = list(session.scalars(stmt.offset(offset).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def count_quarantined(
    session: Session,
    *,
    tenant_ids: Collection[int] | None = None,
    since: datetime | None = None,
) -> dict[str, int]:
    """Quarantined records per source (and ``"total"``)."""
    stmt = _quarantine_scope(
        select(QuarantinedRecord.source, func.count()).group_by(QuarantinedRecord.source),
        tenant_ids,
    )
    if since is not None:
        stmt = stmt.where(QuarantinedRecord.received_at >= since)
    counts = {str(source): int(n) for source, n in session.execute(stmt)}
    counts_total = sum(counts.values())
    return {"total": counts_total, **counts}


def get_quarantined(
    session: Session, *, row_id: int, tenant_ids: Collection[int] | None = None
) -> QuarantinedRecord:
    """Raises:
    NotFoundError: no such record, or it is outside ``tenant_ids``.
    """
    row = session.get(QuarantinedRecord, row_id)
    if row is None or (tenant_ids is not None and row.tenant_id not in tenant_ids):
        raise NotFoundError(f"quarantined record {row_id} not found")
    return row


# ---- retention ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What one purge removed: per tenant, or (``tenant_id=None``) of the quarantined
    records that belong to no tenant."""

    tenant_id: int | None
    slug: str
    cutoff: datetime
    events: int
    quarantined: int


#: Retention of quarantined records without a tenant when the caller names none.
DEFAULT_UNATTRIBUTED_DAYS = 180


def purge_expired(
    session: Session,
    *,
    now: datetime | None = None,
    batch: int = 10_000,
    unattributed_days: int = DEFAULT_UNATTRIBUTED_DAYS,
) -> list[PurgeResult]:
    """Delete each tenant's events (and quarantined records) older than its retention,
    and the quarantined records of no tenant older than ``unattributed_days``.

    Deletes in batches of ``batch`` rows (committing is the caller's); returns one
    result per tenant that lost rows, plus one with ``tenant_id=None`` when quarantined
    records without a tenant were removed.

    Raises:
        ValidationError: ``unattributed_days`` is below one.
    """
    if unattributed_days <= 0:
        raise ValidationError("the retention of unattributed records must be at least one day")
    now = now or utcnow()
    results: list[PurgeResult] = []
    tenants = list(session.execute(select(Tenant.id, Tenant.slug, Tenant.retention_days)))
    for tenant_id, slug, days in tenants:
        cutoff = now - timedelta(days=int(days))
        events = _delete_batches(
            session,
            StoredEvent,
            (StoredEvent.tenant_id == tenant_id, StoredEvent.ts < cutoff),
            batch,
        )
        quarantined = _delete_batches(
            session,
            QuarantinedRecord,
            (QuarantinedRecord.tenant_id == tenant_id, QuarantinedRecord.received_at < cutoff),
            batch,
        )
        if events or quarantined:
            results.append(PurgeResult(tenant_id, slug, cutoff, events, quarantined))
    cutoff = now - timedelta(days=unattributed_days)
    orphans = _delete_batches(
        session,
        QuarantinedRecord,
        (QuarantinedRecord.tenant_id.is_(None), QuarantinedRecord.received_at < cutoff),
        batch,
    )
    if orphans:
        results.append(PurgeResult(None, "", cutoff, 0, orphans))
    return results


def _delete_batches(session: Session, table: Any, where: tuple[Any, ...], batch: int) -> int:
    total = 0
    while True:
        ids = list(session.scalars(select(table.id).where(*where).limit(batch)))
        if not ids:
            return total
        session.execute(delete(table).where(table.id.in_(ids)))
        total += len(ids)
        if len(ids) < batch:
            return total


__all__ = [
    "MAX_PAGE",
    "EventQuery",
    "EventRow",
    "DEFAULT_UNATTRIBUTED_DAYS",
    "PurgeResult",
    "count_events",
    "count_quarantined",
    "event_sources",
    "get_event",
    "get_quarantined",
    "encode_fields",
    "insert_event_rows",
    "insert_events",
    "insert_quarantined",
    "list_quarantined",
    "purge_expired",
    "search_events",
    "tenant_ids_by_slug",
]
