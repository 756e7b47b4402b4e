"""Invitations for a new tenant's first administrator: a one-time, expiring set-password link.

Provisioning creates the administrator with a random password nobody sees and sends this
invitation instead: an e-mail (Japanese first, English below) with a link carrying a random
token. Only the token's SHA-256 is stored (:func:`hash_token`); the link works once and
until it expires (:func:`check_usable`). Sending goes over the configured SMTP relay
(:class:`SmtpRelay`, plain SMTP, optional STARTTLS and login). Nothing here touches storage.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlencode

from mamori import smtp
from mamori.errors import MamoriError, ValidationError
from mamori.model import utc
from mamori.service.text import Lang

#: Bytes of randomness in a token (256 bits, URL-safe base64 in the link).
TOKEN_BYTES = 32
DEFAULT_VALID = timedelta(hours=72)
INVITE_PATH = "/invite"


class InvitationError(MamoriError):
    """An invitation could not be sent (the SMTP relay refused or could not be reached)."""


class InvitationUnusableError(ValidationError):
    """The link is unknown, already used, revoked or expired (one neutral message each)."""


def new_token() -> tuple[str, str]:
    """A fresh token and the hash to store: ``(token, sha256_hex)``."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """The stored form of a token (SHA-256, hex); the token itself is never stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_hash(token: str, stored: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored)


def check_usable(
    *,
    expires_at: datetime,
    used_at: datetime | None,
    revoked_at: datetime | None,
    now: datetime,
) -> None:
    """Raises:
    InvitationUnusableError: the invitation was used, revoked or has expired.
    """
    if used_at is not None:
        raise InvitationUnusableError(
            "この招待リンクは使用済みです (this invitation link has already been used)"
        )
    if revoked_at is not None:
        raise InvitationUnusableError(
            "この招待リンクは新しい招待で無効になりました (a newer invitation replaced this link)"
        )
    if utc(now) >= utc(expires_at):
        raise InvitationUnusableError(
            "この招待リンクは有効期限切れです。担当者に再送を依頼してください "
            "(this invitation link has expired; ask for a new one)"
        )


def invitation_link(base_url: str, token: str) -> str:
    """``<base>/invite?token=...`` (``base_url`` without a trailing slash is fine)."""
    if not base_url.startswith(("http://", "https://")):
        raise ValidationError(f"the public URL {base_url!r} must start with http:// or https://")
    return f"{base_url.rstrip('/')}{INVITE_PATH}?{urlencode({'token': token})}"


@dataclass(frozen=True, slots=True)
class Invitation:
    """What the e-mail says: who is invited to which tenant, the link and its expiry."""

    to: str
    tenant_name: str
    username: str
    contact_name: str
    link: str
    expires_at: datetime


def _jst(moment: datetime) -> str:
    local = utc(moment) + timedelta(hours=9)
    return local.strftime("%Y-%m-%d %H:%M") + " JST"


def invitation_text(invitation: Invitation, lang: Lang = "ja") -> tuple[str, str]:
    """Subject and body; the body has Japanese first and English below (``lang`` picks
    which language leads the subject and the body)."""
    expires = _jst(invitation.expires_at)
    ja = (
        f"{invitation.contact_name or invitation.username} 様\n\n"
        f"mamori セキュリティパックのテナント「{invitation.tenant_name}」を作成しました。\n"
        f"管理者ユーザー名: {invitation.username}\n\n"
        "次のリンクを開いてパスワードを設定してください（1回のみ有効、"
        f"有効期限 {expires}）。\n{invitation.link}\n\n"
        "お心当たりのない場合は、このメールを破棄してください。\n"
    )
    en = (
        f"Dear {invitation.contact_name or invitation.username},\n\n"
        f'Your mamori security pack tenant "{invitation.tenant_name}" is ready.\n'
        f"Administrator username: {invitation.username}\n\n"
        f"Open this link to choose your password (it works once, until {expires}):\n"
        f"{invitation.link}\n\n"
        "If you did not expect this message, please delete it.\n"
    )
    subject_ja = f"【mamori】管理者アカウントのご案内（{invitation.tenant_name}）"
    subject_en = f"[mamori] Your administrator account ({invitation.tenant_name})"
    separator = "\n" + "-" * 40 + "\n"
    if lang == "en":
        return f"{subject_en} / {subject_ja}", en + separator + ja
    return f"{subject_ja} / {subject_en}", ja + separator + en


def build_message(invitation: Invitation, *, sender: str, lang: Lang = "ja") -> EmailMessage:
    subject, body = invitation_text(invitation, lang)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = invitation.to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body, charset="utf-8")
    return message


class SmtpRelay(smtp.SmtpRelay):
    """The pack's relay (:class:`mamori.smtp.SmtpRelay`), failing as an :class:`InvitationError`."""

    __slots__ = ()

    def send(self, message: EmailMessage) -> None:
        """Raises:
        InvitationError: the relay could not be reached or refused the message.
        """
        try:
            refused = self.deliver(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise InvitationError(
                f"招待メールを送信できませんでした (could not send the invitation via "
                f"{self.host}:{self.port}: {exc})"
            ) from exc
        if refused:
            raise InvitationError(
                f"招待メールの宛先が拒否されました (the relay refused {', '.join(refused)})"
            )


__all__ = [
    "DEFAULT_VALID",
    "INVITE_PATH",
    "Invitation",
    "InvitationError",
    "InvitationUnusableError",
    "SmtpRelay",
    "build_message",
    "check_usable",
    "hash_token",
    "invitation_link",
    "invitation_text",
    "new_token",
    "same_hash",
]
