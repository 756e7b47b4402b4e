"""Tenants: create, read, list (optionally limited to the caller's tenants), update."""

from __future__ import annotations

import re
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from mamori.errors import DuplicateError, NotFoundError, ValidationError
from mamori.store.tables import Tenant
from mamori.store.tables.core import DEFAULT_RETENTION_DAYS

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def check_slug(slug: str) -> str:
    """Raises:
    ValidationError: not lowercase letters, digits and inner hyphens (1-63 characters).
    """
    if not SLUG_RE.fullmatch(slug):
        raise ValidationError(
            f"tenant slug {slug!r} must be 1-63 lowercase letters, digits or inner hyphens"
        )
    return slug


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationError("tenant name must have 1-200 characters")
    return name


def _check_retention(days: int) -> int:
    if days <= 0 or days > 36500:
        raise ValidationError("retention_days must be between 1 and 36500")
    return days


def create_tenant(
    session: Session, *, slug: str, name: str, retention_days: int = DEFAULT_RETENTION_DAYS
) -> Tenant:
    """Raises:
    ValidationError: bad slug, name or retention.
    DuplicateError: the slug is taken.
    """
    check_slug(slug)
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise DuplicateError(f"tenant {slug!r} already exists")
    tenant = Tenant(
        slug=slug, name=_check_name(name), retention_days=_check_retention(retention_days)
    )
    tenant.active = True
    session.add(tenant)
    session.flush()
    return tenant


def get_tenant(session: Session, *, tenant_id: int) -> Tenant:
    """Raises:
    NotFoundError: no such tenant.
    """
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFoundError(f"tenant {tenant_id} not found")
    return tenant


def get_tenant_by_slug(session: Session, *, slug: str) -> Tenant:
    """Raises:
    NotFoundError: no such tenant.
    """
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFoundError(f"tenant {slug!r} not found")
    return tenant


def list_tenants(
    session: Session, *, tenant_ids: Collection[int] | None = None, active_only: bool = False
) -> list[Tenant]:
    """All tenants by slug, or only those in ``tenant_ids`` (``None`` means no limit)."""
    stmt = select(Tenant).order_by(Tenant.slug)
    if tenant_ids is not None:
        stmt = stmt.where(Tenant.id.in_(list(tenant_ids)))
    if active_only:
        stmt = stmt.where(Tenant.active.is_(True))
    return list(session.scalars(stmt))


def update_tenant(
    session: Session,
    *,
    tenant: Tenant,
    name: str | None = None,
    retention_days: int | None = None,
    active: bool | None = None,
) -> Tenant:
    """Change the given fields; ``None`` leaves a field alone.

    Raises:
        ValidationError: a bad name or retention.
    """
    if name is not None:
        tenant.name = _check_name(name)
    if retention_days is not None:
        tenant.retention_days = _check_retention(retention_days)
    if active is not None:
        tenant.active = active
    session.flush()
    return tenant


__all__ = [
    "SLUG_RE",
    "check_slug",
    "create_tenant",
    "get_tenant",
    "get_tenant_by_slug",
    "list_tenants",
    "update_tenant",
]
