"""Quarantined content: ``/api/v1/quarantine`` and the ``/scans`` pages (スキャン).

Operators and administrators list, inspect, download (decrypted, with a warning), release
and delete items of their tenants; customer administrators see their own tenant's items
read-only. Items carry their tenant as a slug; an item whose tenant is outside the caller's
scope (or unknown) is reported as missing. Every release, delete and download is written to
the audit log in the request's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from mamori.config import Settings
from mamori.errors import NotFoundError, PermissionDeniedError, ValidationError
from mamori.scan.mail.relay import NextHop
from mamori.scan.quarantine import STATUSES, QuarantineItem, QuarantineStore
from mamori.store.tables import AuditLog, Role, Tenant
from mamori.web.dashboard import PANELS, DashboardPanel, PanelValue
from mamori.web.deps import (
    CurrentPrincipal,
    Principal,
    SessionDep,
    SettingsDep,
    TenantScope,
    TenantScopeDep,
    audit_request,
)
from mamori.web.schemas.quarantine import QuarantineAction, QuarantineItemPublic, QuarantineStats
from mamori.web.templating import render

router = APIRouter()

READERS = (Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN)
ACTORS = (Role.ADMIN, Role.OPERATOR)
NoteForm = Annotated[str, Form(max_length=500)]


@dataclass(frozen=True, slots=True)
class Visible:
    """An item with the id of its tenant (``None``: no tenant or an unknown slug)."""

    item: QuarantineItem
    tenant_id: int | None


def _next_hop(settings: Settings) -> NextHop:
    """Where released mail goes: the mail filter's next hop (``scan_mail_next_hop``)."""
    host, sep, port = settings.scan_mail_next_hop.rpartition(":")
    if not sep or not port.isdigit():
        raise ValidationError(f"invalid scan_mail_next_hop {settings.scan_mail_next_hop!r}")
    helo = settings.scan_mail_hostname or "mamori.localdomain"
    return NextHop(host=host.strip("[]") or "127.0.0.1", port=int(port), helo=helo)


UI_PAGE = 100  # items per list page, newest first (``offset`` pages on)


def _store(settings: Settings) -> QuarantineStore:
    return QuarantineStore.from_settings(settings)


def _tenant_ids(session: Session) -> dict[str, int]:
    return {row.slug: row.id for row in session.execute(select(Tenant.slug, Tenant.id))}


def _require(principal: Principal, roles: tuple[Role, ...], what: str) -> None:
    if principal.role not in roles:
        raise PermissionDeniedError(f"your role may not {what} quarantined content")


