"""Firewall/UTM ``key=value`` logs (FortiGate, Sophos Firewall and alike), plain or in syslog.

Every pair is kept under its own key; the common ones are also given the names the rest
of mamori uses: ``src_ip``, ``dst_ip``, ``src_port``, ``dst_port``, ``protocol``,
``action``, ``user``, ``device`` (the reporting box), ``url``. The timestamp comes from
``eventtime``/``timestamp`` (epoch s/ms/us/ns) or ``date`` + ``time`` with ``tz``/
``timezone`` (or the ``timezone`` option, default UTC).
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Any, ClassVar

from mamori.errors import ParseError
from mamori.ingest.base import ParseContext, parsers
from mamori.ingest.kv import count_pairs, parse_kv
from mamori.ingest.lines import LineParser, sniff_lines
from mamori.ingest.syslog_format import parse_syslog
from mamori.ingest.timeparse import from_epoch, get_tz, parse_iso
from mamori.model import Event

ALIASES: dict[str, tuple[str, ...]] = {
    "src_ip": ("srcip", "src_ip", "src", "source_ip"),
    "dst_ip": ("dstip", "dst_ip", "dst", "destination_ip"),
    "src_port": ("srcport", "src_port", "spt"),
    "dst_port": ("dstport", "dst_port", "dpt"),
    "protocol": ("protocol", "proto", "service_protocol"),
    "action": ("action", "status", "fw_action"),
    "user": ("user", "user_name", "srcuser", "unauthuser"),
    "device": ("devname", "device_name", "device", "hostname_device"),
    "url": ("url", "requrl"),
    "dst_host": ("hostname", "dsthost", "domain"),
}
_PROTO_NUMBERS = {"1": "icmp", "6": "tcp", "17": "udp", "47": "gre", "50": "esp", "58": "ipv6-icmp"}
_FIRST_PAIR = re.compile(r"(?:^|\s)[A-Za-z_][A-Za-z0-9_.-]*=")
_STRONG_KEYS = ("devname=", "logid=", "log_type=", "log_id=", "device_name=", "log_component=")


def _looks_like_kv(line: str) -> bool:
    return count_pairs(line) >= 4 and (
        any(key in line for key in _STRONG_KEYS) or ("date=" in line and "time=" in line)
    )


@parsers.register
class UtmKvParser(LineParser):
    """FortiGate/Sophos-style ``key=value`` firewall logs."""

    NAME: ClassVar[str] = "utm_kv"
    DATA_TYPE: ClassVar[str] = "firewall:utm"
    DESCRIPTION: ClassVar[str] = "Firewall/UTM key=value logs (FortiGate, Sophos)"
    PRIORITY: ClassVar[int] = 30

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.tz: tzinfo = get_tz(options.get("timezone"))

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return sniff_lines(head, _looks_like_kv)

    def parse_line(self, line: str, context: ParseContext, lineno: int) -> Event | None:
        text = line
        header_ts = None
        host = None
        if text.startswith("<"):
            close = text.find(">")
            if 1 < close < 5 and text[1:close].isdigit():
                text = text[close + 1 :]
        m = _FIRST_PAIR.search(text)
        if m is None:
            raise ParseError("no key=value pairs in the line")
        if m.start() > 0:  # a syslog header before the pairs
            msg = parse_syslog(
                text[: m.start()].rstrip() + " -", default_tz=self.tz, reference=context.received_at
            )
            header_ts, host = msg.timestamp, msg.hostname
            text = text[m.start() :]
        pairs = parse_kv(text)
        if len(pairs) < 2:
            raise ParseError("fewer than two key=value pairs in the line")
        fields: dict[str, Any] = dict(pairs)
        for target, names in ALIASES.items():
            for name in names:
                value = pairs.get(name)
                if value not in (None, ""):
                    fields[target] = value
                    break
        for port in ("src_port", "dst_port"):
            if isinstance(fields.get(port), str) and fields[port].isdigit():
                fields[port] = int(fields[port])
        if "protocol" in fields:
            proto = str(fields["protocol"])
            fields["protocol"] = _PROTO_NUMBERS.get(proto, proto.lower())
        timestamp = self._timestamp(pairs) or header_ts
        return self.make_event(
            fields,
            line=line,
            context=context,
            lineno=lineno,
            timestamp=timestamp,
            host=str(fields.get("device") or host or "") or None,
        )

    def _timestamp(self, pairs: dict[str, str]) -> datetime | None:
        for key in ("eventtime", "timestamp", "epoch"):
            value = pairs.get(key)
            if value and value.replace(".", "", 1).isdigit():
                return from_epoch(value)
        date, time = pairs.get("date"), pairs.get("time")
        if not date or not time:
            return None
        tz = self.tz
        zone = pairs.get("tz") or pairs.get("timezone")
        if zone:
            try:
                tz = get_tz(zone)
            except ParseError:
                tz = self.tz
        return parse_iso(f"{date.replace('/', '-')}T{time}", tz)


__all__ = ["UtmKvParser"]
