from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mamori.store.tables.core import DEFAULT_RETENTION_DAYS


class TenantCreate(BaseModel):
    slug: str = Field(min_length=1, max_length=63, examples=["acme-parts"])
    name: str = Field(min_length=1, max_length=200, examples=["株式会社アクメ部品"])
    retention_days: int = Field(default=DEFAULT_RETENTION_DAYS, gt=0, le=36500)


class TenantUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    retention_days: int | None = Field(default=None, gt=0, le=36500)
    active: bool | None = None


class TenantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    name: str
    retention_days: int
    active: bool
    created_at: datetime


__all__ = ["TenantCreate", "TenantPublic", "TenantUpdate"]
