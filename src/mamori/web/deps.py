"""Request dependencies: database session, the caller (principal) and the tenants it may see.

Every route except the public ones (login, static files, health) depends, directly or
through :data:`TenantScopeDep`, on :func:`get_principal`:

* a browser sends the signed session cookie (and a CSRF token on unsafe requests);
* a machine client sends ``Authorization: Bearer <api key>``. A key acts for its tenant
  only, and only where its purpose is accepted: the general API takes ``api`` keys, an
  ingest endpoint takes ``ingest`` keys (:func:`require_key`).

Objects of tenants outside the caller's scope are reported as missing (404), so their
existence does not leak; a known object the role may not change gives 403.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from argon2 import PasswordHasher
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from mamori.config import Settings
from mamori.errors import NotFoundError, PermissionDeniedError
from mamori.store.db import Database
from mamori.store.repos import apikeys, audit
from mamori.store.tables import ApiKey, Role, User
from mamori.web.i18n import pick_language
from mamori.web.sessions import (
    CSRF_FIELD,
    CSRF_HEADER,
    WebSession,
    load_session,
    password_fingerprint,
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
GENERAL_API_PURPOSE = "api"


class NotAuthenticatedError(Exception):
    """No valid credentials: 401 for the API, a redirect to the login page for the UI."""

    def __init__(self, reason: str = "not authenticated") -> None:
        super().__init__(reason)
        self.reason = reason


class CsrfError(Exception):
    """An unsafe cookie-authenticated request without the session's CSRF token."""


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


