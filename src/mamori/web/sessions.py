"""The signed session cookie: who is logged in, since when, the CSRF token, UI choices.

The cookie is signed (itsdangerous) with the instance secret and carries its own issue
time; a session older than ``settings.session_max_age`` is refused regardless of what the
browser sends. It also carries a fingerprint of the user's password hash, so changing a
password ends the user's other sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

from mamori.config import Settings

COOKIE_NAME = "mamori_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


@dataclass
class WebSession:
    """The decoded cookie. ``uid`` is ``None`` for an anonymous (pre-login) session."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    iat: int = field(default_factory=lambda: int(time.time()))
    uid: int | None = None
    pw: str = ""
    lang: str | None = None
    tenant: int | None = None
    fresh: bool = True  # not read from a cookie: must be sent to the browser

    def to_payload(self) -> dict[str, Any]:
        return {
            "csrf": self.csrf,
            "iat": self.iat,
            "uid": self.uid,
            "pw": self.pw,
            "lang": self.lang,
            "tenant": self.tenant,
        }

    def check_csrf(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, str(token))


class SessionCodec:
    """Encode and decode :class:`WebSession` cookies; ``clock`` is injectable for tests."""

    def __init__(
        self, secret: str, max_age: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._serializer = URLSafeSerializer(secret, salt="mamori.session")
        self.max_age = max_age
        self.clock = clock

    def encode(self, session: WebSession) -> str:
        return self._serializer.dumps(session.to_payload())

    def decode(self, value: str | None) -> WebSession | None:
        """The session in a cookie, or ``None`` if it is forged, malformed or expired."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        try:
            iat = int(data["iat"])
            csrf = str(data["csrf"])
            uid = data.get("uid")
            tenant = data.get("tenant")
            session = WebSession(
                csrf=csrf,
                iat=iat,
                uid=int(uid) if uid is not None else None,
                pw=str(data.get("pw") or ""),
                lang=data.get("lang") if data.get("lang") in ("ja", "en") else None,
                tenant=int(tenant) if tenant is not None else None,
                fresh=False,
            )
        except (KeyError, TypeError, ValueError):
            return None
        age = self.clock() - session.iat
        if age > self.max_age or age < -60:
            return None
        return session

    def new(self, **values: Any) -> WebSession:
        return WebSession(iat=int(self.clock()), **values)


def codec_for(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.session_codec
    return codec


def load_session(request: Request) -> WebSession:
    """The request's session (cached), or a new anonymous one when there is none."""
    cached = getattr(request.state, "web_session", None)
    if isinstance(cached, WebSession):
        return cached
    codec = codec_for(request)
    session = codec.decode(request.cookies.get(COOKIE_NAME)) or codec.new()
    request.state.web_session = session
    return session


def store_session(request: Request, response: Response, session: WebSession) -> None:
    """Send ``session`` as the cookie (HttpOnly, SameSite=Lax, Secure behind TLS)."""
    settings: Settings = request.app.state.settings
    codec = codec_for(request)
    request.state.web_session = session
    response.set_cookie(
        COOKIE_NAME,
        codec.encode(session),
        max_age=max(1, codec.max_age - int(codec.clock() - session.iat)),
        httponly=True,
        samesite="lax",
        secure=settings.behind_tls,
        path="/",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")


__all__ = [
    "COOKIE_NAME",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SessionCodec",
    "WebSession",
    "clear_session",
    "load_session",
    "password_fingerprint",
    "store_session",
]
