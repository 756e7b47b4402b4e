"""Apache/Nginx access logs: combined, common and vhost_combined formats.

Fields carry the names SigmaHQ ``category: webserver`` rules use: ``c-ip``,
``cs-username``, ``cs-method``, ``cs-uri`` (path and query), ``cs-uri-stem``,
``cs-uri-query`` (without ``?``), ``cs-version``, ``sc-status``, ``sc-bytes``,
``cs-referer``, ``cs-user-agent``, ``cs-host`` (vhost_combined); plus ``src_ip``.
Fields after the user agent (response time, upstream...) are kept in ``extra``.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any, ClassVar

from mamori.errors import ParseError
from mamori.ingest.base import ParseContext, parsers
from mamori.ingest.lines import LineParser, sniff_lines
from mamori.ingest.timeparse import MONTHS, parse_offset
from mamori.model import Event

_Q = r'"((?:[^"\\]|\\.)*)"'
_LINE = re.compile(
    r"^(?:(?P<vhost>[^\s:]+(?::\d+)?) )?(?P<ip>\S+) (?P<ident>\S+) (?P<user>\S+) "
    r"\[(?P<time>[^\]]+)\] " + _Q.replace("(", "(?P<request>", 1) + r" (?P<status>\d{3}|-) "
    r"(?P<bytes>\d+|-)"
    r"(?: " + _Q.replace("(", "(?P<referer>", 1) + " " + _Q.replace("(", "(?P<agent>", 1) + r")?"
    r"(?P<extra>.*)$"
)
_TIME = re.compile(
    r"^(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))? ([+-]\d{4})$"
)
_UNESCAPE = re.compile(r'\\(["\\])')


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(lambda m: m.group(1), text) if "\\" in text else text


@functools.lru_cache(maxsize=4096)  # busy logs repeat the same second many times
def parse_clf_time(text: str) -> datetime:
    """``10/Oct/2000:13:55:36 -0700`` (Common Log Format time).

    Raises:
        ParseError: the text is not such a time.
    """
    m = _TIME.match(text)
    if not m or m.group(2).lower() not in MONTHS:
        raise ParseError(f"bad access-log time [{text[:40]}]")
    tz = parse_offset(m.group(8))
    if tz is None:
        raise ParseError(f"bad time zone in access-log time [{text[:40]}]")
    try:
        return datetime(
            int(m.group(3)),
            MONTHS[m.group(2).lower()],
            int(m.group(1)),
            int(m.group(4)),
            int(m.group(5)),
            int(m.group(6)),
            int(((m.group(7) or "") + "000000")[:6]),
            tzinfo=tz,
        )
    except ValueError as exc:
        raise ParseError(f"impossible access-log time [{text[:40]}]") from exc


@parsers.register
class WebAccessParser(LineParser):
    """Apache/Nginx combined and common access logs."""

    NAME: ClassVar[str] = "web_access"
    DATA_TYPE: ClassVar[str] = "web:access"
    DESCRIPTION: ClassVar[str] = "Apache/Nginx access log (combined/common)"
    PRIORITY: ClassVar[int] = 40

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return sniff_lines(head, lambda line: bool(_LINE.match(line)))

    def parse_line(self, line: str, context: ParseContext, lineno: int) -> Event | None:
        m = _LINE.match(line)
        if not m:
            raise ParseError("not an access-log line (combined/common format)")
        timestamp = parse_clf_time(m.group("time"))
        fields: dict[str, Any] = {"c-ip": m.group("ip"), "src_ip": m.group("ip")}
        if m.group("user") != "-":
            fields["cs-username"] = m.group("user")
        request = _unescape(m.group("request"))
        fields["cs-request"] = request
        parts = request.split(" ")
        if len(parts) >= 2 and parts[0].isalpha():
            fields["cs-method"] = parts[0]
            uri = " ".join(parts[1:-1]) if len(parts) >= 3 else parts[1]
            if len(parts) >= 3:
                fields["cs-version"] = parts[-1]
            fields["cs-uri"] = uri
            stem, sep, query = uri.partition("?")
            fields["cs-uri-stem"] = stem
            if sep:
                fields["cs-uri-query"] = query
        if m.group("status") != "-":
            fields["sc-status"] = int(m.group("status"))
        if m.group("bytes") != "-":
            fields["sc-bytes"] = int(m.group("bytes"))
        if m.group("referer") is not None:
            referer = _unescape(m.group("referer"))
            if referer != "-":
                fields["cs-referer"] = referer
            agent = _unescape(m.group("agent"))
            if agent != "-":
                fields["cs-user-agent"] = agent
        if m.group("vhost"):
            fields["cs-host"] = m.group("vhost")
        extra = m.group("extra").strip()
        if extra:
            fields["extra"] = extra
        return self.make_event(
            fields, line=line, context=context, lineno=lineno, timestamp=timestamp
        )


__all__ = ["WebAccessParser", "parse_clf_time"]
