"""Schemas of log collection: bulk intake counts, stored events, quarantined records."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mamori.store.tables import QuarantinedRecord


class RejectedRecord(BaseModel):
    index: int = Field(description="Position of the record in the body (0-based)")
    reason: str


class IngestResultPublic(BaseModel):
    """What ``POST /api/v1/ingest/{source}`` answers once the records are durably queued."""

    accepted: int
    rejected: int
    source: str
    tenant: str
    rejections: list[RejectedRecord] = Field(
        default_factory=list, description="The first rejected records and why"
    )


class EventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    tenant_id: int
    event_id: str
    ts: datetime
    host: str | None
    source: str
    data_type: str
    fields: dict[str, Any]
    raw: str
    received_at: datetime


class EventList(BaseModel):
    items: list[EventPublic]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last")


class QuarantinedPublic(BaseModel):
    id: int
    tenant_id: int | None
    source: str
    reason: str
    location: str
    received_at: datetime
    size: int
    raw: str = Field(description="The raw bytes as text, undecodable bytes as \\xNN")
    raw_b64: str

    @classmethod
    def of(cls, row: QuarantinedRecord) -> QuarantinedPublic:
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            source=row.source,
            reason=row.reason,
            location=row.location,
            received_at=row.received_at,
            size=len(row.raw),
            raw=row.raw.decode("utf-8", "backslashreplace"),
            raw_b64=base64.b64encode(row.raw).decode("ascii"),
        )


class QuarantineList(BaseModel):
    items: list[QuarantinedPublic]
    limit: int
    offset: int
    next_offset: int | None


class QuarantineCount(BaseModel):
    total: int
    by_source: dict[str, int]


__all__ = [
    "EventList",
    "EventPublic",
    "IngestResultPublic",
    "QuarantineCount",
    "QuarantineList",
    "QuarantinedPublic",
    "RejectedRecord",
]
