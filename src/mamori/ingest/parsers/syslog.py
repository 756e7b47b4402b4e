"""Syslog files and messages: RFC 5424 and RFC 3164 (BSD), with Linux programs mapped.

Header fields become ``facility``, ``severity``, ``hostname``, ``program``, ``pid``,
``msgid``, ``sd.<SD-ID>.<param>`` and ``message``. Messages of known programs (sshd,
sudo, auditd, netfilter, Postfix) gain their own fields (``user``, ``src_ip``...) and
data type (``auth:sshd``...); see :mod:`mamori.ingest.programs`.

Options: ``timezone`` (IANA name or offset) for timestamps that carry none (BSD syslog
never does; default UTC), ``encoding`` (default UTF-8).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any, ClassVar

from mamori.ingest.base import ParseContext, parsers
from mamori.ingest.lines import LineParser, sniff_lines
from mamori.ingest.programs import enrich
from mamori.ingest.syslog_format import looks_like_syslog, parse_syslog
from mamori.ingest.timeparse import get_tz
from mamori.model import Event


@parsers.register
class SyslogParser(LineParser):
    """RFC 5424 / RFC 3164 syslog, one message per line."""

    NAME: ClassVar[str] = "syslog"
    DATA_TYPE: ClassVar[str] = "syslog"
    DESCRIPTION: ClassVar[str] = "Syslog RFC 3164/5424 (sshd, sudo, auditd, netfilter mapped)"
    PRIORITY: ClassVar[int] = 90  # broad: tried after the specific formats

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.tz: tzinfo = get_tz(options.get("timezone"))

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return sniff_lines(head, looks_like_syslog)

    def parse_line(self, line: str, context: ParseContext, lineno: int) -> Event | None:
        msg = parse_syslog(line, default_tz=self.tz, reference=context.received_at)
        fields: dict[str, Any] = msg.fields()
        data_type, extra = enrich(msg.app_name, msg.message)
        fields.update(extra)
        return self.make_event(
            fields,
            line=line,
            context=context,
            lineno=lineno,
            timestamp=msg.timestamp,
            host=msg.hostname,
            data_type=data_type,
        )


__all__ = ["SyslogParser"]
