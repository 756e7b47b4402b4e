"""Incidents: ``/api/v1/incidents`` (JSON), ``/api/v1/metrics``, reports, and the pages.

Every route resolves the caller's :class:`~mamori.web.respond_web.RespondContext`; an
incident of a tenant outside the caller's scope is "not found" (404), a change by a
read-only role is refused (403), a stale ``version`` is a conflict (409).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, File, Form, HTTPException, Query, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from mamori.errors import MamoriError, NotFoundError, PermissionDeniedError, ValidationError
from mamori.model import Severity
from mamori.respond.errors import ConflictError
from mamori.respond.incidents import MAX_ATTACHMENT_BYTES
from mamori.respond.models import TRANSITIONS, IncidentStatus
from mamori.respond.reports import (
    incident_html,
    incident_pdf,
    incident_report,
    monthly_html,
    monthly_pdf,
    monthly_report,
)
from mamori.respond.serialize import incident_to_dict
from mamori.respond.sla import JST
from mamori.web.deps import SessionDep, TenantScopeDep
from mamori.web.respond_web import (
    OPERATIONS,
    RespondContext,
    RespondDep,
    incident_detail,
    incident_rows,
    metrics,
    operate,
)
from mamori.web.templating import render

router = APIRouter(tags=["incidents"])

JsonBody = Annotated[dict[str, Any], Body()]


def _result(value: Any) -> dict[str, Any]:
    from mamori.respond.models import Incident
    from mamori.store.repos.respond import to_doc

    if isinstance(value, Incident):
        return incident_to_dict(value)
    doc: dict[str, Any] = to_doc(value)
    return doc


def _op(ctx: RespondContext, incident_id: str, op: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return _result(operate(ctx, incident_id, op, body))
    except ConflictError as exc:
        raise HTTPException(409, str(exc)) from None


# -- JSON API --------------------------------------------------------------------------------------
@router.get("/api/v1/incidents")
def list_incidents(
    ctx: RespondDep,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    severity: Annotated[str | None, Query(max_length=16)] = None,
    open_only: bool = False,
) -> list[dict[str, Any]]:
    """Incidents with running SLA clocks and breach flags, most urgent first."""
    rows = incident_rows(ctx, tenant=tenant, status=status, severity=severity, open_only=open_only)
    for row in rows:
        for key in ("created_at", "updated_at"):
            row[key] = row[key].isoformat() if row[key] else None
    return rows


@router.get("/api/v1/incidents/{incident_id}")
def get_incident(ctx: RespondDep, incident_id: str) -> dict[str, Any]:
    """The incident with its alerts, actions, playbook runs, notifications and breach track."""
    return incident_detail(ctx, incident_id)


def _api_op(op: str, doc: str) -> None:
    path = f"/api/v1/incidents/{{incident_id}}/{op.replace('_', '-')}"

    def endpoint(ctx: RespondDep, incident_id: str, body: JsonBody) -> dict[str, Any]:
        return _op(ctx, incident_id, op, body)

    endpoint.__name__ = f"incident_{op}"
    endpoint.__doc__ = doc
    router.add_api_route(path, endpoint, methods=["POST"], name=f"incident_{op}")


_API_DOCS = {
    "status": "Change the status: {status, note?, version?}.",
    "assign": "Assign: {assignee, version?} (null unassigns).",
    "severity": "Adjust the severity: {severity, reason?, version?}.",
    "comment": "Add a comment: {text}.",
    "task": "Add a task: {title, assignee?}.",
    "task_done": "Complete a task: {task_id}.",
    "merge": "Merge other incidents into this one: {sources: [ids]}.",
    "split": "Move alerts into a new incident: {alert_ids: [ids], title?}.",
    "link": "Link another incident: {other}.",
    "personal_data": "Flag possible personal data: {flag}.",
    "breach_mark": "Start the APPI breach track: {wrongful_intent?, categories?, aware_at?}.",
    "breach_check": "Tick a breach checklist item: {item, done?}.",
    "breach_submitted": "Record a filed report / notification: {what}.",
    "action": "Request a response action: {action, params, approval?}.",
    "action_approve": "Approve a waiting action: {action_id}.",
    "action_reject": "Reject a waiting action: {action_id, reason?}.",
    "action_rollback": "Roll an action back: {action_id}.",
    "playbook_approve": "Let a playbook waiting for approval go on: {run_id}.",
}
for _name in OPERATIONS:
    _api_op(_name, _API_DOCS[_name])


@router.post("/api/v1/incidents/{incident_id}/attachments")
async def upload_attachment(
    ctx: RespondDep, incident_id: str, file: Annotated[UploadFile | None, File()] = None
) -> dict[str, Any]:
    """Attach evidence (multipart field ``file``); the answer carries its SHA-256."""
    ctx.incident(incident_id)
    ctx.writable()
    if file is None:
        raise ValidationError("send the evidence as the multipart field 'file'")
    data = await file.read(MAX_ATTACHMENT_BYTES + 1)
    _inc, att = ctx.respond.service.attach(
        incident_id,
        file.filename or "",
        data,
        ctx.actor,
        content_type=file.content_type or "application/octet-stream",
    )
    return _result(att)


@router.get("/api/v1/incidents/{incident_id}/attachment")
def download_attachment(
    ctx: RespondDep, incident_id: str, sha256: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    """The bytes of one of the incident's attachments."""
    inc = ctx.incident(incident_id)
    att = next((a for a in inc.attachments if a.sha256 == sha256), None)
    if att is None:
        raise NotFoundError("attachment not found")
    data = ctx.respond.service.blobs.get(att.sha256)
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(att.name)}"},
    )


