from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ApiKeyCreate(BaseModel):
    tenant_id: int
    purpose: str = Field(examples=["ingest", "agent", "api"])
    name: str = Field(default="", max_length=200)


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    tenant_id: int
    name: str
    purpose: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    """Returned once, at creation: ``token`` is not stored and cannot be shown again."""

    token: str


__all__ = ["ApiKeyCreate", "ApiKeyCreated", "ApiKeyPublic"]
