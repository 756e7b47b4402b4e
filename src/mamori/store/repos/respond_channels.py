"""SQL repository of the tenants' notification channels, with encrypted secrets.

Secrets (webhook HMAC keys, chat incoming-webhook URLs) are stored Fernet-encrypted with a
key derived from the instance secret key (``Settings.secret_key``). A secret that cannot be
decrypted (the secret key was changed) reads as empty: the channel then fails visibly at
delivery until someone sets the secret again; nothing is sent with a wrong key.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mamori.errors import DuplicateError, NotFoundError
from mamori.model import Severity
from mamori.respond.channels import CustomerChannel
from mamori.store.db import Database
from mamori.store.repos.respond import _tenant_id
from mamori.store.tables.respond import RespondNotifyChannel
from mamori.store.types import utcnow

log = logging.getLogger(__name__)

_CONTEXT = b"mamori:respond:notify-channel-secret:v1:"


class SecretBox:
    """Encrypts channel secrets with a key derived from the instance secret key."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("a secret key is needed to store channel secrets")
        digest = hashlib.sha256(_CONTEXT + secret_key.encode("utf-8")).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str | None:
        """The secret, or None when it was sealed with another key (or is damaged)."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError):
            return None


def _config(channel: CustomerChannel) -> dict[str, Any]:
    if channel.kind == "email":
        return {"recipients": list(channel.recipients)}
    if channel.kind == "webhook":
        return {"url": channel.url}
    return {"host": channel.url, "style": channel.style}


class SqlChannelRepo:
    """Implements :class:`mamori.respond.channels.ChannelRepo` over ``respond_notify_channels``."""

    def __init__(self, db: Database, *, secret_key: str) -> None:
        self.db = db
        self.box = SecretBox(secret_key)

    def _channel(self, row: RespondNotifyChannel) -> CustomerChannel:
        cfg = row.config or {}
        secret = ""
        if row.secret_enc:
            opened = self.box.open(row.secret_enc)
            if opened is None:
                log.error("the secret of channel %s cannot be decrypted; set it again", row.id)
            secret = opened or ""
        kind = row.kind if row.kind in ("email", "webhook", "chat") else "webhook"
        return CustomerChannel(
            id=row.id,
            tenant=row.tenant,
            name=row.name,
            kind=kind,  # type: ignore[arg-type]  # checked just above
            lang=row.lang,
            min_severity=Severity.parse(row.min_severity),
            enabled=row.enabled,
            recipients=tuple(cfg.get("recipients") or ()),
            url=str(cfg.get("url") or cfg.get("host") or ""),
            style=str(cfg.get("style") or "slack"),
            secret=secret,
            created_at=row.created_at,
            updated_at=row.updated_at,
            created_by=row.created_by,
        )

    def _columns(self, channel: CustomerChannel) -> dict[str, Any]:
        return {
            "tenant": channel.tenant,
            "name": channel.name,
            "kind": channel.kind,
            "lang": channel.lang,
            "min_severity": channel.min_severity.value,
            "enabled": channel.enabled,
            "config": _config(channel),
            "secret_enc": self.box.seal(channel.secret) if channel.secret else None,
            "updated_at": channel.updated_at or utcnow(),
        }

    def add(self, channel: CustomerChannel) -> None:
        try:
            with self.db.session() as s:
                s.add(
                    RespondNotifyChannel(
                        id=channel.id,
                        tenant_id=_tenant_id(s, channel.tenant),
                        created_by=channel.created_by,
                        created_at=channel.created_at or utcnow(),
                        **self._columns(channel),
                    )
                )
                s.flush()
        except IntegrityError:
            raise DuplicateError(f"a channel named {channel.name!r} already exists") from None

    def get(self, channel_id: str) -> CustomerChannel:
        with self.db.session() as s:
            row = s.get(RespondNotifyChannel, channel_id)
            if row is None:
                raise NotFoundError(f"channel {channel_id} not found")
            return self._channel(row)

    def save(self, channel: CustomerChannel) -> None:
        try:
            with self.db.session() as s:
                row = s.get(RespondNotifyChannel, channel.id)
                if row is None:
                    raise NotFoundError(f"channel {channel.id} not found")
                for key, value in self._columns(channel).items():
                    setattr(row, key, value)
                s.flush()
        except IntegrityError:
            raise DuplicateError(f"a channel named {channel.name!r} already exists") from None

    def delete(self, channel_id: str) -> None:
        with self.db.session() as s:
            row = s.get(RespondNotifyChannel, channel_id)
            if row is None:
                raise NotFoundError(f"channel {channel_id} not found")
            s.delete(row)

    def list(self, *, tenant: str | None = None) -> builtins.list[CustomerChannel]:
        stmt = select(RespondNotifyChannel).order_by(
            RespondNotifyChannel.tenant, RespondNotifyChannel.name
        )
        if tenant is not None:
            stmt = stmt.where(RespondNotifyChannel.tenant == tenant)
        with self.db.session() as s:
            return [self._channel(r) for r in s.scalars(stmt)]


__all__ = ["SecretBox", "SqlChannelRepo"]
