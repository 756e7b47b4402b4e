"""Postfix maillog: queue id, sender, recipient, status, relay, client — correlated by queue id.

Every Postfix line becomes an event with ``queue_id``, ``from``, ``to``, ``status``
(``sent``/``deferred``/``bounced``...), ``relay`` (``relay_host``/``relay_ip``/
``relay_port``), ``client_host``/``client_ip`` (also ``src_ip``), ``message_id``, ``size``,
``dsn``, ``delay``. Lines of one message share a queue id: what earlier lines said
(client, message id, sender, size) is copied into later ones, so a delivery event names
who sent what from where. Rejections (``NOQUEUE: reject``) carry the reply and sender.
Other programs in the maillog (dovecot, opendkim...) are kept as plain syslog events.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import tzinfo
from typing import Any, ClassVar

from mamori.errors import ParseError
from mamori.ingest.base import ParseContext, parsers
from mamori.ingest.lines import LineParser, sniff_lines
from mamori.ingest.programs import enrich, postfix_fields
from mamori.ingest.syslog_format import looks_like_syslog, parse_syslog
from mamori.ingest.timeparse import get_tz
from mamori.model import Event

CARRIED = ("client_host", "client_ip", "src_ip", "message_id", "from", "size", "nrcpt")
MAX_OPEN_QUEUE_IDS = 50_000


def _is_postfix_line(line: str) -> bool:
    return looks_like_syslog(line) and " postfix/" in line or line.startswith("postfix/")


@parsers.register
class PostfixParser(LineParser):
    """Postfix maillog (syslog lines of ``postfix/*`` programs)."""

    NAME: ClassVar[str] = "postfix"
    DATA_TYPE: ClassVar[str] = "mail:postfix"
    DESCRIPTION: ClassVar[str] = "Postfix maillog, correlated by queue id"
    PRIORITY: ClassVar[int] = 20

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.tz: tzinfo = get_tz(options.get("timezone"))
        # queue id -> what earlier lines said about that message (bounded, oldest dropped)
        self.queue: OrderedDict[str, dict[str, Any]] = OrderedDict()

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return sniff_lines(head, _is_postfix_line, need=0.3)

    def parse_line(self, line: str, context: ParseContext, lineno: int) -> Event | None:
        if not looks_like_syslog(line):
            raise ParseError("not a syslog line (maillog lines start with a timestamp)")
        msg = parse_syslog(line, default_tz=self.tz, reference=context.received_at)
        fields: dict[str, Any] = msg.fields()
        program = msg.app_name or ""
        if not program.startswith("postfix"):
            data_type, extra = enrich(program, msg.message)
            fields.update(extra)
            return self.make_event(
                fields,
                line=line,
                context=context,
                lineno=lineno,
                timestamp=msg.timestamp,
                host=msg.hostname,
                data_type=data_type or "syslog",
            )
        fields.update(postfix_fields(msg.message))
        qid = fields.get("queue_id")
        if isinstance(qid, str):
            self._correlate(qid, fields)
        return self.make_event(
            fields,
            line=line,
            context=context,
            lineno=lineno,
            timestamp=msg.timestamp,
            host=msg.hostname,
        )

    def _correlate(self, qid: str, fields: dict[str, Any]) -> None:
        known = self.queue.get(qid)
        if known is not None:
            for key, value in known.items():
                fields.setdefault(key, value)
            self.queue.move_to_end(qid)
        else:
            known = {}
            self.queue[qid] = known
            while len(self.queue) > MAX_OPEN_QUEUE_IDS:
                self.queue.popitem(last=False)
        for key in CARRIED:
            if key in fields and not (key == "src_ip" and "client_ip" not in fields):
                known[key] = fields[key]
        if fields.get("event_type") == "mail_removed":
            self.queue.pop(qid, None)


__all__ = ["PostfixParser"]
