"""The dashboard shell and the tenant switcher."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from mamori.errors import PermissionDeniedError
from mamori.store.repos import audit, tenants, users
from mamori.store.tables import Role
from mamori.web.deps import SessionDep, TenantScopeDep, safe_next
from mamori.web.sessions import load_session, store_session
from mamori.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def dashboard(request: Request, session: SessionDep, scope: TenantScopeDep) -> Response:
    ids = scope.ui_ids()
    principal = scope.principal
    visible_tenants = tenants.list_tenants(session, tenant_ids=ids)
    current = tenants.get_tenant(session, tenant_id=scope.current) if scope.current else None
    user_count = len(users.list_users(session, tenant_ids=ids)) if ids is not None else None
    if user_count is None:
        user_count = users.count_users(session)
    recent = []
    if principal.role in (Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN):
        recent = audit.list_entries(session, tenant_ids=ids, limit=10)
    return render(
        request,
        "dashboard.html",
        {
            "current_tenant": current,
            "tenant_count": len(visible_tenants),
            "user_count": user_count,
            "recent": recent,
        },
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
