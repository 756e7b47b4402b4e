"""Bulk intake (for ``POST /api/v1/ingest/{source}``): body -> raw records on the bus.

The web layer authenticates the ingest key, decides the tenant and calls
:func:`accept_bulk`; this module does the rest and never trusts the body:

* ``Content-Encoding: gzip`` is inflated in bounded steps; more than ``max_bytes`` of
  output (a gzip bomb, or just too much) raises :class:`PayloadTooLarge` (answer 413)
  before the memory is spent;
* the body is NDJSON (one JSON value per line) or one JSON array; the objects go, one per
  line and up to ``CHUNK_RECORDS`` per raw record, to the source's parser (so the source
  must name a line-oriented JSON parser such as ``json_lines``); a value that is not an
  object, or a line that is not JSON, is rejected - counted, and handed back as
  quarantined with its reason;
* records are published in one ``publish_many``: the call returns once they are durably
  queued (answer 2xx with the counts), or raises ``BusFull`` (answer 429/503 with
  ``Retry-After: exc.retry_after``) having stored nothing the client must not resend.

Record ids derive from the body's digest and the record's position, so a client that
retries the same request after a timeout does not create duplicates.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from mamori.bus.base import Bus, Message
from mamori.errors import ValidationError
from mamori.ingest.records import RawRecord
from mamori.model import Quarantined, event_id_for

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
CHUNK_RECORDS = 500
CHUNK_BYTES = 512 * 1024
_CHUNK = 64 * 1024


class PayloadTooLarge(ValidationError):
    """The (inflated) body is over the limit: HTTP 413."""


class BadPayload(ValidationError):
    """The body cannot be read at all (bad gzip, broken JSON array): HTTP 400."""


@dataclass
class IntakeResult:
    accepted: int = 0
    rejected: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)


def inflate(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The body without its content encoding, never more than ``max_bytes``.

    Raises:
        PayloadTooLarge: more than ``max_bytes`` (before or after inflating).
        BadPayload: an unknown encoding or a damaged gzip stream.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"body of {len(body)} bytes is over the {max_bytes} byte limit")
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise BadPayload(f"unsupported Content-Encoding {content_encoding!r}")
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"body of {len(body)} bytes is over the {max_bytes} byte limit")
    wbits = 31 if "gzip" in encoding else 15
    inflater = zlib.decompressobj(wbits)
    out = bytearray()
    data = body
    try:
        while data:
            out += inflater.decompress(data, _CHUNK)
            if len(out) > max_bytes:
                raise PayloadTooLarge(f"inflated body is over the {max_bytes} byte limit")
            data = inflater.unconsumed_tail
        out += inflater.flush(_CHUNK)
    except zlib.error as exc:
        raise BadPayload(f"damaged {encoding} body: {exc}") from exc
    if len(out) > max_bytes:
        raise PayloadTooLarge(f"inflated body is over the {max_bytes} byte limit")
    if not inflater.eof:
        raise BadPayload(f"truncated {encoding} body")
    return bytes(out)


def _value_of(line: bytes) -> object:
    """The JSON value of one line, as far as telling objects from the rest goes: orjson,
    and ``json`` (whose verdict and message count) for whatever orjson refuses.

    Raises:
        ValueError, RecursionError: not JSON.
    """
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def split_records(data: bytes) -> Iterator[tuple[int, bytes | None, str]]:
    """``(index, record_bytes_or_None, reason)`` for every record of an NDJSON/array body.

    Raises:
        BadPayload: the body starts as a JSON array but is not valid JSON.
    """
    text = data.lstrip()
    if text.startswith(b"\xef\xbb\xbf"):
        text = text[3:].lstrip()
    if text.startswith(b"["):
        try:
            items = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise BadPayload(f"body is not a valid JSON array: {exc}") from None
        if not isinstance(items, list):  # pragma: no cover - guarded by the "[" check
            raise BadPayload("body is not a JSON array")
        for i, item in enumerate(items):
            # ensure_ascii: a lone surrogate ("\ud800" in the body) stays an escape
            # instead of breaking the UTF-8 encoding
            if isinstance(item, dict):
                yield i, json.dumps(item).encode(), ""
            else:
                reason = f"JSON value is not an object (got {type(item).__name__})"
                yield i, json.dumps(item).encode(), reason
        return
    for i, line in enumerate(text.splitlines()):
        line = line.strip()
        if not line:
            continue
        try:
            value = _value_of(line)
        except (ValueError, RecursionError) as exc:
            yield i, line, f"invalid JSON: {exc}"
            continue
        if not isinstance(value, dict):
            yield i, line, f"JSON value is not an object (got {type(value).__name__})"
            continue
        yield i, line, ""


async def accept_bulk(
    bus: Bus,
    body: bytes,
    *,
    source: str,
    tenant: str,
    content_encoding: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    peer: str = "",
) -> IntakeResult:
    """Queue the records of a bulk body; see the module docstring.

    Raises:
        PayloadTooLarge, BadPayload: the body as a whole is refused (413 / 400).
        BusFull: the bus is over its limit (429/503 with Retry-After); nothing is stored.
    """
    data = inflate(body, content_encoding, max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    received = datetime.now(UTC)
    location = f"http://{peer}/api/v1/ingest/{source}" if peer else f"http-bulk/{source}"
    result = IntakeResult()
    messages: list[Message] = []
    chunk: list[bytes] = []
    chunk_bytes = 0

    def close_chunk() -> None:
        nonlocal chunk, chunk_bytes
        if chunk:
            rid = event_id_for("http-bulk", tenant, source, digest, str(len(messages)))
            record = RawRecord(
                data=b"\n".join(chunk) + b"\n",
                source=source,
                tenant=tenant,
                location=location,
                received_at=received,
                record_id=rid,
            )
            messages.append(record.to_message())
        chunk, chunk_bytes = [], 0

    for index, record, reason in split_records(data):
        if reason:
            result.rejected += 1
            result.quarantined.append(
                Quarantined(
                    source=source,
                    reason=reason,
                    raw=record or b"",
                    location=f"{location}#{index}",
                    tenant=tenant,
                    received_at=received,
                )
            )
            continue
        assert record is not None  # noqa: S101 - accepted records always carry bytes
        # objects travel in chunks (one bus message per CHUNK_RECORDS): the parser reads
        # them line by line, and the line numbers keep the event ids distinct and stable
        chunk.append(record)
        chunk_bytes += len(record)
        result.accepted += 1
        if len(chunk) >= CHUNK_RECORDS or chunk_bytes >= CHUNK_BYTES:
            close_chunk()
    close_chunk()
    if messages:
        await bus.publish_many(messages)
    return result


__all__ = [
    "DEFAULT_MAX_BYTES",
    "BadPayload",
    "IntakeResult",
    "PayloadTooLarge",
    "accept_bulk",
    "inflate",
    "split_records",
]
