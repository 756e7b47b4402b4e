"""Slack- and Teams-style incoming webhooks (the URL is the secret)."""

from __future__ import annotations

import logging
import threading
from typing import Any, Literal

import httpx

from mamori.respond.errors import NotifyError
from mamori.respond.notify.base import Notification, Notifier, notifiers
from mamori.respond.notify.webhook import encode, post_json

ChatStyle = Literal["slack", "teams"]


class _RedactSecretUrls(logging.Filter):
    """Keeps incoming-webhook URLs (their path is the token) out of httpx's request log."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, url: str, shown: str) -> None:
        with self._lock:
            self.urls[url] = shown

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and self.urls:
            record.args = tuple(self.urls.get(str(a), a) for a in record.args)
        return True


_REDACT = _RedactSecretUrls()
logging.getLogger("httpx").addFilter(_REDACT)


@notifiers.register
class ChatWebhookNotifier(Notifier):
    NAME = "chat"

    def __init__(
        self,
        *,
        url: str,
        style: ChatStyle = "slack",
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        if style not in ("slack", "teams"):
            raise NotifyError(f"unknown chat style {style!r} (slack or teams)")
        self.url = url
        self.style = style
        _REDACT.add(url, self.target)
        self.transport = transport
        self.timeout = timeout

    @property
    def target(self) -> str:
        # incoming-webhook URLs embed their token: show only the host
        return f"{self.style}:{httpx.URL(self.url).host}"

    def payload(self, notification: Notification) -> dict[str, Any]:
        if self.style == "slack":
            return {
                "text": f"*{notification.subject}*\n{notification.text}",
                "blocks": [
                    {
                        "type": "header",
                        "text": {"type": "plain_text", "text": notification.subject[:150]},
                    },
                    {
                        "type": "section",
                        "text": {"type": "mrkdwn", "text": notification.text[:2900]},
                    },
                ],
            }
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": notification.subject,
            "title": notification.subject,
            "text": notification.text.replace("\n", "  \n"),
        }

    def send(self, notification: Notification) -> None:
        try:
            post_json(
                self.url,
                encode(self.payload(notification)),
                {},
                transport=self.transport,
                timeout=self.timeout,
            )
        except NotifyError as exc:  # the URL carries the token: never into logs or records
            raise NotifyError(str(exc).replace(self.url, self.target)) from None


__all__ = ["ChatWebhookNotifier"]
