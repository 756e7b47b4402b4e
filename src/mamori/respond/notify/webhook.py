"""Generic webhook: JSON body signed with HMAC-SHA256.

Headers: ``X-Mamori-Timestamp`` (Unix seconds) and ``X-Mamori-Signature``
(``sha256=<hex of HMAC(secret, timestamp + "." + body)>``). Receivers check with
:func:`verify_signature`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from mamori.respond.errors import NotifyError
from mamori.respond.notify.base import Notification, Notifier, notifiers

SIGNATURE_HEADER = "X-Mamori-Signature"
TIMESTAMP_HEADER = "X-Mamori-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> bool:
    """True when ``signature`` is ours for ``body`` and the timestamp is recent enough."""
    try:
        age = abs((now if now is not None else time.time()) - float(timestamp))
    except ValueError:
        return False
    if age > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def post_json(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    transport: httpx.BaseTransport | None,
    timeout: float,
) -> httpx.Response:
    """POST and raise :class:`NotifyError` on a non-2xx answer or a transport error."""
    try:
        with httpx.Client(transport=transport, timeout=timeout) as client:
            response = client.post(
                url, content=body, headers={"Content-Type": "application/json", **headers}
            )
    except httpx.HTTPError as exc:
        raise NotifyError(f"POST {url} failed: {type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise NotifyError(f"POST {url} answered HTTP {response.status_code}")
    return response


def encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")


@notifiers.register
class WebhookNotifier(Notifier):
    NAME = "webhook"

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not secret:
            raise NotifyError("webhook notifier needs a signing secret")
        self.url = url
        self.secret = secret
        self.transport = transport
        self.timeout = timeout

    @property
    def target(self) -> str:
        return self.url.split("?", 1)[0]

    def body(self, notification: Notification) -> bytes:
        return encode(
            {
                "kind": notification.kind,
                "tenant": notification.tenant,
                "incident_id": notification.incident_id,
                "subject": notification.subject,
                "text": notification.text,
                "data": notification.payload,
            }
        )

    def send(self, notification: Notification) -> None:
        body = self.body(notification)
        ts = str(int(time.time()))
        try:
            post_json(
                self.url,
                body,
                {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(self.secret, ts, body)},
                transport=self.transport,
                timeout=self.timeout,
            )
        except NotifyError as exc:  # a query string may carry a token: show the target only
            raise NotifyError(str(exc).replace(self.url, self.target)) from None


__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookNotifier",
    "encode",
    "post_json",
    "sign",
    "verify_signature",
]
