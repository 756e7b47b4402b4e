"""The dashboard's cards, as data: each area appends a :class:`DashboardPanel`.

A panel has a title (catalogue key), the roles that see it and a loader that returns the
figure for the tenants the viewer is looking at (``scope.ui_ids()``; ``None`` means every
tenant). Loaders must respect that scope; they run on every dashboard view, so keep them
to a count or two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from mamori.store.tables import ApiKey, Role, Tenant, User
from mamori.web.deps import TenantScope

ALL_ROLES = frozenset(Role)


@dataclass(frozen=True, slots=True)
class PanelValue:
    value: str | int
    href: str | None = None


@dataclass(frozen=True, slots=True)
class DashboardPanel:
    key: str
    title: str  # i18n catalogue key
    load: Callable[[Session, TenantScope], PanelValue]
    roles: frozenset[Role] = ALL_ROLES
    order: int = 100


def _count(
    session: Session,
    tenant_column: InstrumentedAttribute[Any],
    scope: TenantScope,
    *conditions: ColumnElement[bool],
) -> int:
    """Rows whose ``tenant_column`` is in the viewer's tenants."""
    stmt = select(func.count()).select_from(tenant_column.class_).where(*conditions)
    ids = scope.ui_ids()
    if ids is not None:
        stmt = stmt.where(tenant_column.in_(list(ids)))
    return int(session.scalar(stmt) or 0)


PANELS: list[DashboardPanel] = [
    DashboardPanel(
        "tenants",
        "dashboard.tenants",
        lambda s, scope: PanelValue(_count(s, Tenant.id, scope), "/tenants"),
        frozenset({Role.ADMIN, Role.OPERATOR}),
        order=10,
    ),
    DashboardPanel(
        "users",
        "dashboard.users",
        lambda s, scope: PanelValue(_count(s, User.tenant_id, scope)),
        frozenset({Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN}),
        order=20,
    ),
    DashboardPanel(
        "api_keys",
        "dashboard.api_keys",
        lambda s, scope: PanelValue(
            _count(s, ApiKey.tenant_id, scope, ApiKey.revoked_at.is_(None)), "/api-keys"
        ),
        frozenset({Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN}),
        order=30,
    ),
]


def panels_for(session: Session, scope: TenantScope) -> list[tuple[DashboardPanel, PanelValue]]:
    """The panels this viewer may see, in order, with their values."""
    chosen = sorted(
        (p for p in PANELS if scope.principal.role in p.roles), key=lambda p: (p.order, p.key)
    )
    return [(panel, panel.load(session, scope)) for panel in chosen]


__all__ = ["PANELS", "DashboardPanel", "PanelValue", "panels_for"]
