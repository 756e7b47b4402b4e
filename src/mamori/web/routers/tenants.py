"""Tenants: ``/api/v1/tenants`` and the ``/tenants`` page.

Everyone sees the tenants in their scope; only administrators create and change them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from mamori.errors import MamoriError, PermissionDeniedError
from mamori.store.repos import tenants
from mamori.store.tables import Role, Tenant
from mamori.store.tables.core import DEFAULT_RETENTION_DAYS
from mamori.web.deps import (
    CurrentUserPrincipal,
    SessionDep,
    TenantScope,
    TenantScopeDep,
    audit_request,
)
from mamori.web.schemas.tenants import TenantCreate, TenantPublic, TenantUpdate
from mamori.web.templating import render

router = APIRouter()


def _require_admin(scope: TenantScope) -> None:
    if scope.principal.role is not Role.ADMIN or scope.principal.is_api_key:
        raise PermissionDeniedError("only administrators manage tenants")


def _visible(session: SessionDep, scope: TenantScope, tenant_id: int) -> Tenant:
    scope.check(tenant_id, "tenant")
    return tenants.get_tenant(session, tenant_id=tenant_id)


@router.get("/api/v1/tenants", response_model=list[TenantPublic], tags=["tenants"])
def list_tenants(session: SessionDep, scope: TenantScopeDep) -> list[Tenant]:
    return tenants.list_tenants(session, tenant_ids=scope.tenant_ids)


@router.post("/api/v1/tenants", response_model=TenantPublic, status_code=201, tags=["tenants"])
def create_tenant(
    request: Request, body: TenantCreate, session: SessionDep, scope: TenantScopeDep
) -> Tenant:
    _require_admin(scope)
    tenant = tenants.create_tenant(
        session, slug=body.slug, name=body.name, retention_days=body.retention_days
    )
    audit_request(
        session,
        request,
        scope.principal,
        action="tenant.create",
        tenant_id=tenant.id,
        target=f"tenant:{tenant.id}",
        detail={"slug": tenant.slug, "name": tenant.name},
    )
    session.commit()
    return tenant


@router.get("/api/v1/tenants/{tenant_id}", response_model=TenantPublic, tags=["tenants"])
def get_tenant(tenant_id: int, session: SessionDep, scope: TenantScopeDep) -> Tenant:
    return _visible(session, scope, tenant_id)


@router.patch("/api/v1/tenants/{tenant_id}", response_model=TenantPublic, tags=["tenants"])
def update_tenant(
    request: Request,
    tenant_id: int,
    body: TenantUpdate,
    session: SessionDep,
    scope: TenantScopeDep,
) -> Tenant:
    tenant = _visible(session, scope, tenant_id)
    _require_admin(scope)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    tenants.update_tenant(session, tenant=tenant, **changes)
    audit_request(
        session,
        request,
        scope.principal,
        action="tenant.update",
        tenant_id=tenant.id,
        target=f"tenant:{tenant.id}",
        detail=changes,
    )
    session.commit()
    return tenant


# --- UI ------------------------------------------------------------------------------


@router.get("/tenants", include_in_schema=False)
def tenants_page(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
    error: str | None = None,
) -> Response:
    if not principal.role.is_staff:
        raise PermissionDeniedError("only staff see the tenant list")
    return render(
        request,
        "tenants.html",
        {"tenants": tenants.list_tenants(session, tenant_ids=scope.tenant_ids), "error": error},
        principal=principal,
        scope=scope,
        session=session,
        active="tenants",
    )


@router.post("/tenants", include_in_schema=False)
def tenants_create_form(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
    slug: Annotated[str, Form()],
    name: Annotated[str, Form()],
    retention_days: Annotated[int, Form(gt=0, le=36500)] = DEFAULT_RETENTION_DAYS,
) -> Response:
    _require_admin(scope)
    try:
        tenant = tenants.create_tenant(
            session, slug=slug.strip(), name=name, retention_days=retention_days
        )
    except MamoriError as exc:
        session.rollback()
        return render(
            request,
            "tenants.html",
            {
                "tenants": tenants.list_tenants(session, tenant_ids=scope.tenant_ids),
                "error": str(exc),
            },
            principal=principal,
            scope=scope,
            session=session,
            active="tenants",
            status_code=422,
        )
    audit_request(
        session,
        request,
        principal,
        action="tenant.create",
        tenant_id=tenant.id,
        target=f"tenant:{tenant.id}",
        detail={"slug": tenant.slug, "name": tenant.name},
    )
    session.commit()
    return RedirectResponse("/tenants", status_code=303)
