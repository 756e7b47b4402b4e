"""Users: create, read, list, update, passwords, operator assignments and authentication."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mamori.errors import DuplicateError, NotFoundError, ValidationError
from mamori.store.passwords import burn_time, check_password_policy, verify_password
from mamori.store.repos import audit
from mamori.store.tables import Role, Tenant, User
from mamori.store.types import utcnow

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,149}$")
LANGUAGES = ("ja", "en")


def parse_role(role: str | Role) -> Role:
    """Raises:
    ValidationError: not one of the four roles.
    """
    try:
        return Role(role)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ValidationError(f"unknown role {role!r} (expected one of {known})") from None


def _check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise ValidationError(
            f"username {username!r} must be 1-150 letters, digits or . _ @ - "
            "and start with a letter or digit"
        )
    return username


def _check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValidationError(f"language must be one of {', '.join(LANGUAGES)}")
    return language


def _check_role_tenant(role: Role, tenant_id: int | None) -> None:
    if role.is_customer and tenant_id is None:
        raise ValidationError(f"role {role.value} needs a tenant")
    if role.is_staff and tenant_id is not None:
        raise ValidationError(f"role {role.value} does not belong to a tenant")


def _tenants(session: Session, tenant_ids: Collection[int]) -> list[Tenant]:
    wanted = set(tenant_ids)
    found = list(session.scalars(select(Tenant).where(Tenant.id.in_(wanted))))
    missing = wanted - {t.id for t in found}
    if missing:
        raise NotFoundError(f"tenant {min(missing)} not found")
    return found


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str | Role,
    hasher: PasswordHasher,
    tenant_id: int | None = None,
    display_name: str = "",
    language: str = "ja",
    assigned_tenant_ids: Collection[int] = (),
) -> User:
    """Raises:
    ValidationError: bad username, role/tenant combination, language or weak password.
    DuplicateError: the username is taken.
    NotFoundError: a named tenant does not exist.
    """
    role = parse_role(role)
    _check_username(username)
    _check_role_tenant(role, tenant_id)
    check_password_policy(password)
    if tenant_id is not None:
        _tenants(session, [tenant_id])
    if assigned_tenant_ids and role is not Role.OPERATOR:
        raise ValidationError("only operators are assigned tenants")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DuplicateError(f"user {username!r} already exists")
    user = User(
        username=username,
        password_hash=hasher.hash(password),
        role=role.value,
        tenant_id=tenant_id,
        display_name=display_name.strip()[:200],
        language=_check_language(language),
        active=True,
        failed_logins=0,
    )
    if assigned_tenant_ids:
        user.assigned_tenants = _tenants(session, assigned_tenant_ids)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, *, user_id: int) -> User:
    """Raises:
    NotFoundError: no such user.
    """
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    return user


def find_user(session: Session, *, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def get_user_by_username(session: Session, *, username: str) -> User:
    """Raises:
    NotFoundError: no such user.
    """
    user = find_user(session, username=username)
    if user is None:
        raise NotFoundError(f"user {username!r} not found")
    return user


def list_users(
    session: Session,
    *,
    tenant_ids: Collection[int] | None = None,
    roles: Collection[Role] | None = None,
) -> list[User]:
    """Users by username; ``tenant_ids`` limits to customer users of those tenants."""
    stmt = select(User).order_by(User.username)
    if tenant_ids is not None:
        stmt = stmt.where(User.tenant_id.in_(list(tenant_ids)))
    if roles is not None:
        stmt = stmt.where(User.role.in_([r.value for r in roles]))
    return list(session.scalars(stmt))


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def update_user(
    session: Session,
    *,
    user: User,
    display_name: str | None = None,
    language: str | None = None,
    role: str | Role | None = None,
    tenant_id: int | None = None,
    active: bool | None = None,
) -> User:
    """Change the given fields (``None`` leaves a field alone).

    Changing ``role`` between staff and customer roles must come with a matching
    ``tenant_id`` (customer roles) and clears it for staff roles.

    Raises:
        ValidationError: an impossible role/tenant combination or language.
        NotFoundError: a named tenant does not exist.
    """
    if display_name is not None:
        user.display_name = display_name.strip()[:200]
    if language is not None:
        user.language = _check_language(language)
    if role is not None or tenant_id is not None:
        new_role = parse_role(role) if role is not None else user.role_enum
        if new_role.is_staff:
            if tenant_id is not None:
                raise ValidationError(f"role {new_role.value} does not belong to a tenant")
            new_tenant = None
        else:
            new_tenant = tenant_id if tenant_id is not None else user.tenant_id
        _check_role_tenant(new_role, new_tenant)
        if new_tenant is not None:
            _tenants(session, [new_tenant])
        if new_role is not Role.OPERATOR:
            user.assigned_tenants = []
        user.role = new_role.value
        user.tenant_id = new_tenant
    if active is not None:
        user.active = active
        if active:
            user.failed_logins = 0
            user.locked_until = None
    session.flush()
    return user


def set_assigned_tenants(session: Session, *, user: User, tenant_ids: Collection[int]) -> User:
    """Replace an operator's tenant assignments.

    Raises:
        ValidationError: the user is not an operator.
        NotFoundError: a tenant does not exist.
    """
    if user.role_enum is not Role.OPERATOR:
        raise ValidationError("only operators are assigned tenants")
    user.assigned_tenants = _tenants(session, tenant_ids) if tenant_ids else []
    session.flush()
    return user


def set_password(session: Session, *, user: User, password: str, hasher: PasswordHasher) -> User:
    """Raises:
    ValidationError: the password breaks the policy.
    """
    check_password_policy(password)
    user.password_hash = hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    return user


def unlock(session: Session, *, user: User) -> User:
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    return user


class LoginOutcome(StrEnum):
    OK = "ok"
    UNKNOWN_USER = "unknown_user"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105 - an outcome name, not a password
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is LoginOutcome.OK


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    hasher: PasswordHasher,
    max_failures: int,
    lock_minutes: int,
    source_ip: str = "",
    now: datetime | None = None,
) -> LoginResult:
    """Check a login and record the outcome in the audit log.

    After ``max_failures`` wrong passwords in a row the account is locked for
    ``lock_minutes``; while locked even the right password is refused. Unknown users cost
    the same hashing time as known ones.
    """
    now = now or utcnow()
    user = find_user(session, username=username)
    if user is None:
        burn_time(hasher, password)
        audit.record(
            session,
            action="auth.login_failed",
            actor=username[:200],
            target=f"user:{username[:150]}",
            detail={"reason": LoginOutcome.UNKNOWN_USER.value},
            source_ip=source_ip,
        )
        return LoginResult(LoginOutcome.UNKNOWN_USER)
    target = f"user:{user.id}"
    if user.locked_until is not None and user.locked_until > now:
        burn_time(hasher, password)
        audit.record(
            session,
            action="auth.login_refused_locked",
            actor=user.username,
            tenant_id=user.tenant_id,
            target=target,
            detail={"locked_until": user.locked_until.isoformat()},
            source_ip=source_ip,
        )
        return LoginResult(LoginOutcome.LOCKED, user, user.locked_until)
    if not verify_password(hasher, user.password_hash, password):
        user.failed_logins += 1
        detail: dict[str, object] = {
            "reason": LoginOutcome.WRONG_PASSWORD.value,
            "failures": user.failed_logins,
        }
        audit.record(
            session,
            action="auth.login_failed",
            actor=user.username,
            tenant_id=user.tenant_id,
            target=target,
            detail=detail,
            source_ip=source_ip,
        )
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(minutes=lock_minutes)
            user.failed_logins = 0
            audit.record(
                session,
                action="auth.locked",
                actor=user.username,
                tenant_id=user.tenant_id,
                target=target,
                detail={"locked_until": user.locked_until.isoformat(), "after": max_failures},
                source_ip=source_ip,
            )
            return LoginResult(LoginOutcome.LOCKED, user, user.locked_until)
        return LoginResult(LoginOutcome.WRONG_PASSWORD, user)
    if not user.active:
        audit.record(
            session,
            action="auth.login_refused_disabled",
            actor=user.username,
            tenant_id=user.tenant_id,
            target=target,
            source_ip=source_ip,
        )
        return LoginResult(LoginOutcome.DISABLED, user)
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record(
        session,
        action="auth.login",
        actor=user.username,
        tenant_id=user.tenant_id,
        target=target,
        source_ip=source_ip,
    )
    return LoginResult(LoginOutcome.OK, user)


__all__ = [
    "LANGUAGES",
    "LoginOutcome",
    "LoginResult",
    "authenticate",
    "count_users",
    "create_user",
    "find_user",
    "get_user",
    "get_user_by_username",
    "list_users",
    "parse_role",
    "set_assigned_tenants",
    "set_password",
    "unlock",
    "update_user",
]
