"""Linux audit log (``/var/log/audit/audit.log``): ``type=... msg=audit(ts:serial): k=v ...``.

Field names stay auditd's own (``type``, ``syscall``/``SYSCALL``, ``exe``, ``comm``,
``a0``..., ``key``, ``auid``...) as Sigma's ``service: auditd`` rules use them; hex-encoded
arguments and ``proctitle`` are decoded. ``audit_serial`` ties the records of one event.
Syslog-forwarded audit lines (``audispd``) are read too.
"""

from __future__ import annotations

import re
from typing import ClassVar

from mamori.errors import ParseError
from mamori.ingest.base import ParseContext, parsers
from mamori.ingest.lines import LineParser, sniff_lines
from mamori.ingest.programs import audit_fields
from mamori.ingest.syslog_format import looks_like_syslog, parse_syslog
from mamori.model import Event

_SNIFF = re.compile(r"(?:^|\s)type=[A-Z_]+\s+msg=audit\(\d+(?:\.\d+)?:\d+\)")


@parsers.register
class AuditdParser(LineParser):
    """Linux auditd records, one per line."""

    NAME: ClassVar[str] = "auditd"
    DATA_TYPE: ClassVar[str] = "linux:auditd"
    DESCRIPTION: ClassVar[str] = "Linux audit.log (auditd)"
    PRIORITY: ClassVar[int] = 20

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return sniff_lines(head, lambda line: bool(_SNIFF.search(line)))

    def parse_line(self, line: str, context: ParseContext, lineno: int) -> Event | None:
        text = line
        host = None
        if not text.startswith(("type=", "node=")) and looks_like_syslog(text):
            msg = parse_syslog(text, reference=context.received_at)
            text, host = msg.message, msg.hostname
        if text.startswith("node="):
            node, _, text = text.partition(" ")
            host = node[5:] or host
        fields, timestamp = audit_fields(text.removeprefix("audit: "))
        if not fields:
            raise ParseError("not an audit record (expected type=... msg=audit(...))")
        return self.make_event(
            fields, line=line, context=context, lineno=lineno, timestamp=timestamp, host=host
        )


__all__ = ["AuditdParser"]
