"""API keys: ``/api/v1/api-keys`` and the ``/api-keys`` page.

Administrators, operators (for their tenants) and customer administrators (for their own
tenant) create and revoke keys. The token is returned once, at creation.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from mamori.errors import NotFoundError, PermissionDeniedError, ValidationError
from mamori.store.repos import apikeys, tenants
from mamori.store.tables import ApiKey, Role
from mamori.web.deps import (
    CurrentUserPrincipal,
    Principal,
    SessionDep,
    TenantScope,
    TenantScopeDep,
    audit_request,
)
from mamori.web.schemas.apikeys import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from mamori.web.templating import render

router = APIRouter()

MANAGERS = (Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN)


def _require_manager(principal: Principal) -> None:
    if principal.role not in MANAGERS or principal.user is None:
        raise PermissionDeniedError("your role may not manage API keys")


def visible_key(session: Session, scope: TenantScope, key_id: int) -> ApiKey:
    """Raises:
    NotFoundError: no such key, or one of a tenant outside the scope.
    """
    key = session.get(ApiKey, key_id)
    if key is None or not scope.allows(key.tenant_id):
        raise NotFoundError("API key not found")
    return key


def create(
    session: Session,
    request: Request,
    principal: Principal,
    scope: TenantScope,
    body: ApiKeyCreate,
) -> tuple[ApiKey, str]:
    _require_manager(principal)
    scope.check(body.tenant_id, "tenant")
    key, token = apikeys.create_api_key(
        session,
        tenant_id=body.tenant_id,
        purpose=body.purpose,
        name=body.name,
        created_by_id=principal.user.id if principal.user else None,
    )
    audit_request(
        session,
        request,
        principal,
        action="apikey.create",
        tenant_id=key.tenant_id,
        target=f"apikey:{key.id}",
        detail={"prefix": key.prefix, "purpose": key.purpose, "name": key.name},
    )
    return key, token


def revoke(session: Session, request: Request, principal: Principal, key: ApiKey) -> None:
    _require_manager(principal)
    apikeys.revoke_api_key(session, key=key)
    audit_request(
        session,
        request,
        principal,
        action="apikey.revoke",
        tenant_id=key.tenant_id,
        target=f"apikey:{key.id}",
        detail={"prefix": key.prefix},
    )


@router.get("/api/v1/api-keys", response_model=list[ApiKeyPublic], tags=["api-keys"])
def api_list_keys(
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
    tenant_id: int | None = None,
) -> list[ApiKey]:
    _require_manager(principal)
    return apikeys.list_api_keys(session, tenant_ids=scope.ids_for(tenant_id))


@router.post("/api/v1/api-keys", response_model=ApiKeyCreated, status_code=201, tags=["api-keys"])
def api_create_key(
    request: Request,
    body: ApiKeyCreate,
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
) -> ApiKeyCreated:
    key, token = create(session, request, principal, scope, body)
    session.commit()
    return ApiKeyCreated(**ApiKeyPublic.model_validate(key).model_dump(), token=token)


@router.get("/api/v1/api-keys/{key_id}", response_model=ApiKeyPublic, tags=["api-keys"])
def api_get_key(
    key_id: int, session: SessionDep, scope: TenantScopeDep, principal: CurrentUserPrincipal
) -> ApiKey:
    key = visible_key(session, scope, key_id)
    _require_manager(principal)
    return key


@router.post("/api/v1/api-keys/{key_id}/revoke", response_model=ApiKeyPublic, tags=["api-keys"])
def api_revoke_key(
    request: Request,
    key_id: int,
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
) -> ApiKey:
    key = visible_key(session, scope, key_id)
    revoke(session, request, principal, key)
    session.commit()
    return key


# --- UI ------------------------------------------------------------------------------


def _page(
    request: Request,
    session: Session,
    scope: TenantScope,
    principal: Principal,
    *,
    created: tuple[ApiKey, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "api_keys.html",
        {
            "keys": apikeys.list_api_keys(session, tenant_ids=scope.ui_ids()),
            "tenants": tenants.list_tenants(session, tenant_ids=scope.tenant_ids),
            "purposes": apikeys.PURPOSES,
            "created": created,
            "error": error,
        },
        principal=principal,
        scope=scope,
        session=session,
        active="api_keys",
        status_code=status_code,
    )


@router.get("/api-keys", include_in_schema=False)
def keys_page(
    request: Request, session: SessionDep, scope: TenantScopeDep, principal: CurrentUserPrincipal
) -> Response:
    _require_manager(principal)
    return _page(request, session, scope, principal)


@router.post("/api-keys", include_in_schema=False)
def keys_create_form(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
    tenant_id: Annotated[int, Form()],
    purpose: Annotated[str, Form(max_length=32)],
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        created = create(
            session,
            request,
            principal,
            scope,
            ApiKeyCreate(tenant_id=tenant_id, purpose=purpose, name=name),
        )
    except ValidationError as exc:
        session.rollback()
        return _page(request, session, scope, principal, error=str(exc), status_code=422)
    session.commit()
    return _page(request, session, scope, principal, created=created, status_code=201)


@router.post("/api-keys/{key_id}/revoke", include_in_schema=False)
def keys_revoke_form(
    request: Request,
    key_id: int,
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
) -> Response:
    key = visible_key(session, scope, key_id)
    revoke(session, request, principal, key)
    session.commit()
    return RedirectResponse("/api-keys", status_code=303)
