"""Line-oriented parsing shared by the text parsers: framing, decoding, quarantine.

:class:`LineParser` turns a byte stream into lines and calls :meth:`LineParser.parse_line`
for each one. It enforces the parser contract for every text format at once: a line that
cannot be read (a :class:`~mamori.errors.ParseError`, an over-long line, or even a bug in
the subclass) becomes a :class:`~mamori.model.Quarantined` record with the reason and the
raw bytes, and parsing goes on with the next line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, BinaryIO, ClassVar

from mamori.errors import ParseError
from mamori.ingest.base import ParseContext, Parser
from mamori.model import Event, EventSink, Quarantined

UTF8_BOM = b"\xef\xbb\xbf"
DEFAULT_MAX_LINE = 1 << 20  # 1 MiB: far above any sane log line, bounds memory


def line_event_id(
    parser: str, tenant: str | None, location: str | None, lineno: int, line: str
) -> str:
    """``event_id_for(parser, tenant, location, str(lineno), line)`` in one hash call.

    Raises:
        UnicodeEncodeError: ``line`` holds a surrogate that ``surrogateescape`` cannot
            write (as :func:`~mamori.model.event_id_for` raises).
    """
    text = f"{parser}\x1f{tenant or ''}\x1f{location or ''}\x1f{lineno}\x1f{line}\x1f"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def iter_lines(
    stream: BinaryIO, max_line: int = DEFAULT_MAX_LINE
) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(line_number, line_without_eol, complete)`` for every line of ``stream``.

    A line longer than ``max_line`` bytes is yielded once, cut to ``max_line`` bytes with
    ``complete=False``; the rest of it is skipped up to the next newline, so memory stays
    bounded whatever the input.
    """
    lineno = 0
    while True:
        chunk = stream.readline(max_line + 1)
        if not chunk:
            return
        lineno += 1
        if len(chunk) > max_line and not chunk.endswith(b"\n"):
            head = chunk[:max_line]
            while True:  # skip the remainder of the over-long line
                rest = stream.readline(max_line)
                if not rest or rest.endswith(b"\n"):
                    break
            yield lineno, head, False
            continue
        yield lineno, chunk.rstrip(b"\r\n"), True


def decode(raw: bytes, encoding: str = "utf-8") -> tuple[str, bool]:
    """Decode one record; returns ``(text, had_errors)``.

    Invalid bytes become ``\\xNN`` escapes (visible and reversible, never dropped). NUL bytes
    are written as ``\\x00`` because databases refuse them in text columns.
    """
    try:
        text = raw.decode(encoding)
        errors = False
    except (UnicodeDecodeError, LookupError):
        text = raw.decode("utf-8", "backslashreplace")
        errors = True
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    return text, errors


def first_lines(head: bytes | str | list[str], limit: int = 5) -> list[str]:
    """Up to ``limit`` complete, non-empty lines of a sniffed head, decoded leniently.

    The head is normally bytes; text or a list of lines (plaso's other sniff form) work too.
    """
    if isinstance(head, list):
        return [line for line in head if line.strip()][:limit]
    if isinstance(head, str):
        head = head.encode("utf-8", "surrogateescape")
    if head.startswith(UTF8_BOM):
        head = head[3:]
    parts = head.split(b"\n")
    if len(parts) > 1:
        parts = parts[:-1]  # the last piece may be cut by the head size
    out: list[str] = []
    for part in parts:
        line = part.rstrip(b"\r").decode("utf-8", "replace").strip("\x00")
        if line.strip():
            out.append(line)
            if len(out) >= limit:
                break
    return out


def sniff_lines(
    head: bytes | str | list[str], predicate: Any, *, limit: int = 5, need: float = 0.6
) -> bool:
    """True if at least ``need`` of the first lines satisfy ``predicate`` (and one does)."""
    lines = first_lines(head, limit)
    if not lines:
        return False
    hits = sum(1 for line in lines if predicate(line))
    return hits > 0 and hits >= need * len(lines)


