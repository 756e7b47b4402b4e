"""Invitations of new administrators: one-time, expiring set-password links (hashed tokens).

The rules (token, hash, expiry, e-mail) are in :mod:`mamori.service.invite`; these functions
store an invitation, find it by token and redeem it in the caller's transaction (they flush,
never commit). Redeeming is single use even when two requests race: the row is claimed by an
``UPDATE .. WHERE used_at IS NULL`` and only the request that changed it sets the password.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mamori.errors import ValidationError
from mamori.service.invite import InvitationUnusableError, check_usable, hash_token, new_token
from mamori.store.repos import audit, users
from mamori.store.tables import InvitationRow, User
from mamori.store.types import utcnow

NOT_VALID = "この招待リンクは無効です (this invitation link is not valid)"


def create_invitation(
    session: Session,
    *,
    user: User,
    email: str,
    valid_for: timedelta,
    actor: str,
    case_id: int | None = None,
    language: str = "ja",
    now: datetime | None = None,
    source_ip: str = "",
) -> tuple[InvitationRow, str]:
    """Store a new invitation for ``user`` (older unused ones are revoked): ``(row, token)``.

    The token is returned once, for the e-mail; only its hash is stored.

    Raises:
        ValidationError: the user belongs to no tenant, or ``valid_for`` is not positive.
    """
    if user.tenant_id is None:
        raise ValidationError("only a tenant's users are invited")
    if valid_for <= timedelta(0):
        raise ValidationError("an invitation must be valid for some time")
    now = now or utcnow()
    session.execute(
        update(InvitationRow)
        .where(
            InvitationRow.user_id == user.id,
            InvitationRow.used_at.is_(None),
            InvitationRow.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token, digest = new_token()
    row = InvitationRow(
        token_hash=digest,
        user_id=user.id,
        tenant_id=user.tenant_id,
        case_id=case_id,
        email=email[:254],
        language=language[:5],
        created_by=actor[:200],
        created_at=now,
        expires_at=now + valid_for,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        action="user.invitation.create",
        actor=actor,
        tenant_id=user.tenant_id,
        target=f"user:{user.id}",
        detail={
            "invitation": row.id,
            "username": user.username,
            "email": row.email,
            "expires_at": row.expires_at.isoformat(),
            "case": case_id,
        },
        source_ip=source_ip,
        ts=now,
    )
    return row, token


def mark_sent(session: Session, *, row: InvitationRow, at: datetime | None = None) -> None:
    row.sent_at = at or utcnow()
    session.flush()


def latest_invitation(session: Session, *, user_id: int) -> InvitationRow | None:
    return session.scalar(
        select(InvitationRow)
        .where(InvitationRow.user_id == user_id)
        .order_by(InvitationRow.id.desc())
        .limit(1)
    )


def find_invitation(session: Session, *, token: str, now: datetime | None = None) -> InvitationRow:
    """The usable invitation of ``token``.

    Raises:
        InvitationUnusableError: unknown, used, revoked or expired.
    """
    if not token or len(token) > 200:
        raise InvitationUnusableError(NOT_VALID)
    row = session.scalar(select(InvitationRow).where(InvitationRow.token_hash == hash_token(token)))
    if row is None:
        raise InvitationUnusableError(NOT_VALID)
    check_usable(
        expires_at=row.expires_at,
        used_at=row.used_at,
        revoked_at=row.revoked_at,
        now=now or utcnow(),
    )
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise InvitationUnusableError(NOT_VALID)
    return row


def accept_invitation(
    session: Session,
    *,
    token: str,
    password: str,
    hasher: PasswordHasher,
    now: datetime | None = None,
    source_ip: str = "",
) -> User:
    """Set the invited user's password and use the invitation up (once).

    Raises:
        InvitationUnusableError: unknown, used, revoked or expired (nothing changes).
        ValidationError: the password breaks the policy (the link stays usable).
    """
    now = now or utcnow()
    row = find_invitation(session, token=token, now=now)
    user = users.get_user(session, user_id=row.user_id)
    users.set_password(session, user=user, password=password, hasher=hasher)
    claimed = session.execute(
        update(InvitationRow)
        .where(
            InvitationRow.id == row.id,
            InvitationRow.used_at.is_(None),
            InvitationRow.revoked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        session.rollback()
        raise InvitationUnusableError(
            "この招待リンクは使用済みです (this invitation link has already been used)"
        )
    session.expire(row)
    audit.record(
        session,
        action="user.invitation.accept",
        actor=user.username,
        tenant_id=row.tenant_id,
        target=f"user:{user.id}",
        detail={"invitation": row.id},
        source_ip=source_ip,
        ts=now,
    )
    return user


__all__ = [
    "NOT_VALID",
    "accept_invitation",
    "create_invitation",
    "find_invitation",
    "latest_invitation",
    "mark_sent",
]
