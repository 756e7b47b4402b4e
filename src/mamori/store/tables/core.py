"""Foundation tables: tenants, users (and operator assignments), API keys, the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mamori.store.tables.base import Base
from mamori.store.types import UTCDateTime, utcnow


class Role(StrEnum):
    """Who a user is.

    ``admin`` sees every tenant; ``operator`` (MSSP staff) sees the tenants assigned to them;
    ``customer_admin`` and ``customer_viewer`` belong to exactly one tenant.
    """

    OPERATOR = "operator"
    ADMIN = "admin"
    CUSTOMER_ADMIN = "customer_admin"
    CUSTOMER_VIEWER = "customer_viewer"

    @property
    def is_customer(self) -> bool:
        return self in (Role.CUSTOMER_ADMIN, Role.CUSTOMER_VIEWER)

    @property
    def is_staff(self) -> bool:
        return not self.is_customer


ROLE_VALUES = tuple(r.value for r in Role)

#: Days a new tenant's logs are kept unless it says otherwise (issue 5: 180 days). A Python
#: side default: existing tenants keep the value they were created with.
DEFAULT_RETENTION_DAYS = 180


class Tenant(Base):
    """A customer organisation whose data is kept apart from every other tenant's."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    retention_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_RETENTION_DAYS)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (CheckConstraint("retention_days > 0", name="retention_positive"),)

    def __repr__(self) -> str:
        return f"Tenant(id={self.id!r}, slug={self.slug!r})"


operator_tenants = Table(
    "operator_tenants",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    """A person who logs in. Customer roles carry their tenant; staff roles carry none."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="RESTRICT"), index=True
    )
    language: Mapped[str] = mapped_column(String(8), default="ja")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    tenant: Mapped[Tenant | None] = relationship(lazy="joined")
    assigned_tenants: Mapped[list[Tenant]] = relationship(
        secondary=operator_tenants, lazy="selectin", order_by=Tenant.slug
    )

    __table_args__ = (
        CheckConstraint(
            "role IN ('operator', 'admin', 'customer_admin', 'customer_viewer')", name="role_known"
        ),
        CheckConstraint(
            "(role IN ('customer_admin', 'customer_viewer') AND tenant_id IS NOT NULL)"
            " OR (role IN ('operator', 'admin') AND tenant_id IS NULL)",
            name="role_tenant",
        ),
    )

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, username={self.username!r}, role={self.role!r})"


class ApiKey(Base):
    """A machine credential for one tenant and one purpose (``ingest``, ``agent``, ``api``).

    Only a short ``prefix`` (for lookup) and a SHA-256 hash of the whole token are stored;
    the secret itself is shown once when the key is created and never again.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    purpose: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    tenant: Mapped[Tenant] = relationship(lazy="joined")

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class AuditHead(Base):
    """A single row holding the chain's tip; updating it first serialises appenders."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default="")


class AuditLog(Base):
    """Who did what, when, from where. Append-only; each row hashes the previous row's hash."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(200), default="")
    tenant_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_ip: Mapped[str] = mapped_column(String(64), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


@event.listens_for(AuditLog, "before_update")
@event.listens_for(AuditLog, "before_delete")
def _audit_is_append_only(mapper: Any, connection: Any, target: AuditLog) -> None:  # noqa: ARG001
    raise PermissionError("the audit log is append-only")


__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "ROLE_VALUES",
    "ApiKey",
    "AuditHead",
    "AuditLog",
    "Role",
    "Tenant",
    "User",
    "operator_tenants",
]
