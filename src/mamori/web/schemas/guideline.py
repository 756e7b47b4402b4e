"""Request and response shapes of the guideline API (``/api/v1/guideline``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class AssessmentCreate(BaseModel):
    tenant_id: int | None = Field(
        default=None, description="Tenant; defaults to the caller's own (or selected) tenant"
    )
    framework: str = Field(default="jama-japia", max_length=100, examples=["jama-japia"])
    title: str = Field(default="", max_length=200)
    target_level: int | None = Field(default=None, ge=1, le=9)


class AssessmentUpdate(BaseModel):
    title: str | None = Field(default=None, max_length=200)
    target_level: int | None = Field(default=None, ge=1, le=9)


class AnswerUpdate(BaseModel):
    """Only the fields given change; ``status: null`` clears the answer."""

    status: str | None = Field(
        default=None, examples=["対策完了", "一部対策", "未対策", "対象外", "done"]
    )
    reason: str | None = Field(default=None, max_length=2000, description="Required for 対象外")
    comment: str | None = Field(default=None, max_length=4000)
    owner: str | None = Field(default=None, max_length=200)
    due: date | None = None
    effort_days: float | None = Field(default=None, ge=0)


class TargetLevelAnswers(BaseModel):
    """Yes/no answers to the target-level questions (ids from ``GET .../target-level``)."""

    answers: dict[str, bool | str] = Field(default_factory=dict)


class ProposalCreate(BaseModel):
    """Propose answers for this assessment from the answers of ``source`` (the other framework:
    JAMA/JAPIA for a METI SCS assessment and the other way round). Defaults to the tenant's
    newest assessment of the other framework."""

    source: str | None = Field(default=None, max_length=64)


class ProposalDecision(BaseModel):
    """Accept (apply as the answer, with history) or reject one open proposal."""

    proposal_id: str | None = Field(default=None, max_length=64)
    accept: bool | None = None


class EvidencePublic(BaseModel):
    sha256: str
    size: int
    media_type: str
    filename: str
    added_at: datetime
    added_by: str | None = None


class AnswerPublic(BaseModel):
    item_id: str
    status: str | None
    reason: str = ""
    comment: str = ""
    owner: str = ""
    due: date | None = None
    effort_days: float | None = None
    evidence: list[EvidencePublic] = Field(default_factory=list)
    answered_by: str | None = None
    answered_at: datetime | None = None


class AssessmentPublic(BaseModel):
    id: str
    tenant_id: int
    framework_id: str
    framework_version: str
    title: str
    target_level: int | None
    created_at: datetime
    items: int
    answered: int
    catalogue: dict[str, int]


class AssessmentDetail(AssessmentPublic):
    answers: dict[str, AnswerPublic]
    checks: dict[str, dict[str, Any]]


class ImportResult(BaseModel):
    changed: int
    unchanged: int
    kept: int
    verified_items: int
    sheet: str


__all__ = [
    "AnswerPublic",
    "AnswerUpdate",
    "AssessmentCreate",
    "AssessmentDetail",
    "AssessmentPublic",
    "AssessmentUpdate",
    "EvidencePublic",
    "ImportResult",
    "ProposalCreate",
    "ProposalDecision",
    "TargetLevelAnswers",
]