def get_session(db: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    """One SQLAlchemy session per request; handlers commit what they change."""
    session = db.sessionmaker()
    try:
        yield session
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
HasherDep = Annotated[PasswordHasher, Depends(get_hasher)]


def get_web_session(request: Request) -> WebSession:
    return load_session(request)


WebSessionDep = Annotated[WebSession, Depends(get_web_session)]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a logged-in user or an API key, with the tenants it may see.

    ``tenant_ids`` is ``None`` for administrators (every tenant).
    """

    role: Role
    tenant_ids: frozenset[int] | None
    user: User | None = None
    api_key: ApiKey | None = None

    @property
    def name(self) -> str:
        if self.user is not None:
            return self.user.username
        if self.api_key is not None:
            return f"apikey:{self.api_key.prefix}"
        return "anonymous"

    @property
    def is_api_key(self) -> bool:
        return self.api_key is not None

    @property
    def purpose(self) -> str | None:
        return self.api_key.purpose if self.api_key is not None else None

    @property
    def home_tenant_id(self) -> int | None:
        if self.api_key is not None:
            return self.api_key.tenant_id
        return self.user.tenant_id if self.user is not None else None

    def can_see(self, tenant_id: int | None) -> bool:
        if self.tenant_ids is None:
            return True
        return tenant_id is not None and tenant_id in self.tenant_ids

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles


def principal_for_user(user: User) -> Principal:
    role = user.role_enum
    if role is Role.ADMIN:
        return Principal(role=role, tenant_ids=None, user=user)
    if role is Role.OPERATOR:
        ids = frozenset(t.id for t in user.assigned_tenants if t.active)
        return Principal(role=role, tenant_ids=ids, user=user)
    tenant_ids = frozenset({user.tenant_id}) if user.tenant_id is not None else frozenset()
    if user.tenant is not None and not user.tenant.active:
        tenant_ids = frozenset()
    return Principal(role=role, tenant_ids=tenant_ids, user=user)


def principal_for_key(key: ApiKey) -> Principal:
    return Principal(role=Role.CUSTOMER_VIEWER, tenant_ids=frozenset({key.tenant_id}), api_key=key)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthenticatedError("malformed Authorization header (expected Bearer <key>)")
    return value.strip()


def resolve_principal(request: Request, session: Session) -> Principal | None:
    """The caller, or ``None`` when the request carries no credentials at all.

    Raises:
        NotAuthenticatedError: credentials were given but are not valid.
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    token = _bearer(request)
    principal: Principal | None = None
    if token is not None:
        key = apikeys.resolve_api_key(session, token=token)
        if key is None:
            session.rollback()
            raise NotAuthenticatedError("API key is not valid or has been revoked")
        if session.dirty:
            session.commit()  # last_used_at
        principal = principal_for_key(key)
    else:
        web = load_session(request)
        if web.uid is None:
            return None
        user = session.get(User, web.uid)
        if user is None or not user.active or web.pw != password_fingerprint(user.password_hash):
            return None
        principal = principal_for_user(user)
    request.state.principal = principal
    return principal


def get_optional_principal(request: Request, session: SessionDep) -> Principal | None:
    return resolve_principal(request, session)


def get_principal(request: Request, session: SessionDep) -> Principal:
    """A logged-in user, or an API key whose purpose is the general API.

    Raises:
        NotAuthenticatedError: no or invalid credentials.
        PermissionDeniedError: an API key issued for another purpose.
    """
    principal = resolve_principal(request, session)
    if principal is None:
        raise NotAuthenticatedError()
    if principal.api_key is not None and principal.api_key.purpose != GENERAL_API_PURPOSE:
        raise PermissionDeniedError(
            f"an API key for {principal.api_key.purpose!r} cannot be used here"
        )
    return principal


def get_user_principal(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """A logged-in person (API keys refused)."""
    if principal.user is None:
        raise PermissionDeniedError("this action needs a logged-in user, not an API key")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
CurrentUserPrincipal = Annotated[Principal, Depends(get_user_principal)]


def get_current_user(principal: CurrentUserPrincipal) -> User:
    assert principal.user is not None  # noqa: S101 - guaranteed by get_user_principal
    return principal.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """Dependency factory: the caller must have one of ``roles`` (else 403)."""

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise PermissionDeniedError("your role may not do this")
        return principal

    return check


def require_key(purpose: str) -> Callable[[Request, Session], Principal]:
    """Dependency factory for machine endpoints: an API key of exactly this purpose.

    Raises:
        NotAuthenticatedError: no or invalid key.
        PermissionDeniedError: a user session or a key of another purpose.
    """
    apikeys.check_purpose(purpose)

    def check(request: Request, session: SessionDep) -> Principal:
        if request.headers.get("authorization") is None:
            raise NotAuthenticatedError("this endpoint needs an API key")
        principal = resolve_principal(request, session)
        if principal is None or principal.api_key is None:
            raise NotAuthenticatedError("this endpoint needs an API key")
        if principal.api_key.purpose != purpose:
            raise PermissionDeniedError(
                f"an API key for {principal.api_key.purpose!r} cannot be used here"
            )
        return principal

    return check


@dataclass(frozen=True, slots=True)
class TenantScope:
    """The tenants a request may touch.

    ``current`` is the tenant the UI is looking at: a customer's own tenant, or the one an
    operator/admin picked in the tenant switcher (``None``: all their tenants).
    """

    principal: Principal
    current: int | None = None

    @property
    def tenant_ids(self) -> frozenset[int] | None:
        return self.principal.tenant_ids

    def allows(self, tenant_id: int | None) -> bool:
        return self.principal.can_see(tenant_id)

    def check(self, tenant_id: int | None, what: str = "object") -> None:
        """Raises:
        NotFoundError: the tenant is outside the scope (reported as missing).
        """
        if not self.allows(tenant_id):
            raise NotFoundError(f"{what} not found")

    def ids_for(self, requested: int | None = None) -> Collection[int] | None:
        """Tenant ids to filter a query by: ``requested`` when allowed, else the scope.

        ``None`` means no filter (an administrator asking for everything).

        Raises:
            NotFoundError: ``requested`` is outside the scope.
        """
        if requested is not None:
            self.check(requested, "tenant")
            return [requested]
        return self.tenant_ids

    def ui_ids(self) -> Collection[int] | None:
        """What a UI page shows: the switcher's tenant, else the whole scope."""
        return self.ids_for(self.current)


def get_tenant_scope(request: Request, principal: CurrentPrincipal) -> TenantScope:
    current: int | None = None
    if principal.role.is_customer or principal.is_api_key:
        current = principal.home_tenant_id
    else:
        chosen = load_session(request).tenant
        if chosen is not None and principal.can_see(chosen):
            current = chosen
    return TenantScope(principal=principal, current=current)


TenantScopeDep = Annotated[TenantScope, Depends(get_tenant_scope)]


def language_for(request: Request, principal: Principal | None = None) -> str:
    settings: Settings = request.app.state.settings
    user_lang = principal.user.language if principal and principal.user else None
    return pick_language(load_session(request).lang, user_lang, settings.default_language)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def audit_request(
    session: Session,
    request: Request,
    principal: Principal | None,
    *,
    action: str,
    tenant_id: int | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an audit entry for this request (in the request's transaction)."""
    audit.record(
        session,
        action=action,
        actor=principal.name if principal else "anonymous",
        tenant_id=tenant_id,
        target=target,
        detail=detail,
        source_ip=client_ip(request),
    )


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go back to; anything else (other hosts, schemes) gives ``default``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


async def verify_csrf(request: Request) -> None:
    """App-wide: unsafe requests authenticated by cookie must carry the session's token.

    Bearer-authenticated requests are exempt (no ambient credentials to abuse).

    Raises:
        CsrfError: the token is missing or does not match.
    """
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("authorization"):
        return
    session = load_session(request)
    token = request.headers.get(CSRF_HEADER)
    if not token:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
    if session.fresh or not session.check_csrf(token):
        raise CsrfError("CSRF token missing or invalid")


__all__ = [
    "CsrfError",
    "CurrentPrincipal",
    "CurrentUser",
    "CurrentUserPrincipal",
    "HasherDep",
    "NotAuthenticatedError",
    "Principal",
    "SessionDep",
    "SettingsDep",
    "TenantScope",
    "TenantScopeDep",
    "WebSessionDep",
    "audit_request",
    "client_ip",
    "get_optional_principal",
    "get_principal",
    "get_session",
    "get_tenant_scope",
    "language_for",
    "principal_for_key",
    "principal_for_user",
    "require_key",
    "require_roles",
    "safe_next",
    "verify_csrf",
]
