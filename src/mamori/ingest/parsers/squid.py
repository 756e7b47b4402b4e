"""Squid native access log (``logformat squid``).

``time elapsed remotehost code/status bytes method URL rfc931 peerstatus/peerhost type``.
Fields follow SigmaHQ ``category: proxy``: ``c-ip``/``src_ip``, ``cs-method``, ``c-uri``,
``cs-host``, ``c-uri-stem``, ``c-uri-query``, ``c-uri-extension``, ``sc-status``,
``sc-bytes``, ``dst_ip`` (from the peer), plus ``squid_result`` (``TCP_MISS``),
``squid_hierarchy``, ``elapsed_ms``, ``user`` and ``content_type``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from mamori.errors import ParseError
from mamori.ingest.base import ParseContext, parsers
from mamori.ingest.lines import LineParser, sniff_lines
from mamori.model import Event

_LINE = re.compile(
    r"^(?P<time>\d{9,11}\.\d{1,6})\s+(?P<elapsed>-?\d+) (?P<client>\S+) "
    r"(?P<result>[A-Z_]+|NONE)/(?P<status>\d{3}) (?P<bytes>\d+) (?P<method>\S+) (?P<url>\S+)"
    r"(?: (?P<user>\S+))?(?: (?P<hier>[A-Z_]+)/(?P<peer>\S+))?(?: (?P<type>\S+))?\s*$"
)
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


@parsers.register
class SquidParser(LineParser):
    """Squid native access.log."""

    NAME: ClassVar[str] = "squid"
    DATA_TYPE: ClassVar[str] = "proxy:squid"
    DESCRIPTION: ClassVar[str] = "Squid native access log"
    PRIORITY: ClassVar[int] = 30

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return sniff_lines(head, lambda line: bool(_LINE.match(line)))

    def parse_line(self, line: str, context: ParseContext, lineno: int) -> Event | None:
        m = _LINE.match(line)
        if not m:
            raise ParseError("not a Squid native access-log line")
        try:
            timestamp = datetime.fromtimestamp(float(m.group("time")), UTC)
        except (OverflowError, OSError, ValueError) as exc:  # pragma: no cover - regex-bounded
            raise ParseError(f"bad Squid time {m.group('time')!r}") from exc
        url = m.group("url")
        fields: dict[str, Any] = {
            "c-ip": m.group("client"),
            "src_ip": m.group("client"),
            "squid_result": m.group("result"),
            "sc-status": int(m.group("status")),
            "sc-bytes": int(m.group("bytes")),
            "cs-method": m.group("method"),
            "c-uri": url,
            "elapsed_ms": int(m.group("elapsed")),
        }
        if m.group("method").upper() == "CONNECT" and "://" not in url:
            host, _, port = url.rpartition(":")
            fields["cs-host"] = host or url
            if port.isdigit():
                fields["dst_port"] = int(port)
        else:
            try:
                parts = urlsplit(url)
                hostname = parts.hostname
                port_number = parts.port
            except ValueError:
                parts, hostname, port_number = None, None, None
            if parts is not None:
                if hostname:
                    fields["cs-host"] = hostname
                fields["c-uri-stem"] = parts.path
                if parts.query:
                    fields["c-uri-query"] = parts.query
                last = parts.path.rsplit("/", 1)[-1]
                if "." in last:
                    fields["c-uri-extension"] = last.rsplit(".", 1)[-1].lower()
                if port_number:
                    fields["dst_port"] = port_number
        if fields.get("cs-host"):
            fields["r-dns"] = fields["cs-host"]
        user = m.group("user")
        if user and user != "-":
            fields["user"] = user
        if m.group("hier"):
            fields["squid_hierarchy"] = m.group("hier")
            peer = m.group("peer")
            if peer and peer != "-":
                fields["peer"] = peer
                if _IPV4.match(peer) or ":" in peer:
                    fields["dst_ip"] = peer
        if m.group("type") and m.group("type") != "-":
            fields["content_type"] = m.group("type")
        return self.make_event(
            fields, line=line, context=context, lineno=lineno, timestamp=timestamp
        )


__all__ = ["SquidParser"]
