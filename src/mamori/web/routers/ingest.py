"""HTTP bulk intake: ``POST /api/v1/ingest/{source}`` with an ``ingest`` API key.

The key decides the tenant (a ``tenant``/``tenant_id`` parameter naming another tenant
is refused). The body is NDJSON or one JSON array, optionally gzip-compressed; it is
read and inflated with a hard limit (413 beyond it), split into records and queued on the
bus (:func:`mamori.ingest.intake.accept_bulk`). The answer comes once the records are
durably queued: 200 with the counts of accepted and rejected records. While the bus is
over its high-water mark the answer is 429 (503 when the bus is unavailable), with
``Retry-After``, and nothing is queued - the client sends the same body again later;
record ids derive from the body, so a resent body is stored once.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from mamori.bus.base import Bus, BusError, BusFull, Message
from mamori.bus.subjects import quarantine_subject
from mamori.bus.watermark import over_high_water
from mamori.config import Settings
from mamori.errors import MamoriError, PermissionDeniedError
from mamori.ingest.config import IngestConfig
from mamori.ingest.intake import BadPayload, IntakeResult, PayloadTooLarge, accept_bulk
from mamori.ingest.sinks import quarantined_to_dict
from mamori.model import event_id_for
from mamori.web.deps import (
    Principal,
    SessionDep,
    client_ip,
    require_key,
    resolve_principal,
)
from mamori.web.schemas.ingest import IngestResultPublic, RejectedRecord

router = APIRouter(tags=["ingest"])

#: Parsers that read one JSON object per line (what the intake hands them).
BULK_PARSERS = frozenset({"json_lines", "windows_json"})
MAX_REJECTIONS_SHOWN = 20
SOURCE_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

_ingest_key = require_key("ingest")


def ingest_principal(request: Request, session: SessionDep) -> Principal:
    """An ``ingest`` API key. A logged-in person is known but not allowed (403).

    Raises:
        NotAuthenticatedError: no or invalid credentials.
        PermissionDeniedError: a login session or a key of another purpose.
    """
    no_key = request.headers.get("authorization") is None
    if no_key and resolve_principal(request, session) is not None:
        raise PermissionDeniedError("this endpoint needs an ingest API key, not a login")
    return _ingest_key(request, session)


IngestPrincipal = Annotated[Principal, Depends(ingest_principal)]


def _problem(status: int, detail: str, retry_after: float | None = None) -> JSONResponse:
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else None
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _ingest_config(request: Request) -> IngestConfig:
    config = getattr(request.app.state, "ingest_config", None)
    if not isinstance(config, IngestConfig):
        config = IngestConfig.load()
        request.app.state.ingest_config = config
    return config


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, never more than ``limit`` bytes of it in memory.

    Raises:
        PayloadTooLarge: the (compressed) body is over the limit.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit} byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"body is over the {limit} byte limit")
    return bytes(body)


def _quarantine_messages(result: IntakeResult) -> list[Message]:
    out = []
    for item in result.quarantined:
        key = event_id_for("quarantine", item.source, item.tenant, item.location, item.raw)
        data = quarantined_to_dict(item)
        data["record_key"] = key
        body = json.dumps(data, ensure_ascii=False).encode()
        out.append(Message(quarantine_subject(item.tenant, item.source), body, key))
    return out


def _check_tenant(principal: Principal, tenant: str | None, tenant_id: int | None) -> str:
    key = principal.api_key
    assert key is not None  # noqa: S101 - guaranteed by ingest_principal
    slug = key.tenant.slug
    if (tenant is not None and tenant != slug) or (
        tenant_id is not None and tenant_id != key.tenant_id
    ):
        raise PermissionDeniedError("this ingest key belongs to another tenant")
    return slug


@router.post(
    "/api/v1/ingest/{source}",
    response_model=IngestResultPublic,
    responses={
        400: {"description": "The body cannot be read (bad gzip, broken JSON array)"},
        413: {"description": "The (inflated) body is over the size limit"},
        429: {"description": "Back-pressure: retry after Retry-After seconds"},
        503: {"description": "The bus is unavailable: retry after Retry-After seconds"},
    },
)
async def ingest_bulk(
    request: Request,
    principal: IngestPrincipal,
    source: Annotated[str, Path(pattern=SOURCE_PATTERN)],
    tenant: Annotated[str | None, Query(max_length=63)] = None,
    tenant_id: int | None = None,
) -> Any:
    """Queue the JSON records of the body for ``source`` (a JSON-lines source or parser)."""
    settings: Settings = request.app.state.settings
    slug = _check_tenant(principal, tenant, tenant_id)
    try:
        found = _ingest_config(request).source(source)
    except MamoriError as exc:
        return _problem(404, exc.message)
    if found.parser not in BULK_PARSERS:
        return _problem(
            422,
            f"source {source!r} uses the {found.parser} parser; bulk intake takes JSON"
            f" records for a source read by {' or '.join(sorted(BULK_PARSERS))}",
        )
    bus: Bus | None = getattr(request.app.state, "bus", None)
    if bus is None:
        return _problem(503, "the bus is not running", retry_after=5)
    if over_high_water(bus, settings.ingest_high_water):
        return _problem(429, "intake is busy (queue over its limit); retry later", 2)
    limit = settings.ingest_max_body_bytes
    try:
        body = await _read_body(request, limit)
        result = await accept_bulk(
            bus,
            body,
            source=source,
            tenant=slug,
            content_encoding=request.headers.get("content-encoding"),
            max_bytes=limit,
            peer=client_ip(request),
        )
        quarantined = _quarantine_messages(result)
        if quarantined:
            await bus.publish_many(quarantined)
    except PayloadTooLarge as exc:
        return _problem(413, exc.message)
    except BadPayload as exc:
        return _problem(400, exc.message)
    except BusFull as exc:
        return _problem(429, f"intake is busy: {exc.message}", exc.retry_after)
    except BusError as exc:
        return _problem(503, f"the bus cannot store records now: {exc.message}", 5)
    return IngestResultPublic(
        accepted=result.accepted,
        rejected=result.rejected,
        source=source,
        tenant=slug,
        rejections=[
            RejectedRecord(index=_index(q.location), reason=q.reason)
            for q in result.quarantined[:MAX_REJECTIONS_SHOWN]
        ],
    )


def _index(location: str) -> int:
    tail = location.rpartition("#")[2]
    return int(tail) if tail.isdigit() else -1


__all__ = ["BULK_PARSERS", "ingest_principal", "router"]
