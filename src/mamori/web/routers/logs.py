"""Stored logs: event search (``/api/v1/events``, the ログ page), event detail, and the
quarantine of records no parser could read (``/api/v1/log-quarantine``, ``/logs/quarantine``).

Everything is limited to the caller's tenants (:class:`~mamori.web.deps.TenantScope`);
events of other tenants are reported as missing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from mamori.errors import ValidationError
from mamori.store.repos import ingest as repo
from mamori.store.tables import StoredEvent
from mamori.web.dashboard import PANELS, DashboardPanel, PanelValue
from mamori.web.deps import CurrentUserPrincipal, SessionDep, TenantScope, TenantScopeDep
from mamori.web.schemas.ingest import (
    EventList,
    EventPublic,
    QuarantineCount,
    QuarantinedPublic,
    QuarantineList,
)
from mamori.web.templating import DISPLAY_ZONE, render

router = APIRouter(tags=["logs"])

PAGE = 50
RAW_SHOWN = 4000


def parse_field_filters(values: list[str]) -> dict[str, str]:
    """``["EventID=4625", "user=alice"]`` -> ``{"EventID": "4625", "user": "alice"}``.

    Raises:
        ValidationError: an entry without ``=`` or with an empty name.
    """
    out: dict[str, str] = {}
    for value in values:
        name, sep, wanted = value.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValidationError(f"field filter {value!r} must read name=value")
        out[name] = wanted.strip()
    return out


def _aware(value: datetime | None) -> datetime | None:
    """Times without a zone are Japan time (what the ログ page's inputs show)."""
    if value is None:
        return None
    return value.replace(tzinfo=DISPLAY_ZONE) if value.tzinfo is None else value


def _next(offset: int, limit: int, more: bool) -> int | None:
    return offset + limit if more else None


@router.get("/api/v1/events", response_model=EventList)
def search_events_api(
    session: SessionDep,
    scope: TenantScopeDep,
    start: Annotated[datetime | None, Query(description="From (inclusive); ISO 8601")] = None,
    end: Annotated[datetime | None, Query(description="Until (exclusive); ISO 8601")] = None,
    host: Annotated[str | None, Query(max_length=255)] = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=500, description="Text in the raw record")] = None,
    field: Annotated[list[str], Query(description="name=value, repeatable")] = [],  # noqa: B006
    tenant_id: int | None = None,
    limit: Annotated[int, Query(gt=0, le=repo.MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> EventList:
    """Stored events, newest first, filtered; ``next_offset`` pages on."""
    query = repo.EventQuery(
        tenant_ids=scope.ids_for(tenant_id),
        start=_aware(start),
        end=_aware(end),
        host=host or None,
        source=source or None,
        text=q or None,
        fields=parse_field_filters(field),
    )
    items, more = repo.search_events(session, query=query, limit=limit, offset=offset)
    return EventList(
        items=[EventPublic.model_validate(e) for e in items],
        limit=limit,
        offset=offset,
        next_offset=_next(offset, limit, more),
    )


@router.get("/api/v1/events/{log_id}", response_model=EventPublic)
def get_event_api(log_id: int, session: SessionDep, scope: TenantScopeDep) -> StoredEvent:
    return repo.get_event(session, row_id=log_id, tenant_ids=scope.tenant_ids)


@router.get("/api/v1/log-quarantine", response_model=QuarantineList)
def list_quarantine_api(
    session: SessionDep,
    scope: TenantScopeDep,
    source: Annotated[str | None, Query(max_length=100)] = None,
    tenant_id: int | None = None,
    limit: Annotated[int, Query(gt=0, le=repo.MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> QuarantineList:
    """Quarantined records, newest first (reason, location and the raw bytes)."""
    items, more = repo.list_quarantined(
        session, tenant_ids=scope.ids_for(tenant_id), source=source, limit=limit, offset=offset
    )
    return QuarantineList(
        items=[QuarantinedPublic.of(r) for r in items],
        limit=limit,
        offset=offset,
        next_offset=_next(offset, limit, more),
    )


@router.get("/api/v1/log-quarantine/count", response_model=QuarantineCount)
def count_quarantine_api(
    session: SessionDep,
    scope: TenantScopeDep,
    tenant_id: int | None = None,
    since: datetime | None = None,
) -> QuarantineCount:
    counts = repo.count_quarantined(session, tenant_ids=scope.ids_for(tenant_id), since=since)
    total = counts.pop("total")
    return QuarantineCount(total=total, by_source=counts)


# ---- pages --------------------------------------------------------------------------------


def _form_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"not a date and time: {value!r}") from exc
    return _aware(parsed)


@router.get("/logs", include_in_schema=False)
def logs_page(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
    start: Annotated[str | None, Query(max_length=40)] = None,
    end: Annotated[str | None, Query(max_length=40)] = None,
    host: Annotated[str | None, Query(max_length=255)] = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=500)] = None,
    fields: Annotated[str | None, Query(max_length=1000)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The ログ page: the search form and one page of results."""
    tenant_ids = scope.ui_ids()
    filters = parse_field_filters((fields or "").split()) if fields else {}
    query = repo.EventQuery(
        tenant_ids=tenant_ids,
        start=_form_time(start),
        end=_form_time(end),
        host=host or None,
        source=source or None,
        text=q or None,
        fields=filters,
    )
    items, more = repo.search_events(session, query=query, limit=PAGE, offset=offset)
    form = {
        "start": start or "",
        "end": end or "",
        "host": host or "",
        "source": source or "",
        "q": q or "",
        "fields": fields or "",
    }
    kept = {k: v for k, v in form.items() if v}
    pages = {
        "prev": f"/logs?{urlencode({**kept, 'offset': max(offset - PAGE, 0)})}" if offset else None,
        "next": f"/logs?{urlencode({**kept, 'offset': offset + PAGE})}" if more else None,
    }
    return render(
        request,
        "logs.html",
        {
            "events": items,
            "form": form,
            "pages": pages,
            "offset": offset,
            "sources": repo.event_sources(session, tenant_ids=tenant_ids),
            "quarantined": repo.count_quarantined(session, tenant_ids=tenant_ids)["total"],
            "now": datetime.now(UTC),
        },
        principal=principal,
        scope=scope,
        session=session,
        active="logs",
    )


@router.get("/logs/quarantine", include_in_schema=False)
def quarantine_page(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
    source: Annotated[str | None, Query(max_length=100)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Quarantined records: why each was refused and its raw bytes (escaped)."""
    tenant_ids = scope.ui_ids()
    items, more = repo.list_quarantined(
        session, tenant_ids=tenant_ids, source=source or None, limit=PAGE, offset=offset
    )
    counts = repo.count_quarantined(session, tenant_ids=tenant_ids)
    total = counts.pop("total")
    kept = {"source": source} if source else {}
    return render(
        request,
        "logs_quarantine.html",
        {
            "records": [QuarantinedPublic.of(r) for r in items],
            "total": total,
            "counts": counts,
            "raw_shown": RAW_SHOWN,
            "prev": f"/logs/quarantine?{urlencode({**kept, 'offset': max(offset - PAGE, 0)})}"
            if offset
            else None,
            "next": f"/logs/quarantine?{urlencode({**kept, 'offset': offset + PAGE})}"
            if more
            else None,
        },
        principal=principal,
        scope=scope,
        session=session,
        active="logs",
    )


@router.get("/logs/{log_id}", include_in_schema=False)
def event_page(
    log_id: int,
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    principal: CurrentUserPrincipal,
) -> Response:
    """One event: envelope, fields and the raw record."""
    event = repo.get_event(session, row_id=log_id, tenant_ids=scope.tenant_ids)
    return render(
        request,
        "log_event.html",
        {"event": event, "fields": sorted(event.fields.items())},
        principal=principal,
        scope=scope,
        session=session,
        active="logs",
    )


# ---- dashboard ----------------------------------------------------------------------------


def _events_last_day(session: Session, scope: TenantScope) -> PanelValue:
    since = datetime.now(UTC) - timedelta(days=1)
    query = repo.EventQuery(tenant_ids=scope.ui_ids(), start=since)
    return PanelValue(repo.count_events(session, query=query), "/logs")


def _quarantined(session: Session, scope: TenantScope) -> PanelValue:
    total = repo.count_quarantined(session, tenant_ids=scope.ui_ids())["total"]
    return PanelValue(total, "/logs/quarantine")


LOG_PANELS = (
    DashboardPanel("events_24h", "dashboard.events_24h", _events_last_day, order=40),
    DashboardPanel("quarantined", "dashboard.quarantined", _quarantined, order=45),
)
PANELS.extend(p for p in LOG_PANELS if p.key not in {q.key for q in PANELS})


__all__ = ["LOG_PANELS", "parse_field_filters", "router"]
