"""SQL storage for guideline assessments and evidence (the protocols of GuidelineService).

:class:`SqlAssessmentRepository` implements
:class:`~mamori.guideline.service.AssessmentRepository` and :class:`SqlEvidenceBlobs`
implements :class:`~mamori.guideline.service.EvidenceBlobs` on the caller's session; the
caller commits. The domain's ``tenant`` string is the tenant's slug. A lookup for another
tenant's assessment or evidence raises ``NotFoundError``, exactly like an unknown id.

Evidence bytes live in the database (``guideline_evidence_blobs``), so they share the
transaction, the backup and the engine with the rest; the service limits their size before
they get here (:data:`mamori.guideline.evidence.DEFAULT_MAX_BYTES`).
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mamori.errors import NotFoundError, ValidationError
from mamori.guideline.assessment import (
    Assessment,
    EvidenceRef,
    assessment_from_dict,
    assessment_to_dict,
)
from mamori.guideline.evidence import ValidatedEvidence
from mamori.store.tables import (
    GuidelineAnswer,
    GuidelineAnswerHistory,
    GuidelineAssessment,
    GuidelineCheckResult,
    GuidelineEvidence,
    GuidelineEvidenceBlob,
    Tenant,
)
from mamori.store.types import utcnow

_ANSWER_FIELDS = ("reason", "comment", "owner")


class ConflictError(ValidationError):
    """A concurrent change of the same assessment; the caller should reload and retry."""


class _TenantIds:
    """Slug -> id lookups, cached per repository (per request)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._ids: dict[str, int] = {}
        self._slugs: dict[int, str] = {}

    def id_of(self, slug: str) -> int | None:
        if slug not in self._ids:
            found = self.session.scalar(select(Tenant.id).where(Tenant.slug == slug))
            if found is None:
                return None
            self._ids[slug] = found
            self._slugs[found] = slug
        return self._ids[slug]

    def require(self, slug: str) -> int:
        found = self.id_of(slug)
        if found is None:
            raise ValidationError(f"tenant {slug!r} does not exist")
        return found


def tenant_of_assessment(session: Session, *, assessment_id: str) -> int:
    """The tenant id that owns an assessment (for the router's scope check).

    Raises:
        NotFoundError: no such assessment.
    """
    found = session.scalar(
        select(GuidelineAssessment.tenant_id).where(GuidelineAssessment.id == assessment_id)
    )
    if found is None:
        raise NotFoundError(f"assessment {assessment_id} not found")
    return found


def list_assessment_rows(
    session: Session, *, tenant_ids: Collection[int] | None
) -> list[GuidelineAssessment]:
    """Assessment rows (newest first) of the given tenants (``None``: every tenant)."""
    stmt = select(GuidelineAssessment).order_by(
        GuidelineAssessment.created_at.desc(), GuidelineAssessment.id
    )
    if tenant_ids is not None:
        stmt = stmt.where(GuidelineAssessment.tenant_id.in_(list(tenant_ids)))
    return list(session.scalars(stmt))


def answered_counts(session: Session, *, assessment_ids: Collection[str]) -> dict[str, int]:
    """How many items of each assessment have an answer."""
    if not assessment_ids:
        return {}
    rows = session.execute(
        select(GuidelineAnswer.assessment_id, func.count())
        .where(
            GuidelineAnswer.assessment_id.in_(list(assessment_ids)),
            GuidelineAnswer.status.is_not(None),
        )
        .group_by(GuidelineAnswer.assessment_id)
    ).all()
    return {str(a): int(n) for a, n in rows}


