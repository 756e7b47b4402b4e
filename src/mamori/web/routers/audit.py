"""The audit log within the caller's scope: ``/api/v1/audit`` and the ``/audit`` page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mamori.errors import PermissionDeniedError
from mamori.store.repos import audit
from mamori.store.tables import AuditLog, Role
from mamori.web.deps import CurrentUserPrincipal, Principal, SessionDep, TenantScopeDep
from mamori.web.schemas.audit import AuditEntryPublic
from mamori.web.templating import render

router = APIRouter(tags=["audit"])

READERS = (Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN)


def _require_reader(principal: Principal) -> None:
    if principal.role not in READERS:
        raise PermissionDeniedError("your role may not read the audit log")


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
    _require_reader(principal)
    return audit.list_entries(
        session,
        tenant_ids=scope.ids_for(tenant_id),
        action_prefix=action,
        before_seq=before_seq,
        limit=limit,
    )


@router.get("/audit", include_in_schema=False)
def audit_page(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
    before_seq: int | None = None,
) -> Response:
    """The newest entries; administrators also see whether the hash chain is intact."""
    _require_reader(principal)
    entries = audit.list_entries(
        session, tenant_ids=scope.ui_ids(), before_seq=before_seq, limit=100
    )
    chain = audit.verify(session) if principal.role is Role.ADMIN else None
    return render(
        request,
        "audit.html",
        {"entries": entries, "chain": chain},
        principal=principal,
        scope=scope,
        session=session,
        active="audit",
    )
