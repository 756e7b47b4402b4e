"""E-mail over SMTP (optionally STARTTLS and login)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from mamori.respond.errors import NotifyError
from mamori.respond.notify.base import Notification, Notifier, notifiers


@notifiers.register
class EmailNotifier(Notifier):
    NAME = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int = 25,
        sender: str,
        to: tuple[str, ...] = (),
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.to = to
        self.starttls = starttls
        self.username = username
        self.password = password
        self.timeout = timeout

    @property
    def target(self) -> str:
        return f"smtp://{self.host}:{self.port} → {', '.join(self.to) or '-'}"

    def message(self, notification: Notification) -> EmailMessage:
        recipients = notification.to or self.to
        if not recipients:
            raise NotifyError("e-mail notification has no recipients")
        msg = EmailMessage()
        msg["Subject"] = notification.subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(recipients)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        if notification.incident_id:
            msg["X-Mamori-Incident"] = notification.incident_id
        msg.set_content(notification.text)
        if notification.html:
            msg.add_alternative(notification.html, subtype="html")
        return msg

    def send(self, notification: Notification) -> None:
        msg = self.message(notification)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            refused = smtp.send_message(msg)
        if refused:
            raise NotifyError(f"SMTP server refused recipients: {', '.join(sorted(refused))}")


__all__ = ["EmailNotifier"]
