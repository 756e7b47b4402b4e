"""Guideline tables: assessments per tenant and framework version, answers with history,
evidence metadata and bytes, automatic check results.

The domain objects live in :mod:`mamori.guideline.assessment`; these rows are their storage
(see :mod:`mamori.store.repos.guideline`). Every row carries ``tenant_id`` so tenant
isolation can be checked (and tested) on each table alone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mamori.store.tables.base import Base
from mamori.store.types import UTCDateTime, utcnow

STATUS_VALUES = ("対策完了", "一部対策", "未対策", "対象外")
_STATUS_CHECK = "status IS NULL OR status IN (" + ", ".join(f"'{s}'" for s in STATUS_VALUES) + ")"


class GuidelineAssessment(Base):
    """One tenant's self-assessment against one framework version."""

    __tablename__ = "guideline_assessments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    framework_id: Mapped[str] = mapped_column(String(64))
    framework_version: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200), default="")
    target_level: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # an imported (official) catalogue, as framework_to_dict() gives it
    catalogue: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    proposals: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # the official workbook last imported (bytes in guideline_evidence_blobs), for export
    sheet_sha256: Mapped[str | None] = mapped_column(String(64))
    sheet_filename: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        Index("ix_guideline_assessments_tenant_framework", "tenant_id", "framework_id"),
        CheckConstraint("target_level IS NULL OR target_level > 0", name="target_positive"),
    )


class GuidelineAnswer(Base):
    """The current answer of one item."""

    __tablename__ = "guideline_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[str] = mapped_column(
        ForeignKey("guideline_assessments.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(200), default="")
    due: Mapped[date | None] = mapped_column(Date)
    effort_days: Mapped[float | None] = mapped_column(Float)
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("assessment_id", "item_id", name="uq_guideline_answers_item"),
        CheckConstraint(_STATUS_CHECK, name="status_known"),
        CheckConstraint("effort_days IS NULL OR effort_days >= 0", name="effort_positive"),
    )


class GuidelineAnswerHistory(Base):
    """One change of an answer (append-only, in order)."""

    __tablename__ = "guideline_answer_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[str] = mapped_column(
        ForeignKey("guideline_assessments.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(300))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("assessment_id", "seq", name="uq_guideline_answer_history_seq"),
    )


class GuidelineEvidence(Base):
    """Evidence attached to an item: metadata; the bytes are in :class:`GuidelineEvidenceBlob`."""

    __tablename__ = "guideline_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[str] = mapped_column(
        ForeignKey("guideline_assessments.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint("assessment_id", "item_id", "sha256", name="uq_guideline_evidence_ref"),
        CheckConstraint("size > 0", name="size_positive"),
    )


class GuidelineEvidenceBlob(Base):
    """Evidence bytes, content-addressed per tenant (the same file is stored once)."""

    __tablename__ = "guideline_evidence_blobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(200))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "sha256", name="uq_guideline_evidence_blobs_sha"),
    )


class GuidelineCheckResult(Base):
    """The latest automatic result for an item, kept apart from the declared answer."""

    __tablename__ = "guideline_check_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[str] = mapped_column(
        ForeignKey("guideline_assessments.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(32))
    check: Mapped[str] = mapped_column(String(100))
    passed: Mapped[bool | None] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    summary_ja: Mapped[str] = mapped_column(Text, default="")
    summary_en: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        UniqueConstraint("assessment_id", "item_id", name="uq_guideline_check_results_item"),
    )


__all__ = [
    "STATUS_VALUES",
    "GuidelineAnswer",
    "GuidelineAnswerHistory",
    "GuidelineAssessment",
    "GuidelineCheckResult",
    "GuidelineEvidence",
    "GuidelineEvidenceBlob",
]
