"""Notification templates (Jinja2) in Japanese and English.

Per kind and language three files in ``templates/<lang>/``: ``<kind>.subject.j2``,
``<kind>.txt.j2`` and ``<kind>.html.j2`` (the HTML one is autoescaped, the others are not).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from mamori.errors import NotFoundError
from mamori.respond.notify.base import Notification

JST = ZoneInfo("Asia/Tokyo")
LANGUAGES = ("ja", "en")
KINDS = ("incident_opened", "sla_breach", "page", "breach_reminder", "channel_test")


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("mamori.respond.notify", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=False,
)


def _local(value: datetime | None, lang: str = "ja") -> str:
    """Timestamps for people: JST in Japanese, UTC and JST in English."""
    if value is None:
        return "-"
    local = value.astimezone(JST).strftime("%Y-%m-%d %H:%M JST")
    if lang == "ja":
        return local
    return f"{value.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')} ({local})"


_ENV.filters["local"] = _local


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(kind: str, lang: str, context: dict[str, Any]) -> Rendered:
    """Render one notification kind. Raises NotFoundError for an unknown kind or language."""
    if lang not in LANGUAGES:
        raise NotFoundError(f"no notification language {lang!r} (known: {', '.join(LANGUAGES)})")
    try:
        subject = _ENV.get_template(f"{lang}/{kind}.subject.j2").render(context)
        text = _ENV.get_template(f"{lang}/{kind}.txt.j2").render(context)
        html = _ENV.get_template(f"{lang}/{kind}.html.j2").render(context)
    except jinja2.TemplateNotFound:
        raise NotFoundError(
            f"no notification template {kind!r} (known: {', '.join(KINDS)})"
        ) from None
    return Rendered(subject=" ".join(subject.split()), text=text.strip() + "\n", html=html)


def notification(
    kind: str,
    lang: str,
    *,
    tenant: str,
    context: dict[str, Any],
    to: tuple[str, ...] = (),
    incident_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> Notification:
    r = render(kind, lang, {"tenant": tenant, **context})
    return Notification(
        tenant=tenant,
        kind=kind,
        subject=r.subject,
        text=r.text,
        html=r.html,
        to=to,
        payload=payload or {},
        incident_id=incident_id,
    )


__all__ = ["KINDS", "LANGUAGES", "Rendered", "notification", "render"]
