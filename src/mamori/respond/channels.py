"""Per-tenant customer notification channels (the ``customer`` channel of playbooks).

A tenant (its administrators, or the MSSP's operators for it) keeps any number of
:class:`CustomerChannel` s: e-mail recipients (sent over the configured SMTP relay), a
generic webhook (JSON signed with an HMAC secret) or a Slack/Teams-style incoming webhook.
Each has a language (``ja`` default, ``en``) and the lowest incident severity it wants.

Secrets (the webhook's HMAC key; the incoming-webhook URL, which embeds its token) are
write-only: :meth:`CustomerChannel.public` never shows them, ``repr`` hides them, and the
SQL repository keeps them encrypted. :func:`notifier_for` turns a channel into the
:class:`~mamori.respond.notify.base.Notifier` that delivers to it.
"""

from __future__ import annotations

import builtins
import re
import secrets
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

import httpx

from mamori.errors import DuplicateError, NotFoundError, ValidationError
from mamori.model import Severity
from mamori.respond.errors import NotifyError
from mamori.respond.models import new_id
from mamori.respond.notify.base import Notification, Notifier
from mamori.respond.notify.chat import ChatWebhookNotifier
from mamori.respond.notify.email import EmailNotifier
from mamori.respond.notify.templates import LANGUAGES
from mamori.respond.notify.webhook import WebhookNotifier
from mamori.smtp import SmtpRelay

ChannelKind = Literal["email", "webhook", "chat"]
KINDS: tuple[ChannelKind, ...] = ("email", "webhook", "chat")
CHAT_STYLES = ("slack", "teams")
MAX_RECIPIENTS = 50
_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")