class LineParser(Parser):
    """Base for one-record-per-line formats.

    Subclasses implement :meth:`parse_line`, returning an :class:`Event` (or ``None`` for a
    line that carries nothing, such as a comment) and raising :class:`ParseError` with a
    human reason for a line they cannot read. :meth:`make_event` fills in the envelope.
    Options given to the constructor (from config) are kept in ``self.options``.
    """

    MAX_LINE: ClassVar[int] = DEFAULT_MAX_LINE

    def __init__(self, **options: Any) -> None:
        self.options: dict[str, Any] = options
        self.encoding: str = str(options.get("encoding", "utf-8"))

    def parse_line(self, line: str, context: ParseContext, lineno: int) -> Event | None:
        raise NotImplementedError

    def finish(self, sink: EventSink, context: ParseContext) -> None:  # noqa: B027 - optional hook
        """Called once at the end of the stream (for parsers that buffer)."""

    def parse(self, stream: BinaryIO, sink: EventSink, context: ParseContext) -> None:
        first = True
        for lineno, raw, complete in iter_lines(stream, self.MAX_LINE):
            if first:
                first = False
                if raw.startswith(UTF8_BOM):
                    raw = raw[3:]
            if not complete:
                self._quarantine(
                    sink, context, lineno, raw, f"line longer than {self.MAX_LINE} bytes (cut)"
                )
                continue
            self._one(raw, sink, context, lineno)
        self._finish(sink, context)

    def parse_message(self, raw: bytes, sink: EventSink, context: ParseContext) -> None:
        """Parse ``raw`` as one record even if it holds line breaks.

        For transports that frame messages themselves (syslog octet counting, UDP
        datagrams): a multi-line message stays one event.
        """
        if raw.startswith(UTF8_BOM):
            raw = raw[3:]
        self._one(raw.rstrip(b"\r\n"), sink, context, 1)
        self._finish(sink, context)

    def _one(self, raw: bytes, sink: EventSink, context: ParseContext, lineno: int) -> None:
        if not raw.strip(b"\x00 \t\r\n"):
            return
        text, errors = decode(raw.rstrip(b"\x00"), self.encoding)
        try:
            event = self.parse_line(text, context, lineno)
        except ParseError as exc:
            self._quarantine(sink, context, lineno, raw, exc.message)
            return
        except Exception as exc:  # a parser bug must not stop the pipeline
            reason = f"parser {self.NAME} failed: {type(exc).__name__}: {exc}"
            self._quarantine(sink, context, lineno, raw, reason)
            return
        if event is not None:
            if errors:
                event.fields.setdefault("decode_error", True)
            sink.event(event)

    def _finish(self, sink: EventSink, context: ParseContext) -> None:
        try:
            self.finish(sink, context)
        except Exception as exc:  # pragma: no cover - defensive, finish() of a subclass
            sink.warning(f"parser {self.NAME}: finishing failed: {type(exc).__name__}: {exc}")

    def _quarantine(
        self, sink: EventSink, context: ParseContext, lineno: int, raw: bytes, reason: str
    ) -> None:
        item = Quarantined(
            source=self.NAME,
            reason=reason,
            raw=raw,
            location=f"{context.location}:{lineno}",
            tenant=context.tenant,
        )
        if context.received_at is not None:
            item = replace(item, received_at=context.received_at)
        sink.quarantine(item)

    def make_event(
        self,
        fields: dict[str, Any],
        *,
        line: str,
        context: ParseContext,
        lineno: int,
        timestamp: datetime | None,
        host: str | None = None,
        data_type: str | None = None,
    ) -> Event:
        """An Event with the envelope filled in.

        Without a timestamp in the record, the time it was received is used (and
        ``timestamp_missing`` is set). The id depends on where the line was read
        (location and line number) and on its text, so re-reading the same file or
        re-delivering the same bus record gives the same id, while two identical lines
        stay two events.
        """
        if timestamp is None:
            timestamp = context.received_at or datetime.now(UTC)
            fields["timestamp_missing"] = True
        return Event(
            fields=fields,
            timestamp=timestamp,
            source=self.NAME,
            raw=line,
            data_type=data_type or self.DATA_TYPE,
            tenant=context.tenant,
            host=host or context.host,
            id=line_event_id(self.NAME, context.tenant, context.location, lineno, line),
        )


__all__ = [
    "DEFAULT_MAX_LINE",
    "LineParser",
    "decode",
    "first_lines",
    "iter_lines",
    "line_event_id",
    "sniff_lines",
]
