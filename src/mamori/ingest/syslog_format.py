"""The syslog envelope: RFC 5424 and RFC 3164 (BSD) headers, shared by every syslog-borne format.

:func:`parse_syslog` splits one message into its header (priority, timestamp, host,
program, pid, message id, structured data) and the free-text message. Parsers for
formats that travel inside syslog (netfilter, Postfix, UTM key=value...) use it to strip
the envelope before reading their own part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from mamori.errors import ParseError
from mamori.ingest.timeparse import MONTHS, get_tz, infer_year, parse_iso

FACILITIES = (
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
)
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

_PRI = re.compile(r"^<(\d{1,3})>")
_5424 = re.compile(r"^(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+)(?: |$)")
_BSD_TS = re.compile(
    r"^([A-Z][a-z]{2})\s+(\d{1,2})(?:\s+(\d{4}))?\s+(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:\s+(UTC|GMT|JST|KST|[+-]\d{2}:?\d{2}))?(?::)?(?=\s|$)"
)
_ISO_TS = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|z|[+-]\d{2}:?\d{2})?)(?=\s|$)"
)
_TAG = re.compile(r"^([^\s\[\]:]{1,64}?)(?:\[([^\]\s]{0,32})\])?:(?:\s|$)")
_HOSTNAME = re.compile(r"^[A-Za-z0-9_.:%@-]{1,255}$")


@dataclass(slots=True)
class SyslogMessage:
    """One syslog message split into header and message."""

    message: str
    facility: int | None = None
    severity: int | None = None
    timestamp: datetime | None = None
    hostname: str | None = None
    app_name: str | None = None
    procid: str | None = None
    msgid: str | None = None
    structured_data: dict[str, dict[str, str]] = field(default_factory=dict)
    version: int | None = None  # 1 for RFC 5424, None for BSD/RFC 3164

    def fields(self) -> dict[str, object]:
        """The header as flat event fields (Sigma/ECS-ish names)."""
        out: dict[str, object] = {}
        if self.facility is not None:
            out["facility"] = FACILITIES[self.facility] if self.facility < 24 else self.facility
        if self.severity is not None:
            out["severity"] = SEVERITIES[self.severity]
        if self.hostname:
            out["hostname"] = self.hostname
        if self.app_name:
            out["program"] = self.app_name
        if self.procid:
            out["pid"] = self.procid
        if self.msgid:
            out["msgid"] = self.msgid
        for sd_id, params in self.structured_data.items():
            if not params:
                out[f"sd.{sd_id}"] = True
            for name, value in params.items():
                out[f"sd.{sd_id}.{name}"] = value
        out["message"] = self.message
        out["syslog_format"] = "rfc5424" if self.version else "rfc3164"
        return out


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _parse_sd(text: str) -> tuple[dict[str, dict[str, str]], str]:
    """Structured data at the start of ``text``; returns it and the rest of the text."""
    out: dict[str, dict[str, str]] = {}
    if text.startswith("-"):
        return out, text[1:]
    pos = 0
    n = len(text)
    while pos < n and text[pos] == "[":
        end_id = pos + 1
        while end_id < n and text[end_id] not in " ]":
            end_id += 1
        sd_id = text[pos + 1 : end_id]
        if not sd_id or end_id >= n:
            raise ParseError("malformed RFC 5424 structured data (SD-ID)")
        params: dict[str, str] = {}
        pos = end_id
        while pos < n and text[pos] == " ":
            pos += 1
            eq = text.find("=", pos)
            if eq < 0 or eq + 1 >= n or text[eq + 1] != '"':
                raise ParseError("malformed RFC 5424 structured data (PARAM)")
            name = text[pos:eq]
            pos = eq + 2
            value: list[str] = []
            while True:
                if pos >= n:
                    raise ParseError("unterminated RFC 5424 structured data value")
                ch = text[pos]
                if ch == "\\" and pos + 1 < n and text[pos + 1] in '"\\]':
                    value.append(text[pos + 1])
                    pos += 2
                    continue
                if ch == '"':
                    pos += 1
                    break
                value.append(ch)
                pos += 1
            params[name] = "".join(value)
        if pos >= n or text[pos] != "]":
            raise ParseError("malformed RFC 5424 structured data (missing ']')")
        pos += 1
        out[sd_id] = params
    if not out:
        raise ParseError("malformed RFC 5424 structured data")
    return out, text[pos:]


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def parse_syslog(
    line: str,
    *,
    default_tz: tzinfo = UTC,
    reference: datetime | None = None,
) -> SyslogMessage:
    """Split a syslog line into header and message.

    ``default_tz`` applies to timestamps without an offset (BSD syslog has none);
    ``reference`` (when the record was received) gives the year BSD timestamps omit.
    A line with no recognisable header at all is returned as a message with no timestamp.

    Raises:
        ParseError: a header that is present but broken (priority above 191, malformed
            RFC 5424 structured data, impossible date).
    """
    facility = severity = None
    rest = line
    m = _PRI.match(rest)
    if m:
        pri = int(m.group(1))
        if pri > 191:
            raise ParseError(f"invalid syslog priority <{pri}>")
        facility, severity = divmod(pri, 8)
        rest = rest[m.end() :]
        m5 = _5424.match(rest)
        if m5 and m5.group(1) != "0" and (m5.group(2) == "-" or m5.group(2)[:1].isdigit()):
            version = int(m5.group(1))
            ts_text = m5.group(2)
            timestamp = None if ts_text == "-" else parse_iso(ts_text, default_tz)
            after = rest[m5.end() :]
            sd, after = _parse_sd(after) if after else ({}, "")
            if after.startswith(" "):
                after = after[1:]
            return SyslogMessage(
                message=_strip_bom(after),
                facility=facility,
                severity=severity,
                timestamp=timestamp,
                hostname=_nil(m5.group(3)),
                app_name=_nil(m5.group(4)),
                procid=_nil(m5.group(5)),
                msgid=_nil(m5.group(6)),
                structured_data=sd,
                version=version,
            )
    rest = _strip_bom(rest.lstrip(" "))
    timestamp = None
    mt = _BSD_TS.match(rest)
    if mt and mt.group(1).lower() in MONTHS:
        timestamp = _bsd_timestamp(mt, default_tz, reference)
        rest = rest[mt.end() :].lstrip(" ")
    else:
        mi = _ISO_TS.match(rest)
        if mi:
            timestamp = parse_iso(mi.group(1), default_tz)
            rest = rest[mi.end() :].lstrip(" ")
    hostname = app_name = procid = None
    if timestamp is not None or facility is not None:
        tag = _TAG.match(rest)
        if not tag and timestamp is not None:
            first, sep, after = rest.partition(" ")
            if sep and _HOSTNAME.match(first):
                hostname, rest = first, after
                tag = _TAG.match(rest)
        if tag:
            app_name, procid = tag.group(1), tag.group(2) or None
            rest = rest[tag.end() :]
    return SyslogMessage(
        message=_strip_bom(rest),
        facility=facility,
        severity=severity,
        timestamp=timestamp,
        hostname=hostname,
        app_name=app_name,
        procid=procid,
    )


def _bsd_timestamp(m: re.Match[str], tz: tzinfo, reference: datetime | None) -> datetime:
    month = MONTHS[m.group(1).lower()]
    day = int(m.group(2))
    zone = m.group(8)
    if zone:
        tz = get_tz(zone)
    year = (
        int(m.group(3))
        if m.group(3)
        else infer_year(month, day, reference or datetime.now(UTC), tz)
    )
    frac = int(((m.group(7) or "") + "000000")[:6])
    try:
        value = datetime(
            year, month, day, int(m.group(4)), int(m.group(5)), int(m.group(6)), frac, tzinfo=tz
        )
    except ValueError as exc:
        raise ParseError(f"impossible syslog timestamp {m.group(0)!r}: {exc}") from exc
    return value.astimezone(UTC)


def looks_like_syslog(line: str) -> bool:
    """Cheap test used by sniffers: a PRI, a BSD timestamp or an ISO timestamp up front."""
    if _PRI.match(line):
        return True
    mt = _BSD_TS.match(line)
    if mt and mt.group(1).lower() in MONTHS:
        return True
    return bool(_ISO_TS.match(line)) and " " in line


__all__ = ["FACILITIES", "SEVERITIES", "SyslogMessage", "looks_like_syslog", "parse_syslog"]
