"""Alerts as the response area keeps them (duplicates folded): ``/api/v1/alerts``, ``/alerts``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mamori.respond.serialize import alert_record_to_dict
from mamori.web.deps import SessionDep, TenantScopeDep
from mamori.web.respond_web import RespondContext, RespondDep
from mamori.web.templating import render

router = APIRouter(tags=["alerts"])


def _alerts(
    ctx: RespondContext, tenant: str | None, level: str | None, limit: int
) -> list[dict[str, Any]]:
    slug = ctx.tenant_filter(tenant)
    visible = set(ctx.visible_tenants())
    records = [
        r
        for r in ctx.store.alerts.list(tenant=slug)
        if r.tenant in visible and (not level or r.level.value == level)
    ]
    records.sort(key=lambda r: r.last_seen, reverse=True)
    return [alert_record_to_dict(r) for r in records[:limit]]


@router.get("/api/v1/alerts")
def list_alerts(
    ctx: RespondDep,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
    level: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(gt=0, le=5000)] = 500,
) -> list[dict[str, Any]]:
    """Alert records, newest first; ``count`` says how many duplicates were folded in."""
    return _alerts(ctx, tenant, level, limit)


@router.get("/alerts", include_in_schema=False)
def alerts_page(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    ctx: RespondDep,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
    level: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    rows = _alerts(ctx, tenant, level or None, 500)
    return render(
        request,
        "alerts.html",
        {
            "rows": rows,
            "tenants": ctx.visible_tenants(),
            "filters": {"tenant": tenant or "", "level": level or ""},
            "parse_ts": datetime.fromisoformat,
        },
        principal=scope.principal,
        scope=scope,
        session=session,
        active="alerts",
    )


__all__ = ["router"]