def _organisation(ctx: RespondContext, tenant: str) -> str:
    channels = ctx.respond.tenants.get(tenant)
    return channels.display_name if channels is not None and channels.display_name else tenant


def _lang(value: str) -> str:
    if value not in ("ja", "en"):
        raise ValidationError("lang must be ja or en")
    return value


@router.get("/api/v1/incidents/{incident_id}/report")
def incident_report_download(
    ctx: RespondDep,
    incident_id: str,
    format: Annotated[str, Query(pattern="^(html|pdf)$")] = "html",  # noqa: A002
    lang: str = "ja",
) -> Response:
    """The incident report (HTML or PDF, Japanese by default)."""
    inc = ctx.incident(incident_id)
    lang = _lang(lang)
    try:
        breach = ctx.respond.breach.repo.get(inc.id)
    except NotFoundError:
        breach = None
    report = incident_report(
        inc,
        alerts=[a for a in ctx.store.alerts.list(tenant=inc.tenant) if a.id in inc.alert_ids],
        actions=ctx.respond.runner.repo.list(incident_id=inc.id),
        notifications=ctx.store.deliveries.list(incident_id=inc.id),
        contract=ctx.respond.contracts.get(inc.tenant),
        breach=breach,
        now=ctx.respond.clock(),
        organisation=_organisation(ctx, inc.tenant),
    )
    name = f"incident-{inc.id}"
    if format == "pdf":
        return Response(
            incident_pdf(report, lang=lang),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    return Response(incident_html(report, lang=lang), media_type="text/html; charset=utf-8")


def _month(year: int | None, month: int | None, ctx: RespondContext) -> tuple[int, int]:
    now = ctx.respond.clock().astimezone(JST)
    return (year or now.year, month or now.month)


@router.get("/api/v1/metrics")
def get_metrics(
    ctx: RespondDep,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    month: Annotated[int | None, Query(ge=1, le=12)] = None,
) -> list[dict[str, Any]]:
    """MTTA, MTTR and SLA compliance per tenant for a month (JST; default this month)."""
    y, m = _month(year, month, ctx)
    return metrics(ctx, tenant=tenant, year=y, month=m)


@router.get("/api/v1/reports/monthly")
def monthly_report_download(
    ctx: RespondDep,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    month: Annotated[int | None, Query(ge=1, le=12)] = None,
    format: Annotated[str, Query(pattern="^(html|pdf)$")] = "html",  # noqa: A002
    lang: str = "ja",
) -> Response:
    """The monthly tenant report: alerts, incidents, MTTA/MTTR, SLA, top rules and hosts."""
    slug = ctx.tenant_filter(tenant)
    if slug is None:
        visible = ctx.visible_tenants()
        if len(visible) != 1:
            raise ValidationError("name the tenant of the monthly report (tenant=...)")
        slug = visible[0]
    lang = _lang(lang)
    y, m = _month(year, month, ctx)
    report = monthly_report(
        tenant=slug,
        year=y,
        month=m,
        incidents=ctx.respond.service.list(ctx.actor, tenant=slug),
        alerts=ctx.store.alerts.list(tenant=slug),
        contract=ctx.respond.contracts.get(slug),
        now=ctx.respond.clock(),
    )
    name = f"monthly-{slug}-{y:04d}-{m:02d}"
    if format == "pdf":
        return Response(
            monthly_pdf(report, lang=lang),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    return Response(monthly_html(report, lang=lang), media_type="text/html; charset=utf-8")


# -- pages ---------------------------------------------------------------------------------------
@router.get("/incidents", include_in_schema=False)
def incidents_page(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    ctx: RespondDep,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    severity: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    rows = incident_rows(ctx, tenant=tenant, status=status or None, severity=severity or None)
    y, m = _month(None, None, ctx)
    return render(
        request,
        "incidents.html",
        {
            "rows": rows,
            "filters": {"tenant": tenant or "", "status": status or "", "severity": severity or ""},
            "tenants": ctx.visible_tenants(),
            "statuses": list(IncidentStatus),
            "severities": [s.value for s in Severity],
            "metrics": metrics(ctx, tenant=tenant or None, year=y, month=m),
        },
        principal=scope.principal,
        scope=scope,
        session=session,
        active="incidents",
    )


def _detail_page(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    ctx: RespondContext,
    incident_id: str,
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    detail = incident_detail(ctx, incident_id)
    inc = detail["incident"]
    allowed = sorted(s.value for s in TRANSITIONS[IncidentStatus(inc["status"])])
    principal = scope.principal
    can_write = not principal.is_api_key and principal.role.value in (
        "admin",
        "operator",
        "customer_admin",
    )
    return render(
        request,
        "incident.html",
        {
            "d": detail,
            "inc": inc,
            "allowed": allowed,
            "severities": [s.value for s in Severity],
            "error": error,
            "staff": principal.role.is_staff and not principal.is_api_key,
            "can_write": can_write,
            "parse_ts": datetime.fromisoformat,
        },
        principal=principal,
        scope=scope,
        session=session,
        active="incidents",
        status_code=status_code,
    )


@router.get("/incidents/{incident_id}", include_in_schema=False)
def incident_page(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    ctx: RespondDep,
    incident_id: str,
) -> Response:
    return _detail_page(request, session, scope, ctx, incident_id)


@router.post("/incidents/{incident_id}", include_in_schema=False)
async def incident_form(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    ctx: RespondDep,
    incident_id: str,
) -> Response:
    """Every form on the incident page posts here with an ``op`` field."""
    form = await request.form()
    data: dict[str, Any] = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    data.pop("csrf_token", None)
    op = str(data.pop("op", ""))
    try:
        operate(ctx, incident_id, op, data)
    except (NotFoundError, PermissionDeniedError):
        raise
    except MamoriError as exc:
        code = 409 if isinstance(exc, ConflictError) else 400
        return _detail_page(
            request, session, scope, ctx, incident_id, error=str(exc), status_code=code
        )
    return RedirectResponse(f"/incidents/{quote(incident_id)}", status_code=303)


@router.post("/incidents/{incident_id}/attachments", include_in_schema=False)
async def incident_attach_form(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    ctx: RespondDep,
    incident_id: str,
    file: Annotated[UploadFile | None, File()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    del csrf_token  # checked app-wide
    ctx.incident(incident_id)
    ctx.writable()
    if file is None or not file.filename:
        return _detail_page(
            request,
            session,
            scope,
            ctx,
            incident_id,
            error="ファイルを選択してください",
            status_code=400,
        )
    data = await file.read(MAX_ATTACHMENT_BYTES + 1)
    try:
        ctx.respond.service.attach(
            incident_id,
            file.filename,
            data,
            ctx.actor,
            content_type=file.content_type or "application/octet-stream",
        )
    except ValidationError as exc:
        return _detail_page(
            request, session, scope, ctx, incident_id, error=str(exc), status_code=400
        )
    return RedirectResponse(f"/incidents/{quote(incident_id)}", status_code=303)


__all__ = ["router"]
