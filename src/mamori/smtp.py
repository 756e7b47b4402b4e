"""The SMTP relay the pack sends its own mail through (the ``respond_smtp_*`` settings).

One description for every sender of mamori's own mail (customer notification channels,
administrator invitations), so the settings are read in one place.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Self

from mamori.config import Settings


@dataclass(frozen=True, slots=True)
class SmtpRelay:
    host: str
    port: int = 25
    sender: str = "mamori@localhost"
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Self | None:
        """The configured relay, or ``None`` when ``respond_smtp_host`` is not set."""
        if not settings.respond_smtp_host:
            return None
        return cls(
            host=settings.respond_smtp_host,
            port=settings.respond_smtp_port,
            sender=settings.respond_smtp_from,
            starttls=settings.respond_smtp_starttls,
            username=settings.respond_smtp_username or "",
            password=settings.respond_smtp_password or "",
        )

    def deliver(self, message: EmailMessage) -> dict[str, Any]:
        """Send ``message``; returns the recipients the relay refused (empty: all taken).

        Raises:
            OSError, smtplib.SMTPException: the relay could not be reached or refused all.
        """
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            return dict(smtp.send_message(message))


__all__ = ["SmtpRelay"]
