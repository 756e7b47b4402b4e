"""Quarantined content as the API shows it (metadata only; content via the UI download)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class QuarantineItemPublic(BaseModel):
    id: str
    created: datetime
    status: str
    kind: str
    name: str
    tenant: str | None
    tenant_id: int | None
    size: int
    sha256: str
    outcome: str
    reasons: list[dict[str, Any]]
    mail_from: str | None = None
    rcpt_tos: list[str] = Field(default_factory=list)
    url: str | None = None
    history: list[dict[str, Any]] = Field(default_factory=list)


class QuarantineAction(BaseModel):
    note: str = Field(default="", max_length=500)


class QuarantineStats(BaseModel):
    counts: dict[str, int]


__all__ = ["QuarantineAction", "QuarantineItemPublic", "QuarantineStats"]
