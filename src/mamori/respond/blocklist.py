"""Blocklists for C2 blocking, and their renderers: nftables set, DNS RPZ zone, Squid ACLs.

Entries are per tenant (or global with ``tenant=None``), may expire, and remember why and
by whom they were added. Renderers produce complete files for the enforcing component to
load (``nft -f``, a BIND/Unbound RPZ zone, ``acl ... dstdomain "/path"`` files in Squid).
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlsplit

from mamori.errors import NotFoundError, ValidationError
from mamori.model import utc
from mamori.respond.models import new_id
from mamori.respond.observables import is_domain


class IndicatorKind(StrEnum):
    IP = "ip"  # an address or a network (CIDR)
    DOMAIN = "domain"
    URL = "url"
    HASH = "hash"


_HEX = re.compile(r"^[0-9a-f]{32}$|^[0-9a-f]{40}$|^[0-9a-f]{64}$")


def normalise_indicator(kind: IndicatorKind | str, value: str) -> tuple[IndicatorKind, str]:
    """Validate and canonicalise an indicator. Raises ValidationError with the reason."""
    try:
        k = IndicatorKind(kind)
    except ValueError:
        known = ", ".join(x.value for x in IndicatorKind)
        raise ValidationError(f"unknown indicator kind {kind!r} (known: {known})") from None
    text = str(value).strip()
    if k is IndicatorKind.IP:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValidationError(f"not an IP address or network: {value!r}") from None
        if net.prefixlen == 0:
            raise ValidationError(f"refusing to block everything: {value!r}")
        if net.num_addresses == 1:
            return k, str(net.network_address)
        return k, str(net)
    if k is IndicatorKind.DOMAIN:
        domain = text.rstrip(".").lower()
        if domain.startswith("*."):
            domain = domain[2:]
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValidationError(f"not a domain name: {value!r}") from None
        if not is_domain(domain):
            raise ValidationError(f"not a domain name: {value!r}")
        return k, domain
    if k is IndicatorKind.URL:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(f"not an http(s) URL: {value!r}")
        return k, text
    low = text.lower()
    if not _HEX.match(low):
        raise ValidationError(f"not an MD5/SHA-1/SHA-256 hash: {value!r}")
    return k, low


@dataclass(frozen=True, slots=True)
class BlockEntry:
    id: str
    tenant: str | None
    kind: IndicatorKind
    value: str
    reason: str
    added_by: str
    added_at: datetime
    expires_at: datetime | None = None
    incident_id: str | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > utc(now)


class BlocklistRepo(Protocol):
    def add(self, entry: BlockEntry) -> BlockEntry:
        """Add, or return the existing active entry for the same tenant, kind and value."""

    def remove(self, entry_id: str) -> BlockEntry: ...

    def list(
        self, *, tenant: str | None = None, now: datetime | None = None, include_global: bool = True
    ) -> list[BlockEntry]: ...


class MemoryBlocklist:
    def __init__(self) -> None:
        self._items: dict[str, BlockEntry] = {}
        self._lock = threading.Lock()

    def add(self, entry: BlockEntry) -> BlockEntry:
        with self._lock:
            for e in self._items.values():
                if (e.tenant, e.kind, e.value) == (
                    entry.tenant,
                    entry.kind,
                    entry.value,
                ) and e.active(entry.added_at):
                    return e
            self._items[entry.id] = entry
            return entry

    def remove(self, entry_id: str) -> BlockEntry:
        with self._lock:
            try:
                return self._items.pop(entry_id)
            except KeyError:
                raise NotFoundError(f"blocklist entry {entry_id} not found") from None

    def list(
        self, *, tenant: str | None = None, now: datetime | None = None, include_global: bool = True
    ) -> list[BlockEntry]:
        with self._lock:
            items = list(self._items.values())
        out = [
            e
            for e in items
            if (tenant is None or e.tenant == tenant or (include_global and e.tenant is None))
            and (now is None or e.active(now))
        ]
        return sorted(out, key=lambda e: (e.kind.value, e.value))


def new_entry(
    kind: IndicatorKind | str,
    value: str,
    *,
    tenant: str | None,
    reason: str,
    added_by: str,
    now: datetime,
    expires_at: datetime | None = None,
    incident_id: str | None = None,
) -> BlockEntry:
    k, v = normalise_indicator(kind, value)
    return BlockEntry(
        id=new_id("blk"),
        tenant=tenant,
        kind=k,
        value=v,
        reason=reason,
        added_by=added_by,
        added_at=utc(now),
        expires_at=expires_at,
        incident_id=incident_id,
    )


def _unique(entries: Iterable[BlockEntry], kind: IndicatorKind) -> list[str]:
    return sorted({e.value for e in entries if e.kind is kind})


def render_nftables(
    entries: Iterable[BlockEntry], *, table: str = "mamori", set_name: str = "c2"
) -> str:
    """An ``nft -f`` file defining ``inet <table>`` with ``<set>_v4``/``<set>_v6`` interval sets.

    The file flushes and refills the sets, so loading it again replaces the contents.
    """
    ips = _unique(entries, IndicatorKind.IP)
    v4 = [i for i in ips if ipaddress.ip_network(i).version == 4]
    v6 = [i for i in ips if ipaddress.ip_network(i).version == 6]
    lines = [
        "# generated by mamori — do not edit",
        f"table inet {table} {{",
        f"\tset {set_name}_v4 {{",
        "\t\ttype ipv4_addr",
        "\t\tflags interval",
    ]
    if v4:
        lines.append("\t\telements = { " + ", ".join(v4) + " }")
    lines += ["\t}", f"\tset {set_name}_v6 {{", "\t\ttype ipv6_addr", "\t\tflags interval"]
    if v6:
        lines.append("\t\telements = { " + ", ".join(v6) + " }")
    lines += [
        "\t}",
        "\tchain forward_block {",
        "\t\ttype filter hook forward priority -10; policy accept;",
        f"\t\tip daddr @{set_name}_v4 counter drop",
        f"\t\tip6 daddr @{set_name}_v6 counter drop",
        "\t}",
        "\tchain output_block {",
        "\t\ttype filter hook output priority -10; policy accept;",
        f"\t\tip daddr @{set_name}_v4 counter drop",
        f"\t\tip6 daddr @{set_name}_v6 counter drop",
        "\t}",
        "}",
    ]
    header = [f"table inet {table}", f"delete table inet {table}"]
    return "\n".join(header + lines) + "\n"


def _rpz_ip(value: str) -> str:
    net = ipaddress.ip_network(value)
    if net.version == 4:
        return (
            f"{net.prefixlen}."
            + ".".join(reversed(str(net.network_address).split(".")))
            + ".rpz-ip"
        )
    groups = net.network_address.exploded.split(":")
    compressed = [g.lstrip("0") or "0" for g in groups]
    return f"{net.prefixlen}." + ".".join(reversed(compressed)) + ".rpz-ip"


def render_rpz(
    entries: Iterable[BlockEntry],
    *,
    origin: str = "rpz.mamori.local",
    serial: int = 1,
    ttl: int = 300,
) -> str:
    """A DNS RPZ zone: blocked domains (and subdomains) answer NXDOMAIN; blocked IPs too."""
    entries = list(entries)
    lines = [
        "; generated by mamori — do not edit",
        f"$TTL {ttl}",
        f"$ORIGIN {origin.rstrip('.')}.",
        f"@ IN SOA localhost. hostmaster.localhost. ( {serial} 3600 600 86400 {ttl} )",
        "@ IN NS localhost.",
    ]
    for domain in _unique(entries, IndicatorKind.DOMAIN):
        lines.append(f"{domain} CNAME .")
        lines.append(f"*.{domain} CNAME .")
    for ip in _unique(entries, IndicatorKind.IP):
        lines.append(f"{_rpz_ip(ip)} CNAME .")
    return "\n".join(lines) + "\n"


def render_squid(entries: Iterable[BlockEntry], *, prefix: str = "mamori_block") -> dict[str, str]:
    """Squid ACL files: ``dstdomain``, ``dst`` and ``url_regex`` lists, one entry per line.

    squid.conf::

        acl mamori_block_domains dstdomain "/etc/squid/mamori_block_domains.acl"
        acl mamori_block_ips dst "/etc/squid/mamori_block_ips.acl"
        acl mamori_block_urls url_regex -i "/etc/squid/mamori_block_urls.acl"
        http_access deny mamori_block_domains
        http_access deny mamori_block_ips
        http_access deny mamori_block_urls
    """
    entries = list(entries)
    listed = _unique(entries, IndicatorKind.DOMAIN)
    # ".example.com" covers the domain and its subdomains; Squid refuses a covered sub-entry
    domains = [
        d for d in listed if not any(d.endswith("." + parent) for parent in listed if parent != d)
    ]
    return {
        f"{prefix}_domains.acl": "".join(f".{d}\n" for d in domains),
        f"{prefix}_ips.acl": "".join(f"{i}\n" for i in _unique(entries, IndicatorKind.IP)),
        f"{prefix}_urls.acl": "".join(
            f"^{re.escape(u)}\n" for u in _unique(entries, IndicatorKind.URL)
        ),
    }


__all__ = [
    "BlockEntry",
    "BlocklistRepo",
    "IndicatorKind",
    "MemoryBlocklist",
    "new_entry",
    "normalise_indicator",
    "render_nftables",
    "render_rpz",
    "render_squid",
]
