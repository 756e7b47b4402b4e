"""API keys for machine clients: created per tenant and purpose, stored as a hash.

A token reads ``mmr_<prefix>_<secret>``. The prefix finds the row; the SHA-256 of the
whole token is compared in constant time. Secrets carry 256 bits of randomness, so a fast
hash is enough (and keeps every ingest request cheap); the secret itself is never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mamori.errors import NotFoundError, ValidationError
from mamori.store.tables import ApiKey, Tenant
from mamori.store.types import utcnow

TOKEN_MARK = "mmr"  # noqa: S105 - a marker, not a secret
PREFIX_LEN = 12
TOUCH_INTERVAL = timedelta(seconds=60)
_ALPHABET = string.ascii_lowercase + string.digits

#: What a key may be used for. Areas that accept keys for a new purpose add it here.
PURPOSES: tuple[str, ...] = ("api", "ingest", "agent")


def check_purpose(purpose: str) -> str:
    """Raises:
    ValidationError: an unknown purpose.
    """
    if purpose not in PURPOSES:
        raise ValidationError(f"unknown key purpose {purpose!r} (expected {', '.join(PURPOSES)})")
    return purpose


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a well-formed token, else ``None``."""
    parts = token.strip().split("_")
    if len(parts) != 3 or parts[0] != TOKEN_MARK:
        return None
    prefix, secret = parts[1], parts[2]
    if len(prefix) != PREFIX_LEN or not secret:
        return None
    return prefix, secret


def create_api_key(
    session: Session,
    *,
    tenant_id: int,
    purpose: str,
    name: str = "",
    created_by_id: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its token; the token is not retrievable later.

    Raises:
        ValidationError: unknown purpose.
        NotFoundError: no such tenant.
    """
    check_purpose(purpose)
    if session.get(Tenant, tenant_id) is None:
        raise NotFoundError(f"tenant {tenant_id} not found")
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(PREFIX_LEN))
    token = f"{TOKEN_MARK}_{prefix}_{secrets.token_urlsafe(32).replace('_', 'A')}"
    key = ApiKey(
        tenant_id=tenant_id,
        name=name.strip()[:200],
        purpose=purpose,
        prefix=prefix,
        secret_hash=_hash(token),
        created_by_id=created_by_id,
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    return key, token


def resolve_api_key(
    session: Session, *, token: str, now: datetime | None = None, touch: bool = True
) -> ApiKey | None:
    """The live key a token belongs to; ``None`` for unknown, wrong or revoked tokens.

    ``last_used_at`` is refreshed at most once per :data:`TOUCH_INTERVAL`, so a busy
    ingest client does not turn every request into a database write.
    """
    parts = split_token(token)
    if parts is None:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[0]))
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(token.strip())):
        return None
    if key.revoked_at is not None or not key.tenant.active:
        return None
    now = now or utcnow()
    if touch and (key.last_used_at is None or now - key.last_used_at >= TOUCH_INTERVAL):
        key.last_used_at = now
        session.flush()
    return key


def get_api_key(session: Session, *, key_id: int) -> ApiKey:
    """Raises:
    NotFoundError: no such key.
    """
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFoundError(f"API key {key_id} not found")
    return key


def list_api_keys(
    session: Session, *, tenant_ids: Collection[int] | None = None, include_revoked: bool = True
) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.id)
    if tenant_ids is not None:
        stmt = stmt.where(ApiKey.tenant_id.in_(list(tenant_ids)))
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(stmt))


def revoke_api_key(session: Session, *, key: ApiKey, now: datetime | None = None) -> ApiKey:
    """Revoke a key (idempotent: a revoked key keeps its first revocation time)."""
    if key.revoked_at is None:
        key.revoked_at = now or utcnow()
        session.flush()
    return key


__all__ = [
    "PURPOSES",
    "check_purpose",
    "create_api_key",
    "get_api_key",
    "list_api_keys",
    "resolve_api_key",
    "revoke_api_key",
    "split_token",
]
