"""Observables (IPs, domains, hashes, users, hosts) pulled out of an alert's fields."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from mamori.model import Alert
from mamori.respond.models import Observable, ObservableKind

USER_FIELDS = (
    "User",
    "user",
    "user.name",
    "username",
    "UserName",
    "TargetUserName",
    "SubjectUserName",
    "AccountName",
    "src_user",
    "dst_user",
)
HOST_FIELDS = (
    "Computer",
    "ComputerName",
    "hostname",
    "host.name",
    "Workstation",
    "WorkstationName",
)
DOMAIN_FIELDS = (
    "QueryName",
    "query",
    "domain",
    "dns.question.name",
    "DestinationHostname",
    "dst_host",
    "cs-host",
    "r-dns",
    "url.domain",
)
URL_FIELDS = ("url", "c-uri", "cs-uri", "Url", "TargetUrl", "request_url")
HASH_FIELD_HINTS = ("hash", "md5", "sha1", "sha256", "imphash")

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)(?!-)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$"
)
_NOT_USERS = {"", "-", "n/a", "none", "null"}
_HASH_LENGTHS = {32, 40, 64, 128}


def is_domain(value: str) -> bool:
    return bool(_DOMAIN.match(value.strip().rstrip(".").lower()))


def _ip(value: str) -> str | None:
    text = value.strip()
    if text.startswith("::ffff:"):
        text = text[7:]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if addr.is_unspecified:
        return None
    return str(addr)


def _hashes(value: str) -> list[str]:
    out = []
    for part in re.split(r"[,;\s]+", value):
        candidate = part.split("=", 1)[1] if "=" in part else part
        candidate = candidate.strip()
        if len(candidate) in _HASH_LENGTHS and _HEX.match(candidate):
            out.append(candidate.lower())
    return out


def _scalars(fields: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    for name, value in fields.items():
        if isinstance(value, str | int) and not isinstance(value, bool):
            yield name, str(value)
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, str):
                    yield name, item


def user_of(fields: Mapping[str, Any]) -> str | None:
    """The first user name found in ``fields`` (``DOMAIN\\user`` kept as is), or None."""
    for name in USER_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and value.strip().lower() not in _NOT_USERS:
            return value.strip()
    return None


def extract(alert: Alert) -> list[Observable]:
    """Every observable in the alert's event, matched fields and contributing events."""
    found: dict[Observable, None] = {}

    def add(kind: ObservableKind, value: str | None) -> None:
        if value:
            found.setdefault(Observable(kind, value), None)

    if alert.host:
        add(ObservableKind.HOST, alert.host.lower())
    for fields in (alert.event, alert.matched, *alert.events):
        if not isinstance(fields, Mapping):
            continue
        user = user_of(fields)
        if user:
            add(ObservableKind.USER, user)
        for name, value in _scalars(fields):
            low = name.lower()
            if name in HOST_FIELDS and value.strip():
                add(ObservableKind.HOST, value.strip().lower())
            if name in DOMAIN_FIELDS and is_domain(value):
                add(ObservableKind.DOMAIN, value.strip().rstrip(".").lower())
            if name in URL_FIELDS or value.startswith(("http://", "https://")):
                host = urlsplit(value.strip()).hostname or ""
                if is_domain(host):
                    add(ObservableKind.DOMAIN, host)
                elif _ip(host):
                    add(ObservableKind.IP, _ip(host))
            if any(h in low for h in HASH_FIELD_HINTS):
                for digest in _hashes(value):
                    add(ObservableKind.HASH, digest)
            ip = _ip(value) if len(value) <= 45 else None
            if ip:
                add(ObservableKind.IP, ip)
    return sorted(found)


__all__ = ["extract", "is_domain", "user_of"]
