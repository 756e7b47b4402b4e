"""The mail gateway: an SMTP content filter (aiosmtpd) in front of the real mail server."""

from mamori.scan.mail.gateway import MailGateway, MailGatewayConfig
from mamori.scan.mail.message import MailPart, ParsedMessage, parse_message
from mamori.scan.mail.ppap import HoldStore, candidate_passwords

__all__ = [
    "HoldStore",
    "MailGateway",
    "MailGatewayConfig",
    "MailPart",
    "ParsedMessage",
    "candidate_passwords",
    "parse_message",
]
