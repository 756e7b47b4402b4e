"""The host inventory (``/api/v1/hosts``, page ``/respond/hosts``) and the alerts the
intake could not accept (``/api/v1/rejected-alerts``, administrators only).

Hosts come from the alerts (first/last seen, alert count, last incident); their isolation
state is derived from the agent command queue. A host of a tenant outside the caller's
scope does not exist for it. Staff and customer administrators may register hosts by hand
(so their first alert is not flagged as coming from an unknown host).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Query, Request
from starlette.responses import RedirectResponse, Response

from mamori.errors import MamoriError, NotFoundError, PermissionDeniedError, ValidationError
from mamori.respond.hosts import (
    ISOLATION_LABELS_JA,
    HostInventory,
    HostRecord,
    isolation_states,
)
from mamori.store.tables import Role
from mamori.web.deps import SessionDep, TenantScopeDep, audit_request
from mamori.web.respond_web import RespondContext, RespondDep
from mamori.web.templating import render

router = APIRouter(tags=["hosts"])

JsonBody = Annotated[dict[str, Any], Body()]
MAX_REJECTED = 200


def _inventory(ctx: RespondContext) -> HostInventory:
    inventory = ctx.respond.intake.inventory
    if inventory is None:
        raise NotFoundError("the host inventory is not available")
    return inventory


def host_rows(ctx: RespondContext, tenant: str | None) -> list[dict[str, Any]]:
    """The hosts of the tenants in scope, with their isolation state."""
    chosen = ctx.tenant_filter(tenant)
    allowed = {chosen} if chosen is not None else set(ctx.visible_tenants())
    hosts: list[HostRecord] = [
        h for h in _inventory(ctx).list(tenant=chosen) if h.tenant in allowed
    ]
    commands = ctx.store.commands.list(tenant=chosen)
    states = isolation_states(c for c in commands if c.tenant in allowed)
    rows = []
    for h in hosts:
        state = states.get((h.tenant, h.host), "not_isolated")
        rows.append(
            {
                "tenant": h.tenant,
                "host": h.host,
                "source": h.source,
                "first_seen": h.first_seen.isoformat(),
                "last_seen": h.last_seen.isoformat(),
                "alert_count": h.alert_count,
                "last_incident_id": h.last_incident_id,
                "isolation": state,
                "isolation_ja": ISOLATION_LABELS_JA[state],
            }
        )
    return rows


def register_host(ctx: RespondContext, data: dict[str, Any]) -> HostRecord:
    tenant_value = data.get("tenant")
    if tenant_value is not None and not isinstance(tenant_value, str):
        raise ValidationError("tenant must be a tenant slug")
    tenant = ctx.tenant_filter(tenant_value or None)
    if tenant is None:
        raise ValidationError("name the tenant (tenant) the host belongs to")
    ctx.writable()
    host = data.get("host")
    if not isinstance(host, str):
        raise ValidationError("host must be a host name")
    return _inventory(ctx).register(tenant, host, ctx.respond.clock())


def _audit(session: SessionDep, request: Request, ctx: RespondContext, rec: HostRecord) -> None:
    audit_request(
        session,
        request,
        ctx.scope.principal,
        action="host.registered",
        tenant_id=ctx.ids.get(rec.tenant),
        target=f"host:{rec.host}",
        detail={"host": rec.host},
    )


def _public(rec: HostRecord) -> dict[str, Any]:
    return {
        "tenant": rec.tenant,
        "host": rec.host,
        "source": rec.source,
        "first_seen": rec.first_seen.isoformat(),
        "last_seen": rec.last_seen.isoformat(),
        "alert_count": rec.alert_count,
    }


def rejected_rows(ctx: RespondContext) -> list[dict[str, Any]]:
    """Alerts refused by the intake (unknown tenant, malformed...), newest first."""
    principal = ctx.scope.principal
    if principal.is_api_key or principal.role is not Role.ADMIN:
        raise PermissionDeniedError("only administrators see rejected alerts")
    items = ctx.store.alerts.rejected()[-MAX_REJECTED:]
    return [
        {"received_at": r.received_at.isoformat(), "reason": r.reason, "payload": r.payload}
        for r in reversed(items)
    ]


# -- JSON API --------------------------------------------------------------------------------
@router.get("/api/v1/hosts")
def list_hosts(
    ctx: RespondDep, tenant: Annotated[str | None, Query(max_length=63)] = None
) -> list[dict[str, Any]]:
    """Hosts seen in alerts (or registered), with first/last seen and isolation state."""
    return host_rows(ctx, tenant)


@router.post("/api/v1/hosts", status_code=201)
def post_host(
    request: Request, session: SessionDep, ctx: RespondDep, body: JsonBody
) -> dict[str, Any]:
    """Register a host by hand: ``{tenant, host}`` (kept as it is when already known)."""
    rec = register_host(ctx, body)
    _audit(session, request, ctx, rec)
    return _public(rec)


@router.get("/api/v1/rejected-alerts")
def list_rejected(ctx: RespondDep) -> list[dict[str, Any]]:
    """Alerts the intake refused (unknown tenant, malformed), with the reason: admins only."""
    return rejected_rows(ctx)


# -- pages -------------------------------------------------------------------------------------
def _page(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    ctx: RespondContext,
    *,
    tenant: str | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    principal = scope.principal
    admin = principal.role is Role.ADMIN and not principal.is_api_key
    return render(
        request,
        "respond_hosts.html",
        {
            "hosts": host_rows(ctx, tenant),
            "tenants": ctx.visible_tenants(),
            "current": ctx.tenant_filter(tenant) or "",
            "can_write": not principal.is_api_key
            and principal.role in (Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN),
            "rejected": rejected_rows(ctx)[:50] if admin else None,
            "error": error,
            "parse_ts": datetime.fromisoformat,
        },
        principal=principal,
        scope=scope,
        session=session,
        active="hosts",
        status_code=status_code,
    )


@router.get("/respond/hosts", include_in_schema=False)
def hosts_page(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    ctx: RespondDep,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
) -> Response:
    return _page(request, session, scope, ctx, tenant=tenant or None)


@router.post("/respond/hosts", include_in_schema=False)
async def hosts_form(
    request: Request, session: SessionDep, scope: TenantScopeDep, ctx: RespondDep
) -> Response:
    form = await request.form()
    data = {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}
    try:
        rec = register_host(ctx, data)
    except (NotFoundError, PermissionDeniedError):
        raise
    except MamoriError as exc:
        return _page(request, session, scope, ctx, error=str(exc), status_code=400)
    _audit(session, request, ctx, rec)
    return RedirectResponse(f"/respond/hosts?tenant={quote(rec.tenant)}", status_code=303)


__all__ = ["host_rows", "register_host", "rejected_rows", "router"]
