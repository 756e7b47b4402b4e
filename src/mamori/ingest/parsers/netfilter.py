"""Linux netfilter LOG lines (iptables/nftables/ufw) from the kernel log or syslog.

``IN= OUT= SRC= DST= PROTO= SPT= DPT=`` become ``in_interface``, ``out_interface``,
``src_ip``, ``dst_ip``, ``protocol`` (lower case), ``src_port``, ``dst_port``; the log prefix
(``[UFW BLOCK]``) is kept as ``log_prefix`` and gives ``action`` (blocked/allowed) when it
says so. Other keys are kept under their own names; bare flags (``DF SYN``) in ``flags``.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any, ClassVar

from mamori.errors import ParseError
from mamori.ingest.base import ParseContext, parsers
from mamori.ingest.lines import LineParser, sniff_lines
from mamori.ingest.programs import netfilter_fields
from mamori.ingest.syslog_format import looks_like_syslog, parse_syslog
from mamori.ingest.timeparse import get_tz
from mamori.model import Event

_SNIFF = re.compile(r"(?:^|\s)IN=\S*\s+OUT=\S*\s.*\bSRC=\S+\s+DST=\S+")


@parsers.register
class NetfilterParser(LineParser):
    """netfilter/iptables kernel log lines (plain or inside syslog)."""

    NAME: ClassVar[str] = "netfilter"
    DATA_TYPE: ClassVar[str] = "firewall:netfilter"
    DESCRIPTION: ClassVar[str] = "Linux netfilter/iptables/ufw kernel log"
    PRIORITY: ClassVar[int] = 20

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.tz: tzinfo = get_tz(options.get("timezone"))

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return sniff_lines(head, lambda line: bool(_SNIFF.search(line)))

    def parse_line(self, line: str, context: ParseContext, lineno: int) -> Event | None:
        timestamp = None
        host = None
        message = line
        header: dict[str, Any] = {}
        if looks_like_syslog(line):
            msg = parse_syslog(line, default_tz=self.tz, reference=context.received_at)
            timestamp, host, message = msg.timestamp, msg.hostname, msg.message
            header = msg.fields()
            header.pop("message", None)
        fields = netfilter_fields(message)
        if not fields:
            raise ParseError("no netfilter fields (IN= OUT= SRC= DST=) in the line")
        header.update(fields)
        return self.make_event(
            header, line=line, context=context, lineno=lineno, timestamp=timestamp, host=host
        )


__all__ = ["NetfilterParser"]
