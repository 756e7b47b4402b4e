"""Delivery to the next hop (the real mail server) with smtplib."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RelayResult:
    """How delivery went. ``code``/``message`` is the SMTP reply to hand back upstream."""

    ok: bool
    code: int
    message: str
    refused: dict[str, tuple[int, str]]

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500

    def reply(self) -> str:
        return f"{self.code} {self.message}"


@dataclass(frozen=True, slots=True)
class NextHop:
    """The server mail goes to after scanning."""

    host: str = "127.0.0.1"
    port: int = 25
    timeout: float = 60.0
    starttls: bool = False  # use STARTTLS when the next hop offers it
    helo: str = "mamori"

    def send(self, mail_from: str, rcpt_tos: Sequence[str], data: bytes) -> RelayResult:
        """Deliver ``data``; never raises: failures come back as a 4xx/5xx RelayResult."""
        try:
            with smtplib.SMTP(
                self.host, self.port, timeout=self.timeout, local_hostname=self.helo
            ) as smtp:
                smtp.ehlo()
                if self.starttls and smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                refused = smtp.sendmail(mail_from, list(rcpt_tos), data)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {r: (int(c), _text(m)) for r, (c, m) in exc.recipients.items()}
            worst = min(codes.values(), key=lambda cm: -cm[0] if cm[0] >= 500 else cm[0])
            if any(400 <= c < 500 for c, _ in codes.values()):
                return RelayResult(False, 451, "4.4.0 next hop deferred recipients", codes)
            return RelayResult(False, worst[0], f"5.1.1 next hop refused: {worst[1]}", codes)
        except smtplib.SMTPResponseException as exc:
            code = int(exc.smtp_code)
            text = _text(exc.smtp_error)
            if 500 <= code < 600:
                return RelayResult(False, code, f"5.0.0 next hop: {text}", {})
            return RelayResult(False, 451, f"4.4.0 next hop: {code} {text}", {})
        except (OSError, smtplib.SMTPException) as exc:
            return RelayResult(False, 451, f"4.4.1 next hop unavailable: {exc}", {})
        refused_codes = {r: (int(c), _text(m)) for r, (c, m) in refused.items()}
        return RelayResult(True, 250, "2.0.0 OK: scanned and delivered", refused_codes)


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:200]


__all__ = ["NextHop", "RelayResult"]
