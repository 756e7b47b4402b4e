"""``/api/v1/audit``: read the audit log within the caller's scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mamori.errors import PermissionDeniedError
from mamori.store.repos import audit
from mamori.store.tables import AuditLog, Role
from mamori.web.deps import CurrentUserPrincipal, SessionDep, TenantScopeDep
from mamori.web.schemas.audit import AuditEntryPublic

router = APIRouter(tags=["audit"])


@router.get("/api/v1/audit", response_model=list[AuditEntryPublic])
def list_audit(
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
    tenant_id: int | None = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    before_seq: int | None = None,
    limit: Annotated[int, Query(gt=0, le=1000)] = 100,
) -> list[AuditLog]:
    """Newest first. Administrators see everything; others their tenants' entries."""
    if principal.role not in (Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN):
        raise PermissionDeniedError("your role may not read the audit log")
    return audit.list_entries(
        session,
        tenant_ids=scope.ids_for(tenant_id),
        action_prefix=action,
        before_seq=before_seq,
        limit=limit,
    )
