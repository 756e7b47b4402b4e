"""The audit log: append with a hash chain, list, and verify the chain.

Every row stores the hash of the previous row (``prev_hash``) and its own ``hash`` over its
content and ``prev_hash``; the single ``audit_head`` row holds the tip. Appending first
updates the head, which takes the write lock on SQLite and a row lock on PostgreSQL, so
concurrent appenders line up instead of forking the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mamori.store.tables import AuditHead, AuditLog
from mamori.store.types import utcnow

GENESIS = ""
HEAD_ID = 1


def _canonical_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(detail or {}, default=str, ensure_ascii=False))
    return result


def _ts_text(ts: datetime) -> str:
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_hash(
    *,
    seq: int,
    ts: datetime,
    actor: str,
    tenant_id: int | None,
    action: str,
    target: str,
    detail: dict[str, Any],
    source_ip: str,
    prev_hash: str,
) -> str:
    """SHA-256 over a canonical JSON form of one row's content and the previous hash."""
    payload = json.dumps(
        [seq, _ts_text(ts), actor, tenant_id, action, target, detail, source_ip, prev_hash],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def row_hash(row: AuditLog) -> str:
    return compute_hash(
        seq=row.seq,
        ts=row.ts,
        actor=row.actor,
        tenant_id=row.tenant_id,
        action=row.action,
        target=row.target,
        detail=row.detail,
        source_ip=row.source_ip,
        prev_hash=row.prev_hash,
    )


def record(
    session: Session,
    *,
    action: str,
    actor: str = "",
    tenant_id: int | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
    source_ip: str = "",
    ts: datetime | None = None,
) -> AuditLog:
    """Append one entry to the chain (in the caller's transaction) and return it."""
    session.flush()
    session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=AuditHead.seq + 1))
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).execution_options(populate_existing=True)
    ).scalar_one()
    row = AuditLog(
        seq=head.seq,
        ts=ts or utcnow(),
        actor=actor[:200],
        tenant_id=tenant_id,
        action=action[:100],
        target=target[:300],
        detail=_canonical_detail(detail),
        source_ip=(source_ip or "")[:64],
        prev_hash=head.last_hash,
        hash="",
    )
    row.hash = row_hash(row)
    head.last_hash = row.hash
    session.add(row)
    session.flush()
    return row


def list_entries(
    session: Session,
    *,
    tenant_ids: Collection[int] | None = None,
    action_prefix: str | None = None,
    limit: int = 100,
    before_seq: int | None = None,
) -> list[AuditLog]:
    """Newest first. ``tenant_ids=None`` means every tenant (and tenant-less entries)."""
    stmt = select(AuditLog).order_by(AuditLog.seq.desc()).limit(limit)
    if tenant_ids is not None:
        stmt = stmt.where(AuditLog.tenant_id.in_(list(tenant_ids)))
    if action_prefix:
        stmt = stmt.where(AuditLog.action.startswith(action_prefix))
    if before_seq is not None:
        stmt = stmt.where(AuditLog.seq < before_seq)
    return list(session.scalars(stmt))


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of walking the chain; ``broken_seq`` is the first bad row, if any."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""


def verify(session: Session, *, batch: int = 1000) -> VerifyResult:
    """Walk the chain from the first row and report the first row that does not fit."""
    prev_hash = GENESIS
    expected_seq = 1
    checked = 0
    last_seq = 0
    stmt = select(AuditLog).order_by(AuditLog.seq).execution_options(yield_per=batch)
    for row in session.scalars(stmt):
        checked += 1
        if row.seq != expected_seq:
            return VerifyResult(
                False, checked, row.seq, f"entry {expected_seq} is missing (found {row.seq})"
            )
        if row.prev_hash != prev_hash:
            return VerifyResult(
                False, checked, row.seq, "previous-hash link does not match the entry before"
            )
        if row_hash(row) != row.hash:
            return VerifyResult(
                False, checked, row.seq, "content does not match its hash (entry was modified)"
            )
        prev_hash = row.hash
        last_seq = row.seq
        expected_seq += 1
    head = session.get(AuditHead, HEAD_ID)
    if head is None:
        return VerifyResult(False, checked, None, "audit head row is missing")
    if head.seq != last_seq or head.last_hash != prev_hash:
        return VerifyResult(
            False,
            checked,
            last_seq + 1,
            f"chain ends at entry {last_seq} but the head records entry {head.seq}"
            " (entries were removed)",
        )
    return VerifyResult(True, checked)


__all__ = ["VerifyResult", "compute_hash", "list_entries", "record", "row_hash", "verify"]
