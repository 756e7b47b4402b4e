"""E-mail over SMTP (optionally STARTTLS and login)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from mamori.respond.errors import NotifyError
from mamori.respond.notify.base import Notification, Notifier, notifiers
from mamori.smtp import SmtpRelay


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
        relay = SmtpRelay(
            host=self.host,
            port=self.port,
            sender=self.sender,
            starttls=self.starttls,
            username=self.username or "",
            password=self.password or "",
            timeout=self.timeout,
        )
        refused = relay.deliver(self.message(notification))
        if refused:
            raise NotifyError(f"SMTP server refused recipients: {', '.join(sorted(refused))}")


__all__ = ["EmailNotifier"]
