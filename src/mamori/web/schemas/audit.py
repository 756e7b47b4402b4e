from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    ts: datetime
    actor: str
    tenant_id: int | None
    action: str
    target: str
    detail: dict[str, Any]
    source_ip: str
    hash: str


__all__ = ["AuditEntryPublic"]
