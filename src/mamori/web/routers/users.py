"""Users: ``/api/v1/users`` and the ``/users`` pages.

Administrators manage every user. A customer administrator manages the customer users of
their own tenant. Operators may read the customer users of their assigned tenants.
Users of other tenants are reported as missing (404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from mamori.errors import MamoriError, NotFoundError, PermissionDeniedError, ValidationError
from mamori.store.repos import tenants, users
from mamori.store.tables import Role, User
from mamori.web.deps import (
    CurrentUserPrincipal,
    HasherDep,
    Principal,
    SessionDep,
    TenantScope,
    TenantScopeDep,
    audit_request,
)
from mamori.web.schemas.users import UserCreate, UserPublic, UserUpdate
from mamori.web.templating import render

router = APIRouter()

READERS = (Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN)


def _require_reader(principal: Principal) -> None:
    if principal.role not in READERS or principal.is_api_key:
        raise PermissionDeniedError("your role may not see users")


def _require_manager(principal: Principal) -> None:
    if principal.role not in (Role.ADMIN, Role.CUSTOMER_ADMIN) or principal.is_api_key:
        raise PermissionDeniedError("your role may not manage users")


def can_see_user(principal: Principal, user: User) -> bool:
    if principal.role is Role.ADMIN:
        return True
    if principal.user is not None and principal.user.id == user.id:
        return True
    return user.role_enum.is_customer and principal.can_see(user.tenant_id)


def visible_user(session: Session, scope: TenantScope, user_id: int) -> User:
    """Raises:
    NotFoundError: no such user, or one outside the caller's scope.
    """
    user = session.get(User, user_id)
    if user is None or not can_see_user(scope.principal, user):
        raise NotFoundError("user not found")
    return user


def list_visible(session: Session, scope: TenantScope, tenant_id: int | None) -> list[User]:
    _require_reader(scope.principal)
    if scope.principal.role is Role.ADMIN and tenant_id is None:
        return users.list_users(session)
    ids = scope.ids_for(tenant_id)
    return users.list_users(
        session, tenant_ids=ids, roles=(Role.CUSTOMER_ADMIN, Role.CUSTOMER_VIEWER)
    )


def create(
    session: Session, request: Request, scope: TenantScope, body: UserCreate, hasher: HasherDep
) -> User:
    """Create a user within what the caller may manage."""
    principal = scope.principal
    _require_manager(principal)
    tenant_id = body.tenant_id
    if principal.role is Role.CUSTOMER_ADMIN:
        if not body.role.is_customer:
            raise PermissionDeniedError("customer administrators create customer users only")
        if body.assigned_tenant_ids:
            raise PermissionDeniedError("customer administrators do not assign tenants")
        tenant_id = tenant_id if tenant_id is not None else principal.home_tenant_id
    if tenant_id is not None:
        scope.check(tenant_id, "tenant")
    for assigned in body.assigned_tenant_ids:
        scope.check(assigned, "tenant")
    user = users.create_user(
        session,
        username=body.username,
        password=body.password,
        role=body.role,
        tenant_id=tenant_id,
        display_name=body.display_name,
        language=body.language,
        assigned_tenant_ids=body.assigned_tenant_ids,
        hasher=hasher,
    )
    audit_request(
        session,
        request,
        principal,
        action="user.create",
        tenant_id=user.tenant_id,
        target=f"user:{user.id}",
        detail={"username": user.username, "role": user.role},
    )
    return user


def update(
    session: Session,
    request: Request,
    scope: TenantScope,
    user: User,
    body: UserUpdate,
    hasher: HasherDep,
) -> User:
    """Change a user within what the caller may manage."""
    principal = scope.principal
    _require_manager(principal)
    changes = body.model_dump(exclude_unset=True, exclude_none=True, exclude={"password"})
    if principal.role is Role.CUSTOMER_ADMIN:
        if not user.role_enum.is_customer or user.tenant_id != principal.home_tenant_id:
            raise PermissionDeniedError("customer administrators manage their own tenant's users")
        if body.role is not None and not body.role.is_customer:
            raise PermissionDeniedError("customer administrators assign customer roles only")
        if body.tenant_id is not None and body.tenant_id != user.tenant_id:
            raise PermissionDeniedError("customer administrators cannot move users")
        if body.assigned_tenant_ids is not None:
            raise PermissionDeniedError("customer administrators do not assign tenants")
    if body.tenant_id is not None:
        scope.check(body.tenant_id, "tenant")
    is_self = principal.user is not None and principal.user.id == user.id
    if is_self and (
        body.active is False or (body.role is not None and body.role.value != user.role)
    ):
        raise ValidationError("you cannot disable yourself or change your own role")
    users.update_user(
        session,
        user=user,
        display_name=body.display_name,
        language=body.language,
        role=body.role,
        tenant_id=body.tenant_id,
        active=body.active,
    )
    if body.assigned_tenant_ids is not None:
        users.set_assigned_tenants(session, user=user, tenant_ids=body.assigned_tenant_ids)
    if body.password is not None:
        users.set_password(session, user=user, password=body.password, hasher=hasher)
        changes["password_changed"] = True
    audit_request(
        session,
        request,
        principal,
        action="user.update",
        tenant_id=user.tenant_id,
        target=f"user:{user.id}",
        detail=changes,
    )
    return user


@router.get("/api/v1/users", response_model=list[UserPublic], tags=["users"])
def api_list_users(
    session: SessionDep, scope: TenantScopeDep, tenant_id: int | None = None
) -> list[UserPublic]:
    return [UserPublic.of(u) for u in list_visible(session, scope, tenant_id)]


@router.post("/api/v1/users", response_model=UserPublic, status_code=201, tags=["users"])
def api_create_user(
    request: Request,
    body: UserCreate,
    session: SessionDep,
    scope: TenantScopeDep,
    hasher: HasherDep,
) -> UserPublic:
    user = create(session, request, scope, body, hasher)
    session.commit()
    return UserPublic.of(user)


@router.get("/api/v1/users/{user_id}", response_model=UserPublic, tags=["users"])
def api_get_user(user_id: int, session: SessionDep, scope: TenantScopeDep) -> UserPublic:
    user = visible_user(session, scope, user_id)
    principal = scope.principal
    if principal.user is None or principal.user.id != user.id:
        _require_reader(principal)
    return UserPublic.of(user)


@router.patch("/api/v1/users/{user_id}", response_model=UserPublic, tags=["users"])
def api_update_user(
    request: Request,
    user_id: int,
    body: UserUpdate,
    session: SessionDep,
    scope: TenantScopeDep,
    hasher: HasherDep,
) -> UserPublic:
    user = visible_user(session, scope, user_id)
    update(session, request, scope, user, body, hasher)
    session.commit()
    return UserPublic.of(user)


# --- UI ------------------------------------------------------------------------------


def _page(
    request: Request,
    session: Session,
    scope: TenantScope,
    principal: Principal,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "users.html",
        {
            "users": list_visible(session, scope, scope.current),
            "roles": [r for r in Role if principal.role is Role.ADMIN or r.is_customer],
            "tenants": tenants.list_tenants(session, tenant_ids=scope.tenant_ids),
            "error": error,
        },
        principal=principal,
        scope=scope,
        session=session,
        active="users",
        status_code=status_code,
    )


@router.get("/users", include_in_schema=False)
def users_page(
    request: Request, session: SessionDep, scope: TenantScopeDep, principal: CurrentUserPrincipal
) -> Response:
    _require_manager(principal)
    return _page(request, session, scope, principal)


def _optional_int(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError("not a number: " + value[:20]) from None


@router.post("/users", include_in_schema=False)
def users_create_form(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
    hasher: HasherDep,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1024)],
    role: Annotated[Role, Form()],
    tenant_id: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    language: Annotated[str, Form(pattern="^(ja|en)$")] = "ja",
) -> Response:
    _require_manager(principal)
    try:
        tid = _optional_int(tenant_id)
        if role.is_staff:
            tid = None
        body = UserCreate(
            username=username.strip(),
            password=password,
            role=role,
            tenant_id=tid,
            display_name=display_name,
            language=language,
        )
        create(session, request, scope, body, hasher)
    except (NotFoundError, PermissionDeniedError):
        raise
    except MamoriError as exc:
        session.rollback()
        return _page(request, session, scope, principal, error=str(exc), status_code=422)
    except PydanticValidationError as exc:
        session.rollback()
        message = "; ".join(str(e.get("msg", "")) for e in exc.errors())
        return _page(request, session, scope, principal, error=message, status_code=422)
    session.commit()
    return RedirectResponse("/users", status_code=303)


@router.get("/users/{user_id}", include_in_schema=False)
def user_edit_page(
    request: Request,
    user_id: int,
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
) -> Response:
    _require_manager(principal)
    user = visible_user(session, scope, user_id)
    return render(
        request,
        "user_edit.html",
        {
            "user": user,
            "roles": [r for r in Role if principal.role is Role.ADMIN or r.is_customer],
            "error": None,
        },
        principal=principal,
        scope=scope,
        session=session,
        active="users",
    )


@router.post("/users/{user_id}", include_in_schema=False)
def user_edit_form(
    request: Request,
    user_id: int,
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
    hasher: HasherDep,
    role: Annotated[Role, Form()],
    display_name: Annotated[str, Form(max_length=200)] = "",
    language: Annotated[str, Form(pattern="^(ja|en)$")] = "ja",
    active: Annotated[str, Form()] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    _require_manager(principal)
    user = visible_user(session, scope, user_id)
    body = UserUpdate(
        display_name=display_name,
        language=language,
        role=role if role.value != user.role else None,
        active=active == "on",
        password=password or None,
    )
    try:
        update(session, request, scope, user, body, hasher)
    except ValidationError as exc:
        session.rollback()
        return render(
            request,
            "user_edit.html",
            {
                "user": user,
                "roles": [r for r in Role if principal.role is Role.ADMIN or r.is_customer],
                "error": str(exc),
            },
            principal=principal,
            scope=scope,
            session=session,
            active="users",
            status_code=422,
        )
    session.commit()
    return RedirectResponse("/users", status_code=303)