@dataclass(slots=True)
class CustomerChannel:
    """One place a tenant's notifications go.

    ``secret`` is the webhook's HMAC key; for ``chat`` the incoming-webhook URL itself is
    the secret and is kept in ``secret`` too (``url`` then holds only the host, for display).
    """

    id: str
    tenant: str
    name: str
    kind: ChannelKind
    lang: str = "ja"
    min_severity: Severity = Severity.MEDIUM
    enabled: bool = True
    recipients: tuple[str, ...] = ()
    url: str = ""
    style: str = "slack"
    secret: str = field(default="", repr=False)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str = ""

    def wants(self, severity: Severity) -> bool:
        """True when the channel is on and ``severity`` reaches its threshold."""
        return self.enabled and severity.rank >= self.min_severity.rank

    @property
    def has_secret(self) -> bool:
        return bool(self.secret)

    @property
    def target(self) -> str:
        """Where it goes, safe to show (no secret, no token)."""
        if self.kind == "email":
            return ", ".join(self.recipients)
        if self.kind == "chat":
            return f"{self.style}:{self.url}"
        return self.url.split("?", 1)[0]

    def public(self) -> dict[str, Any]:
        """The channel as the API and UI show it: never the secret."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "name": self.name,
            "kind": self.kind,
            "lang": self.lang,
            "min_severity": self.min_severity.value,
            "enabled": self.enabled,
            "recipients": list(self.recipients),
            "url": self.url if self.kind == "webhook" else "",
            "style": self.style if self.kind == "chat" else None,
            "target": self.target,
            "has_secret": self.has_secret,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "created_by": self.created_by,
        }


def _text(data: dict[str, Any], key: str, *, limit: int) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be text")
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(f"{key} is too long (at most {limit} characters)")
    return value


def _recipients(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = re.split(r"[,;\s]+", value) if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValidationError("recipients must be a list of e-mail addresses")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValidationError("recipients must be e-mail addresses")
        addr = item.strip()
        if not addr:
            continue
        if not _EMAIL.match(addr) or len(addr) > 254:
            raise ValidationError(f"not an e-mail address: {addr!r}")
        if addr.lower() not in {a.lower() for a in out}:
            out.append(addr)
    if len(out) > MAX_RECIPIENTS:
        raise ValidationError(f"at most {MAX_RECIPIENTS} recipients per channel")
    return tuple(out)


def _url(value: str, what: str) -> str:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ValidationError(f"{what} is not a URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValidationError(f"{what} must be an http:// or https:// URL")
    return value


def _bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "on", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("0", "false", "off", "no"):
        return False
    raise ValidationError("enabled must be true or false")


def apply_changes(
    channel: CustomerChannel, data: dict[str, Any], *, creating: bool = False
) -> CustomerChannel:
    """A copy of ``channel`` with the fields of ``data`` applied and checked.

    ``secret`` in ``data`` replaces the stored secret (an empty or missing one keeps it);
    a new webhook channel without one gets a generated secret (shown once, by the caller).

    Raises:
        ValidationError: a field is missing or wrong (the message names it).
    """
    out = replace(channel)
    if "name" in data or creating:
        out.name = _text(data, "name", limit=100)
        if not out.name:
            raise ValidationError("name is required")
    if "kind" in data or creating:
        kind = _text(data, "kind", limit=16)
        if kind not in KINDS:
            raise ValidationError(f"kind must be one of {', '.join(KINDS)}")
        if not creating and kind != channel.kind:
            raise ValidationError("the kind of a channel cannot change; make a new channel")
        out.kind = kind
    if "lang" in data:
        lang = _text(data, "lang", limit=8) or "ja"
        if lang not in LANGUAGES:
            raise ValidationError(f"lang must be one of {', '.join(LANGUAGES)}")
        out.lang = lang
    if "min_severity" in data:
        try:
            out.min_severity = Severity.parse(data.get("min_severity") or "medium")
        except ValueError as exc:
            raise ValidationError(f"min_severity: {exc}") from None
    if "enabled" in data:
        out.enabled = _bool(data.get("enabled"), out.enabled)
    secret = _text(data, "secret", limit=2000)
    if out.kind == "email":
        if "recipients" in data or creating:
            out.recipients = _recipients(data.get("recipients"))
        if not out.recipients:
            raise ValidationError("an e-mail channel needs at least one recipient")
    elif out.kind == "webhook":
        if "url" in data or creating:
            out.url = _url(_text(data, "url", limit=2000), "url")
        if secret:
            if len(secret) < 16:
                raise ValidationError("the webhook secret must be at least 16 characters")
            out.secret = secret
        elif not out.secret:
            out.secret = secrets.token_urlsafe(32)
    else:
        if "style" in data or creating:
            style = _text(data, "style", limit=8) or "slack"
            if style not in CHAT_STYLES:
                raise ValidationError(f"style must be one of {', '.join(CHAT_STYLES)}")
            out.style = style
        hook = _text(data, "url", limit=2000) or secret
        if hook:
            out.secret = _url(hook, "url")
            out.url = httpx.URL(hook).host
        if not out.secret:
            raise ValidationError("a chat channel needs its incoming-webhook URL")
    return out


def new_channel(tenant: str, data: dict[str, Any], *, actor: str, now: datetime) -> CustomerChannel:
    """A checked new channel from API/form data. Raises ValidationError."""
    blank = CustomerChannel(id=new_id("nch"), tenant=tenant, name="", kind="email")
    out = apply_changes(blank, data, creating=True)
    out.created_at = out.updated_at = now
    out.created_by = actor
    return out


class UnavailableNotifier(Notifier):
    """Stands for a channel that cannot be used now; every attempt fails with the reason,
    so the delivery is recorded as failed (visible) instead of being skipped."""

    NAME = "unavailable"

    def __init__(self, channel: CustomerChannel, reason: str) -> None:
        self.channel = channel
        self.reason = reason

    @property
    def target(self) -> str:
        return f"{self.channel.kind}:{self.channel.name}"

    def send(self, notification: Notification) -> None:
        del notification
        raise NotifyError(self.reason)


def notifier_for(
    channel: CustomerChannel,
    *,
    smtp: SmtpRelay | None,
    transport: httpx.BaseTransport | None = None,
) -> Notifier:
    """The notifier delivering to ``channel``. A channel that cannot be used (e-mail with
    no SMTP relay configured, a secret that cannot be read) gives a notifier that fails
    with the reason on every attempt."""
    if channel.kind == "email":
        if smtp is None or not smtp.host:
            return UnavailableNotifier(
                channel, "no SMTP relay configured (MAMORI_RESPOND_SMTP_HOST)"
            )
        return EmailNotifier(
            host=smtp.host,
            port=smtp.port,
            sender=smtp.sender,
            to=channel.recipients,
            starttls=smtp.starttls,
            username=smtp.username,
            password=smtp.password,
            timeout=smtp.timeout,
        )
    if not channel.secret:
        return UnavailableNotifier(
            channel, f"channel {channel.name!r} has no readable secret; set it again"
        )
    if channel.kind == "webhook":
        return WebhookNotifier(url=channel.url, secret=channel.secret, transport=transport)
    if channel.style == "teams":
        return ChatWebhookNotifier(url=channel.secret, style="teams", transport=transport)
    return ChatWebhookNotifier(url=channel.secret, style="slack", transport=transport)


@runtime_checkable
class ChannelRepo(Protocol):
    def add(self, channel: CustomerChannel) -> None:
        """Store a new channel. Raises DuplicateError when the tenant has one of that name."""

    def get(self, channel_id: str) -> CustomerChannel:
        """The channel with its secret. Raises NotFoundError."""

    def save(self, channel: CustomerChannel) -> None:
        """Store changes. Raises NotFoundError, DuplicateError (name taken)."""

    def delete(self, channel_id: str) -> None:
        """Raises NotFoundError."""

    def list(self, *, tenant: str | None = None) -> builtins.list[CustomerChannel]:
        """Channels (with secrets) ordered by tenant and name."""


class MemoryChannelRepo:
    def __init__(self) -> None:
        self._items: dict[str, CustomerChannel] = {}
        self._lock = threading.Lock()

    def _name_taken(self, channel: CustomerChannel) -> bool:
        return any(
            c.tenant == channel.tenant and c.name == channel.name and c.id != channel.id
            for c in self._items.values()
        )

    def add(self, channel: CustomerChannel) -> None:
        with self._lock:
            if channel.id in self._items or self._name_taken(channel):
                raise DuplicateError(f"a channel named {channel.name!r} already exists")
            self._items[channel.id] = replace(channel)

    def get(self, channel_id: str) -> CustomerChannel:
        with self._lock:
            try:
                return replace(self._items[channel_id])
            except KeyError:
                raise NotFoundError(f"channel {channel_id} not found") from None

    def save(self, channel: CustomerChannel) -> None:
        with self._lock:
            if channel.id not in self._items:
                raise NotFoundError(f"channel {channel.id} not found")
            if self._name_taken(channel):
                raise DuplicateError(f"a channel named {channel.name!r} already exists")
            self._items[channel.id] = replace(channel)

    def delete(self, channel_id: str) -> None:
        with self._lock:
            if self._items.pop(channel_id, None) is None:
                raise NotFoundError(f"channel {channel_id} not found")

    def list(self, *, tenant: str | None = None) -> builtins.list[CustomerChannel]:
        with self._lock:
            out = [replace(c) for c in self._items.values() if tenant in (None, c.tenant)]
        return sorted(out, key=lambda c: (c.tenant, c.name))


__all__ = [
    "CHAT_STYLES",
    "KINDS",
    "ChannelKind",
    "ChannelRepo",
    "CustomerChannel",
    "MemoryChannelRepo",
    "SmtpRelay",
    "UnavailableNotifier",
    "apply_changes",
    "new_channel",
    "notifier_for",
]
