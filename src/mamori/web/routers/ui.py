"""The dashboard shell and the tenant switcher."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from mamori.errors import PermissionDeniedError
from mamori.store.repos import audit, tenants
from mamori.store.tables import Role
from mamori.web.dashboard import panels_for
from mamori.web.deps import SessionDep, TenantScopeDep, safe_next
from mamori.web.sessions import load_session, store_session
from mamori.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def dashboard(request: Request, session: SessionDep, scope: TenantScopeDep) -> Response:
    principal = scope.principal
    current = tenants.get_tenant(session, tenant_id=scope.current) if scope.current else None
    recent = []
    if principal.role in (Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN):
        recent = audit.list_entries(session, tenant_ids=scope.ui_ids(), limit=10)
    return render(
        request,
        "dashboard.html",
        {"current_tenant": current, "panels": panels_for(session, scope), "recent": recent},
        principal=principal,
        scope=scope,
        session=session,
        active="dashboard",
    )


@router.post("/tenant")
def switch_tenant(
    request: Request,
    scope: TenantScopeDep,
    tenant_id: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Pick the tenant the UI shows (staff only); an empty value means all tenants."""
    if not scope.principal.role.is_staff or scope.principal.is_api_key:
        raise PermissionDeniedError("only operators and administrators switch tenants")
    web = load_session(request)
    if tenant_id.strip():
        try:
            wanted = int(tenant_id)
        except ValueError:
            wanted = -1
        scope.check(wanted, "tenant")
        web.tenant = wanted
    else:
        web.tenant = None
    response = RedirectResponse(safe_next(next), status_code=303)
    store_session(request, response, web)
    return response
