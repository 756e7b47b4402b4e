from __future__ import annotations

from pydantic import BaseModel, Field

from mamori.store.tables import Role
from mamori.web.schemas.users import UserPublic


class MePublic(BaseModel):
    role: Role
    tenant_ids: list[int] | None = Field(description="null: every tenant (administrator)")
    user: UserPublic | None = None
    api_key_prefix: str | None = None
    api_key_purpose: str | None = None


class MeUpdate(BaseModel):
    display_name: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, pattern="^(ja|en)$")


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


__all__ = ["MePublic", "MeUpdate", "PasswordChange"]
