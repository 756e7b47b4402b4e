from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from mamori.store.tables import Role, User


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)
    role: Role
    tenant_id: int | None = None
    display_name: str = Field(default="", max_length=200)
    language: str = Field(default="ja", pattern="^(ja|en)$")
    assigned_tenant_ids: list[int] = Field(default_factory=list)


class UserUpdate(BaseModel):
    display_name: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, pattern="^(ja|en)$")
    role: Role | None = None
    tenant_id: int | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    assigned_tenant_ids: list[int] | None = None


class UserPublic(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    tenant_id: int | None
    language: str
    active: bool
    locked_until: datetime | None
    assigned_tenant_ids: list[int]
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role_enum,
            tenant_id=user.tenant_id,
            language=user.language,
            active=user.active,
            locked_until=user.locked_until,
            assigned_tenant_ids=[t.id for t in user.assigned_tenants],
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


__all__ = ["UserCreate", "UserPublic", "UserUpdate"]