def visible_items(
    session: Session,
    settings: Settings,
    ids: Collection[int] | None,
    status: str | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[Visible]:
    """Items whose tenant is in ``ids`` (``None``: every item), newest first, one page.

    The store's index filters and pages, so this reads ``limit`` items, not all of them.
    """
    by_slug = _tenant_ids(session)
    slugs = None if ids is None else [slug for slug, tid in by_slug.items() if tid in ids]
    items = _store(settings).list(tenants=slugs, status=status, limit=limit, offset=offset)
    return [Visible(item, by_slug.get(item.tenant) if item.tenant else None) for item in items]


def visible_counts(
    session: Session, settings: Settings, ids: Collection[int] | None
) -> dict[str, int]:
    """Items per status whose tenant is in ``ids`` (``None``: every item), from the index."""
    by_slug = _tenant_ids(session)
    slugs = None if ids is None else [slug for slug, tid in by_slug.items() if tid in ids]
    return _store(settings).counts(tenants=slugs)


def visible_item(session: Session, settings: Settings, scope: TenantScope, item_id: str) -> Visible:
    """Raises:
    NotFoundError: no such item, or one of a tenant outside the scope.
    """
    item = _store(settings).get(item_id)
    tenant_id = _tenant_ids(session).get(item.tenant) if item.tenant else None
    if scope.tenant_ids is not None and (tenant_id is None or not scope.allows(tenant_id)):
        raise NotFoundError("quarantine item not found")
    return Visible(item, tenant_id)


def public(visible: Visible) -> QuarantineItemPublic:
    item = visible.item
    meta = item.meta
    return QuarantineItemPublic(
        id=item.id,
        created=item.created,
        status=item.status,
        kind=item.kind,
        name=item.name,
        tenant=item.tenant,
        tenant_id=visible.tenant_id,
        size=item.size,
        sha256=item.sha256,
        outcome=str(item.verdict.get("outcome", "")),
        reasons=list(item.verdict.get("reasons") or []),
        mail_from=str(meta["mail_from"]) if "mail_from" in meta else None,
        rcpt_tos=[str(r) for r in meta.get("rcpt_tos", [])],
        url=str(meta["url"]) if "url" in meta else None,
        history=list(item.history),
    )


def release(
    session: Session,
    request: Request,
    settings: Settings,
    principal: Principal,
    visible: Visible,
    note: str,
) -> QuarantineItem:
    """Release an item; a mail item is first delivered to its recipients (next hop).

    Raises:
        ValidationError: already released/deleted, no next hop, or the delivery failed.
    """
    _require(principal, ACTORS, "release")
    item = visible.item
    if item.status in ("released", "deleted"):
        raise ValidationError(f"quarantine item {item.id} is already {item.status}")
    store = _store(settings)
    detail: dict[str, Any] = {"id": item.id, "name": item.name, "kind": item.kind, "note": note}
    if item.kind == "mail":
        data = store.content(item.id)
        hop = _next_hop(settings)
        result = hop.send(
            str(item.meta.get("mail_from", "")), [str(r) for r in item.meta["rcpt_tos"]], data
        )
        if not result.ok:
            raise ValidationError(f"delivery to {hop.host}:{hop.port} failed: {result.reply()}")
        detail["delivered_to"] = f"{hop.host}:{hop.port}"
    audit_request(
        session,
        request,
        principal,
        action="quarantine.released",
        tenant_id=visible.tenant_id,
        target=f"quarantine:{item.id}",
        detail=detail,
    )
    updated = store.set_status(item.id, "released", actor=principal.name, note=note)
    session.commit()
    return updated


def delete(
    session: Session,
    request: Request,
    settings: Settings,
    principal: Principal,
    visible: Visible,
    note: str,
) -> QuarantineItem:
    """Destroy the content (the record stays). Raises ValidationError when already deleted."""
    _require(principal, ACTORS, "delete")
    item = visible.item
    audit_request(
        session,
        request,
        principal,
        action="quarantine.deleted",
        tenant_id=visible.tenant_id,
        target=f"quarantine:{item.id}",
        detail={"id": item.id, "name": item.name, "kind": item.kind, "note": note},
    )
    updated = _store(settings).delete(item.id, actor=principal.name, note=note)
    session.commit()
    return updated


def _recent_quarantined(session: Session, scope: TenantScope) -> PanelValue:
    """Objects quarantined or held in the last 30 days (from the audit log), in scope."""
    since = datetime.now(UTC) - timedelta(days=30)
    stmt = (
        select(func.count())
        .select_from(AuditLog)
        .where(
            AuditLog.action.in_(("quarantine.quarantined", "quarantine.held")),
            AuditLog.ts >= since,
        )
    )
    ids = scope.ui_ids()
    if ids is not None:
        stmt = stmt.where(AuditLog.tenant_id.in_(list(ids)))
    return PanelValue(int(session.scalar(stmt) or 0), "/scans")


PANELS.append(
    DashboardPanel(
        "scan_quarantined",
        "scan.panel_quarantined",
        _recent_quarantined,
        frozenset(READERS),
        order=50,
    )
)


# --- JSON API ------------------------------------------------------------------------


@router.get("/api/v1/quarantine", response_model=list[QuarantineItemPublic], tags=["quarantine"])
def api_list(
    session: SessionDep,
    settings: SettingsDep,
    scope: TenantScopeDep,
    principal: CurrentPrincipal,
    tenant_id: int | None = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[QuarantineItemPublic]:
    """Items of the caller's tenants (or of ``tenant_id``), newest first; ``limit`` and
    ``offset`` page through them (default: all)."""
    _require(principal, READERS, "read")
    if status is not None and status not in STATUSES:
        raise ValidationError(f"unknown status {status!r}")
    items = visible_items(
        session, settings, scope.ids_for(tenant_id), status, limit=limit, offset=offset
    )
    return [public(v) for v in items]


@router.get(
    "/api/v1/quarantine/{quarantine_id}", response_model=QuarantineItemPublic, tags=["quarantine"]
)
def api_get(
    quarantine_id: str,
    session: SessionDep,
    settings: SettingsDep,
    scope: TenantScopeDep,
    principal: CurrentPrincipal,
) -> QuarantineItemPublic:
    visible = visible_item(session, settings, scope, quarantine_id)
    _require(principal, READERS, "read")
    return public(visible)


@router.post(
    "/api/v1/quarantine/{quarantine_id}/release",
    response_model=QuarantineItemPublic,
    tags=["quarantine"],
)
def api_release(
    request: Request,
    quarantine_id: str,
    session: SessionDep,
    settings: SettingsDep,
    scope: TenantScopeDep,
    principal: CurrentPrincipal,
    body: QuarantineAction | None = None,
) -> QuarantineItemPublic:
    visible = visible_item(session, settings, scope, quarantine_id)
    note = body.note if body else ""
    updated = release(session, request, settings, principal, visible, note)
    return public(Visible(updated, visible.tenant_id))


@router.post(
    "/api/v1/quarantine/{quarantine_id}/delete",
    response_model=QuarantineItemPublic,
    tags=["quarantine"],
)
def api_delete(
    request: Request,
    quarantine_id: str,
    session: SessionDep,
    settings: SettingsDep,
    scope: TenantScopeDep,
    principal: CurrentPrincipal,
    body: QuarantineAction | None = None,
) -> QuarantineItemPublic:
    visible = visible_item(session, settings, scope, quarantine_id)
    updated = delete(session, request, settings, principal, visible, body.note if body else "")
    return public(Visible(updated, visible.tenant_id))


@router.get("/api/v1/quarantine-stats", response_model=QuarantineStats, tags=["quarantine"])
def api_stats(
    session: SessionDep,
    settings: SettingsDep,
    scope: TenantScopeDep,
    principal: CurrentPrincipal,
    tenant_id: int | None = None,
) -> QuarantineStats:
    """Items per status in the caller's tenants."""
    _require(principal, READERS, "read")
    return QuarantineStats(counts=visible_counts(session, settings, scope.ids_for(tenant_id)))


# --- UI ------------------------------------------------------------------------------


def _page_url(query: dict[str, str], offset: int) -> str:
    given = {**query, "offset": offset} if offset else query
    return f"/scans?{urlencode(given)}" if given else "/scans"


@router.get("/scans", include_in_schema=False)
def scans_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    scope: TenantScopeDep,
    principal: CurrentPrincipal,
    status: Annotated[str | None, Query(max_length=20)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The quarantine list of the tenant(s) being looked at, with counts per status, one
    page of ``UI_PAGE`` items at a time."""
    _require(principal, READERS, "read")
    if status and status not in STATUSES:
        status = None
    # one item more than a page tells whether a next page exists without counting
    shown = visible_items(
        session, settings, scope.ui_ids(), status or None, limit=UI_PAGE + 1, offset=offset
    )
    query = {"status": status} if status else {}
    return render(
        request,
        "scans.html",
        {
            "items": [public(v) for v in shown[:UI_PAGE]],
            "counts": visible_counts(session, settings, scope.ui_ids()),
            "statuses": STATUSES,
            "status": status or "",
            "prev": _page_url(query, max(offset - UI_PAGE, 0)) if offset else None,
            "next": _page_url(query, offset + UI_PAGE) if len(shown) > UI_PAGE else None,
        },
        principal=principal,
        scope=scope,
        session=session,
        active="scans",
    )


def _detail(
    request: Request,
    session: Session,
    scope: TenantScope,
    principal: Principal,
    visible: Visible,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "quarantine_item.html",
        {
            "item": public(visible),
            "can_act": principal.role in ACTORS,
            "error": error,
        },
        principal=principal,
        scope=scope,
        session=session,
        active="scans",
        status_code=status_code,
    )


@router.get("/scans/quarantine/{quarantine_id}", include_in_schema=False)
def item_page(
    request: Request,
    quarantine_id: str,
    session: SessionDep,
    settings: SettingsDep,
    scope: TenantScopeDep,
    principal: CurrentPrincipal,
) -> Response:
    visible = visible_item(session, settings, scope, quarantine_id)
    _require(principal, READERS, "read")
    return _detail(request, session, scope, principal, visible)


@router.post("/scans/quarantine/{quarantine_id}/download", include_in_schema=False)
def item_download(
    request: Request,
    quarantine_id: str,
    session: SessionDep,
    settings: SettingsDep,
    scope: TenantScopeDep,
    principal: CurrentPrincipal,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """The decrypted original, as an opaque attachment; needs the warning confirmed."""
    visible = visible_item(session, settings, scope, quarantine_id)
    _require(principal, ACTORS, "download")
    if confirm != "yes":
        return _detail(
            request,
            session,
            scope,
            principal,
            visible,
            error="confirm",
            status_code=422,
        )
    data = _store(settings).content(visible.item.id)
    audit_request(
        session,
        request,
        principal,
        action="quarantine.retrieve",
        tenant_id=visible.tenant_id,
        target=f"quarantine:{visible.item.id}",
        detail={"id": visible.item.id, "name": visible.item.name, "sha256": visible.item.sha256},
    )
    session.commit()
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{visible.item.id}.quarantined"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def _act(
    action: Callable[[Session, Request, Settings, Principal, Visible, str], object],
    request: Request,
    quarantine_id: str,
    session: Session,
    settings: Settings,
    scope: TenantScope,
    principal: Principal,
    note: str,
) -> Response:
    """Run a page form's release/delete; a refusal is shown on the item page (422)."""
    visible = visible_item(session, settings, scope, quarantine_id)
    try:
        action(session, request, settings, principal, visible, note)
    except ValidationError as exc:
        session.rollback()
        return _detail(request, session, scope, principal, visible, error=str(exc), status_code=422)
    return RedirectResponse(f"/scans/quarantine/{quarantine_id}", status_code=303)


@router.post("/scans/quarantine/{quarantine_id}/release", include_in_schema=False)
def item_release(
    request: Request,
    quarantine_id: str,
    session: SessionDep,
    settings: SettingsDep,
    scope: TenantScopeDep,
    principal: CurrentPrincipal,
    note: NoteForm = "",
) -> Response:
    return _act(release, request, quarantine_id, session, settings, scope, principal, note)


@router.post("/scans/quarantine/{quarantine_id}/delete", include_in_schema=False)
def item_delete(
    request: Request,
    quarantine_id: str,
    session: SessionDep,
    settings: SettingsDep,
    scope: TenantScopeDep,
    principal: CurrentPrincipal,
    note: NoteForm = "",
) -> Response:
    return _act(delete, request, quarantine_id, session, settings, scope, principal, note)


__all__ = ["router", "visible_counts", "visible_item", "visible_items"]