def delete_assessment(session: Session, *, tenant_id: int, assessment_id: str) -> None:
    """Delete an assessment with its answers, history, evidence links and check results.

    Evidence bytes stay while another assessment of the tenant still refers to them.

    Raises:
        NotFoundError: no such assessment in this tenant.
    """
    row = session.get(GuidelineAssessment, assessment_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFoundError(f"assessment {assessment_id} not found")
    hashes = set(
        session.scalars(
            select(GuidelineEvidence.sha256).where(GuidelineEvidence.assessment_id == assessment_id)
        )
    )
    if row.sheet_sha256:
        hashes.add(row.sheet_sha256)
    for table in (
        GuidelineAnswer,
        GuidelineAnswerHistory,
        GuidelineEvidence,
        GuidelineCheckResult,
    ):
        session.execute(delete(table).where(table.assessment_id == assessment_id))
    session.delete(row)
    session.flush()
    for sha in hashes:
        still = session.scalar(
            select(func.count())
            .select_from(GuidelineEvidence)
            .where(GuidelineEvidence.tenant_id == tenant_id, GuidelineEvidence.sha256 == sha)
        ) or session.scalar(
            select(func.count())
            .select_from(GuidelineAssessment)
            .where(
                GuidelineAssessment.tenant_id == tenant_id,
                GuidelineAssessment.sheet_sha256 == sha,
            )
        )
        if not still:
            session.execute(
                delete(GuidelineEvidenceBlob).where(
                    GuidelineEvidenceBlob.tenant_id == tenant_id,
                    GuidelineEvidenceBlob.sha256 == sha,
                )
            )
    session.flush()


def set_sheet(
    session: Session, *, tenant_id: int, assessment_id: str, sha256: str, filename: str
) -> None:
    """Remember the official workbook last imported into an assessment (bytes stored first).

    Raises:
        NotFoundError: no such assessment in this tenant, or the bytes are not stored.
    """
    row = session.get(GuidelineAssessment, assessment_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFoundError(f"assessment {assessment_id} not found")
    if _blob(session, tenant_id, sha256) is None:
        raise NotFoundError("workbook not stored")
    row.sheet_sha256 = sha256
    row.sheet_filename = filename[:255]
    session.flush()


def _blob(session: Session, tenant_id: int, sha256: str) -> GuidelineEvidenceBlob | None:
    return session.scalar(
        select(GuidelineEvidenceBlob).where(
            GuidelineEvidenceBlob.tenant_id == tenant_id, GuidelineEvidenceBlob.sha256 == sha256
        )
    )


def put_blob(session: Session, *, tenant_id: int, data: bytes, media_type: str) -> str:
    """Store bytes for a tenant (idempotent by content hash); returns the SHA-256."""
    sha = hashlib.sha256(data).hexdigest()
    if _blob(session, tenant_id, sha) is None:
        try:
            with session.begin_nested():
                session.add(
                    GuidelineEvidenceBlob(
                        tenant_id=tenant_id,
                        sha256=sha,
                        size=len(data),
                        media_type=media_type,
                        data=data,
                    )
                )
        except IntegrityError:
            # the same bytes were stored by a concurrent request: content-addressed, so fine
            if _blob(session, tenant_id, sha) is None:
                raise
    return sha


def get_blob(session: Session, *, tenant_id: int, sha256: str) -> bytes:
    """The tenant's stored bytes, verified against their hash.

    Raises:
        NotFoundError: unknown hash or another tenant's.
        ValidationError: the stored bytes no longer match their hash.
    """
    row = _blob(session, tenant_id, sha256)
    if row is None:
        raise NotFoundError("evidence not found")
    data = bytes(row.data)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValidationError(f"stored evidence {sha256[:12]} is corrupted (hash mismatch)")
    return data


class SqlEvidenceBlobs:
    """:class:`~mamori.guideline.service.EvidenceBlobs` in the database, per tenant."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._tenants = _TenantIds(session)

    def put(self, tenant: str, evidence: ValidatedEvidence) -> EvidenceRef:
        tenant_id = self._tenants.require(tenant)
        put_blob(
            self.session,
            tenant_id=tenant_id,
            data=evidence.data,
            media_type=evidence.ref.media_type,
        )
        return evidence.ref

    def open(self, tenant: str, sha256: str) -> bytes:
        tenant_id = self._tenants.id_of(tenant)
        if tenant_id is None:
            raise NotFoundError("evidence not found")
        return get_blob(self.session, tenant_id=tenant_id, sha256=sha256)


class SqlAssessmentRepository:
    """:class:`~mamori.guideline.service.AssessmentRepository` on SQL tables.

    ``save`` writes the assessment row, answers (inserted, updated or removed), evidence
    links and check results; history rows are append-only, so only the entries not stored
    yet are inserted. For an assessment read through this repository, only the answers that
    changed since are written, and a save is refused (``ConflictError``) when someone else
    stored a change in between, so no history entry is lost or duplicated.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._tenants = _TenantIds(session)
        self._snapshots: dict[str, dict[str, Any]] = {}

    # -- reading

    def get(self, tenant: str, assessment_id: str) -> Assessment:
        tenant_id = self._tenants.id_of(tenant)
        row = self.session.get(GuidelineAssessment, assessment_id)
        if row is None or tenant_id is None or row.tenant_id != tenant_id:
            raise NotFoundError(f"assessment {assessment_id} not found")
        return self._load(row, tenant)

    def list(self, tenant: str) -> list[Assessment]:
        tenant_id = self._tenants.id_of(tenant)
        if tenant_id is None:
            return []
        return [
            self._load(r, tenant)
            for r in list_assessment_rows(self.session, tenant_ids=[tenant_id])
        ]

    def _load(self, row: GuidelineAssessment, tenant: str) -> Assessment:
        s = self.session
        evidence: dict[str, list[dict[str, Any]]] = {}
        for e in s.scalars(
            select(GuidelineEvidence)
            .where(GuidelineEvidence.assessment_id == row.id)
            .order_by(GuidelineEvidence.item_id, GuidelineEvidence.position, GuidelineEvidence.id)
        ):
            evidence.setdefault(e.item_id, []).append(
                {
                    "sha256": e.sha256,
                    "size": e.size,
                    "media_type": e.media_type,
                    "filename": e.filename,
                    "added_at": e.added_at.isoformat(),
                    "added_by": e.added_by,
                }
            )
        answers: dict[str, dict[str, Any]] = {}
        for a in s.scalars(select(GuidelineAnswer).where(GuidelineAnswer.assessment_id == row.id)):
            d: dict[str, Any] = {"status": a.status}
            for key in _ANSWER_FIELDS:
                d[key] = getattr(a, key)
            d["due"] = a.due.isoformat() if a.due else None
            d["effort_days"] = a.effort_days
            d["answered_by"] = a.answered_by
            d["answered_at"] = a.answered_at.isoformat() if a.answered_at else None
            d["evidence"] = evidence.pop(a.item_id, [])
            answers[a.item_id] = d
        history = [
            {
                "item": h.item_id,
                "at": h.at.isoformat(),
                "actor": h.actor,
                "source": h.source,
                "before": h.before,
                "after": h.after,
            }
            for h in s.scalars(
                select(GuidelineAnswerHistory)
                .where(GuidelineAnswerHistory.assessment_id == row.id)
                .order_by(GuidelineAnswerHistory.seq)
            )
        ]
        checks = {
            c.item_id: {
                "check": c.check,
                "passed": c.passed,
                "at": c.at.isoformat(),
                "summary_ja": c.summary_ja,
                "summary_en": c.summary_en,
                "evidence": c.evidence,
            }
            for c in s.scalars(
                select(GuidelineCheckResult).where(GuidelineCheckResult.assessment_id == row.id)
            )
        }
        doc = {
            "kind": "mamori-guideline-assessment",
            "id": row.id,
            "tenant": tenant,
            "framework": {"id": row.framework_id, "version": row.framework_version},
            "title": row.title,
            "target_level": row.target_level,
            "created_at": row.created_at.isoformat(),
            "answers": answers,
            "history": history,
            "checks": checks,
            "proposals": row.proposals or [],
            "catalogue": row.catalogue,
        }
        loaded = assessment_from_dict(doc, path=f"assessment {row.id}")
        self._snapshots[row.id] = _snapshot(loaded)
        return loaded

    # -- writing

    def save(self, assessment: Assessment) -> None:
        s = self.session
        tenant_id = self._tenants.require(assessment.tenant)
        doc = assessment_to_dict(assessment)
        row = s.get(GuidelineAssessment, assessment.id)
        if row is None:
            row = GuidelineAssessment(
                id=assessment.id, tenant_id=tenant_id, created_at=assessment.created_at
            )
            s.add(row)
        elif row.tenant_id != tenant_id:
            raise NotFoundError(f"assessment {assessment.id} not found")
        row.framework_id = assessment.framework_id
        row.framework_version = assessment.framework_version
        row.title = assessment.title[:200]
        row.target_level = assessment.target_level
        row.catalogue = doc["catalogue"]
        row.proposals = doc["proposals"]
        row.updated_at = utcnow()
        before = self._snapshots.get(assessment.id)
        now = _snapshot(assessment, doc)
        try:
            s.flush()
            if before is None:
                self._save_answers(row, tenant_id, assessment, None)
                self._save_history(row, tenant_id, doc["history"], None)
                self._save_checks(row, tenant_id, assessment)
            else:
                changed = {
                    k
                    for k in {*before["answers"], *now["answers"]}
                    if before["answers"].get(k) != now["answers"].get(k)
                }
                if changed:
                    self._save_answers(row, tenant_id, assessment, changed)
                self._save_history(row, tenant_id, doc["history"], before["history"])
                if before["checks"] != now["checks"]:
                    self._save_checks(row, tenant_id, assessment)
            s.flush()
        except IntegrityError as exc:
            raise ConflictError(
                f"assessment {assessment.id} was changed by someone else at the same time; "
                "reload and try again"
            ) from exc
        self._snapshots[assessment.id] = now

    def _save_answers(
        self,
        row: GuidelineAssessment,
        tenant_id: int,
        a: Assessment,
        only: set[str] | None,
    ) -> None:
        """Write the answers (only the items in ``only``, when given) and their evidence."""
        s = self.session
        answers_q = select(GuidelineAnswer).where(GuidelineAnswer.assessment_id == row.id)
        links_q = select(GuidelineEvidence).where(GuidelineEvidence.assessment_id == row.id)
        if only is not None:
            answers_q = answers_q.where(GuidelineAnswer.item_id.in_(sorted(only)))
            links_q = links_q.where(GuidelineEvidence.item_id.in_(sorted(only)))
        stored = {r.item_id: r for r in s.scalars(answers_q)}
        current = {k: v for k, v in a.answers.items() if only is None or k in only}
        for item_id, answer in current.items():
            r = stored.pop(item_id, None)
            if r is None:
                r = GuidelineAnswer(assessment_id=row.id, tenant_id=tenant_id, item_id=item_id)
                s.add(r)
            r.status = answer.status.value if answer.status else None
            r.reason = answer.reason
            r.comment = answer.comment
            r.owner = answer.owner[:200]
            r.due = answer.due
            r.effort_days = answer.effort_days
            r.answered_by = answer.answered_by
            r.answered_at = answer.answered_at
        for r in stored.values():
            s.delete(r)
        links = {(e.item_id, e.sha256): e for e in s.scalars(links_q)}
        for item_id, answer in current.items():
            for position, ref in enumerate(answer.evidence):
                e = links.pop((item_id, ref.sha256), None)
                if e is None:
                    e = GuidelineEvidence(
                        assessment_id=row.id,
                        tenant_id=tenant_id,
                        item_id=item_id,
                        sha256=ref.sha256,
                    )
                    s.add(e)
                e.position = position
                e.size = ref.size
                e.media_type = ref.media_type
                e.filename = ref.filename[:255]
                e.added_at = ref.added_at
                e.added_by = ref.added_by
        for e in links.values():
            s.delete(e)

    def _save_history(
        self,
        row: GuidelineAssessment,
        tenant_id: int,
        history: builtins.list[dict[str, Any]],
        read_count: int | None,
    ) -> None:
        s = self.session
        count = int(
            s.scalar(
                select(func.count())
                .select_from(GuidelineAnswerHistory)
                .where(GuidelineAnswerHistory.assessment_id == row.id)
            )
            or 0
        )
        if read_count is not None and count != read_count:
            raise ConflictError(
                f"assessment {row.id} was changed by someone else since it was read "
                f"({count - read_count} new history entries); reload and try again"
            )
        if len(history) < count:
            raise ValidationError(
                f"assessment {row.id}: the history may only grow ({count} stored, "
                f"{len(history)} given)"
            )
        for seq, h in enumerate(history[count:], start=count):
            s.add(
                GuidelineAnswerHistory(
                    assessment_id=row.id,
                    tenant_id=tenant_id,
                    seq=seq,
                    item_id=h["item"],
                    at=_parse_dt(h["at"]),
                    actor=h["actor"],
                    source=str(h["source"])[:300],
                    before=h["before"],
                    after=h["after"],
                )
            )

    def _save_checks(self, row: GuidelineAssessment, tenant_id: int, a: Assessment) -> None:
        s = self.session
        stored = {
            c.item_id: c
            for c in s.scalars(
                select(GuidelineCheckResult).where(GuidelineCheckResult.assessment_id == row.id)
            )
        }
        for item_id, rec in a.checks.items():
            c = stored.pop(item_id, None)
            if c is None:
                c = GuidelineCheckResult(assessment_id=row.id, tenant_id=tenant_id, item_id=item_id)
                s.add(c)
            c.check = rec.check[:100]
            c.passed = rec.passed
            c.at = rec.at
            c.summary_ja = rec.summary_ja
            c.summary_en = rec.summary_en
            c.evidence = dict(rec.evidence)
        for c in stored.values():
            s.delete(c)


def _snapshot(a: Assessment, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``save`` compares to find the changes: answers, history length, checks."""
    doc = doc if doc is not None else assessment_to_dict(a)
    return {"answers": doc["answers"], "history": len(doc["history"]), "checks": doc["checks"]}


def _parse_dt(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


__all__ = [
    "ConflictError",
    "SqlAssessmentRepository",
    "SqlEvidenceBlobs",
    "answered_counts",
    "delete_assessment",
    "get_blob",
    "list_assessment_rows",
    "put_blob",
    "set_sheet",
    "tenant_of_assessment",
]
