"""Guideline pages (Japanese first): assessments, dashboard, questionnaire per label, roadmap.

Pages share the API's wiring (:mod:`mamori.web.routers.guideline`): the assessment's tenant
is checked against the caller's scope first (404 otherwise), forms carry the CSRF token, and
viewers see everything without the forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.responses import Response

from mamori.errors import MamoriError, ValidationError
from mamori.guideline.assessment import Status, framework_of
from mamori.guideline.charts import level_bars_svg
from mamori.guideline.meti import JAMA_ID, METI_ID
from mamori.guideline.models import Framework
from mamori.guideline.questionnaire import QUESTIONS, target_level
from mamori.guideline.roadmap import build_roadmap
from mamori.guideline.scoring import score
from mamori.guideline.service import GuidelineService
from mamori.store.repos import guideline as repo
from mamori.store.repos import tenants
from mamori.store.tables import Tenant
from mamori.web.dashboard import PANELS, DashboardPanel, PanelValue
from mamori.web.deps import (
    SessionDep,
    TenantScope,
    TenantScopeDep,
    language_for,
)
from mamori.web.guideline_wiring import (
    ServiceDep,
    UploadDep,
    answer_item,
    assessment_summary,
    can_write,
    choose_tenant,
    compare_assessments,
    create_assessment,
    create_meti_assessment,
    decide_proposal,
    import_sheet,
    make_proposals,
    require_writer,
    run_checks,
    tenant_of,
    update_assessment,
    upload_evidence,
)
from mamori.web.templating import render

router = APIRouter(include_in_schema=False)


def level_name(fw: Framework, level: int) -> str:
    """``Lv1`` for JAMA/JAPIA; the level's own name (``★3``) for other frameworks."""
    if fw.id != JAMA_ID:
        for lv in fw.levels:
            if lv.level == level and lv.name_ja:
                return lv.name_ja
    return f"Lv{level}"


def _panel(session: Session, scope: TenantScope) -> PanelValue:
    """Lv1 achievement of the newest assessment of the tenant in view (else the count)."""
    ids = scope.ui_ids()
    rows = repo.list_assessment_rows(session, tenant_ids=ids)
    if ids is None or len(ids) != 1:
        return PanelValue(f"{len(rows)}", "/guideline")
    if not rows:
        return PanelValue("—", "/guideline")
    tenant = tenants.get_tenant(session, tenant_id=rows[0].tenant_id)
    a = repo.SqlAssessmentRepository(session).get(tenant.slug, rows[0].id)
    rate = score(framework_of(a), a).levels.get(1)
    value = "—" if rate is None or rate.rate is None else f"{rate.rate * 100:.1f}%"
    return PanelValue(value, f"/guideline/{a.id}")


if not any(p.key == "guideline" for p in PANELS):
    PANELS.append(DashboardPanel("guideline", "dashboard.guideline", _panel, order=40))

STATUSES = tuple(Status)


def _render(
    request: Request,
    session: Session,
    scope: TenantScope,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        template,
        {"can_write": can_write(scope.principal), "statuses": STATUSES, **context},
        principal=scope.principal,
        scope=scope,
        session=session,
        active="guideline",
        status_code=status_code,
    )


def _error_text(exc: Exception) -> str:
    if isinstance(exc, HTTPException):
        return str(exc.detail)
    return str(exc)


_ERROR_KEYS = {413: "guideline.too_large", 415: "guideline.bad_type"}


def _error_key(exc: Exception) -> str:
    """The catalogue key of the message that introduces an error on a page."""
    return _ERROR_KEYS.get(_error_status(exc), "error.invalid")


def _error_status(exc: Exception) -> int:
    return exc.status_code if isinstance(exc, HTTPException) else 422


# --------------------------------------------------------------------------- list, create


def _list_page(
    request: Request,
    session: Session,
    scope: TenantScope,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    rows = repo.list_assessment_rows(session, tenant_ids=scope.ui_ids())
    counts = repo.answered_counts(session, assessment_ids=[r.id for r in rows])
    names = {t.id: t.name for t in tenants.list_tenants(session, tenant_ids=scope.tenant_ids)}
    lang = language_for(request, scope.principal)
    return _render(
        request,
        session,
        scope,
        "guideline_list.html",
        {
            "assessments": [
                {
                    **assessment_summary(r, counts.get(r.id, 0)),
                    "tenant_name": names.get(r.tenant_id),
                }
                for r in rows
            ],
            "tenant_choices": tenants.list_tenants(
                session, tenant_ids=scope.tenant_ids, active_only=True
            ),
            "questions": [(q.id, q.text_en if lang == "en" else q.text_ja) for q in QUESTIONS],
            "error": error,
        },
        status_code,
    )


def _chosen_tenant(session: Session, scope: TenantScope, fields: Mapping[str, str]) -> Tenant:
    """The tenant a create form names (its ``tenant_id`` field), else the one in view."""
    requested = fields.get("tenant_id", "").strip()
    try:
        tenant_id = int(requested) if requested else None
    except ValueError:
        raise ValidationError("tenant_id must be a number") from None
    return choose_tenant(session, scope, tenant_id)


@router.get("/guideline")
def guideline_home(request: Request, session: SessionDep, scope: TenantScopeDep) -> Response:
    return _list_page(request, session, scope)


@router.post("/guideline")
def guideline_create(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    upload: UploadDep,
) -> Response:
    """Create an assessment; its target level comes from the short questionnaire."""
    fields = upload.fields
    try:
        tenant = _chosen_tenant(session, scope, fields)
        require_writer(scope.principal)
        answers = {q.id: fields.get(f"q_{q.id}") == "yes" for q in QUESTIONS}
        level = target_level(answers).level
        a = create_assessment(
            session,
            request,
            scope.principal,
            service,
            tenant,
            framework="jama-japia",
            title=fields.get("title", "").strip()[:200],
            target=level,
        )
    except ValidationError as exc:
        session.rollback()
        return _list_page(request, session, scope, error=str(exc), status_code=422)
    session.commit()
    return RedirectResponse(f"/guideline/{a.id}", status_code=303)


# --------------------------------------------------------------------------- dashboard


def _dashboard_context(
    request: Request,
    session: Session,
    scope: TenantScope,
    service: GuidelineService,
    tenant: Tenant,
    assessment_id: str,
) -> dict[str, Any]:
    lang = language_for(request, scope.principal)
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    fw = framework_of(a)
    dash = service.dashboard(tenant=tenant.slug, assessment_id=assessment_id, lang=lang)
    score = dash["score"]
    level_charts = []
    for lv, data in score["levels"].items():
        partial = data["partial"] / data["applicable"] if data["applicable"] else None
        name = level_name(fw, int(lv))
        level_charts.append(
            {
                "level": lv,
                "name": name,
                "rate": data["rate"],
                "data": data,
                "svg": Markup(  # noqa: S704 - built by level_bars_svg, which escapes its text
                    level_bars_svg([(name, data["rate"], partial)], width=180, height=200)
                ),
            }
        )
    rows = repo.list_assessment_rows(session, tenant_ids=[tenant.id])
    other_framework = METI_ID if a.framework_id == JAMA_ID else JAMA_ID
    proposal_sources = [r for r in rows if r.framework_id == other_framework]
    labels = [
        {"no": int(no), "name": fw.label(int(no)).name(lang), **data}
        for no, data in score["labels"].items()
    ]
    others = [r for r in rows if r.id != a.id]
    sheet = next((r for r in rows if r.id == a.id), None)
    return {
        "a": a,
        "tenant": tenant,
        "fw": fw,
        "score": score,
        "notice": dash["notice"],
        "counts": fw.provenance_counts(),
        "level_charts": level_charts,
        "levels_svg": Markup(dash["level_chart_svg"]),  # noqa: S704 - escaped by charts.py
        "radar_svg": Markup(dash["label_radar_svg"]),  # noqa: S704 - escaped by charts.py
        "labels": labels,
        "progress": service.label_progress(tenant=tenant.slug, assessment_id=assessment_id),
        "roadmap": dash["roadmap"],
        "others": others,
        "sheet_filename": sheet.sheet_filename if sheet else None,
        "is_jama": a.framework_id == JAMA_ID,
        "proposal_sources": proposal_sources
        if JAMA_ID in (a.framework_id, other_framework)
        and METI_ID in (a.framework_id, other_framework)
        else [],
        "open_proposals": [p for p in a.proposals if p.state == "open"],
        "checks": sorted(a.checks.values(), key=lambda c: (len(c.item_id), c.item_id)),
        "lang": lang,
    }


def _dashboard_page(
    request: Request,
    session: Session,
    scope: TenantScope,
    service: GuidelineService,
    tenant: Tenant,
    assessment_id: str,
    *,
    status_code: int = 200,
    **outcome: Any,
) -> Response:
    """The dashboard, with what the last action produced (an error, a count, a result)."""
    ctx = _dashboard_context(request, session, scope, service, tenant, assessment_id)
    return _render(
        request, session, scope, "guideline_dashboard.html", {**ctx, **outcome}, status_code
    )


@router.get("/guideline/{assessment_id}")
def guideline_dashboard(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
) -> Response:
    tenant = tenant_of(session, scope, assessment_id)
    return _dashboard_page(request, session, scope, service, tenant, assessment_id)


@router.post("/guideline/{assessment_id}/checksheet")
def guideline_import(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    upload: UploadDep,
) -> Response:
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    specs = upload.fields.get("mapping", "").replace("\r", "").split("\n")
    try:
        result = import_sheet(
            session, request, scope.principal, service, tenant, assessment_id, upload, specs
        )
    except (MamoriError, HTTPException) as exc:
        session.rollback()
        return _dashboard_page(
            request,
            session,
            scope,
            service,
            tenant,
            assessment_id,
            status_code=_error_status(exc),
            error=_error_text(exc),
            error_key=_error_key(exc),
        )
    session.commit()
    return _dashboard_page(request, session, scope, service, tenant, assessment_id, imported=result)


@router.post("/guideline/{assessment_id}/checks")
def guideline_checks(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
) -> Response:
    """Run the automatic checks on what the platform knows (no observations typed in)."""
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    out = run_checks(session, request, scope.principal, service, tenant, assessment_id, None)
    session.commit()
    return _dashboard_page(request, session, scope, service, tenant, assessment_id, checks_run=out)


@router.post("/guideline/meti")
def guideline_create_meti(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    upload: UploadDep,
) -> Response:
    """Create a METI SCS assessment from METI's criteria CSV."""
    try:
        tenant = _chosen_tenant(session, scope, upload.fields)
        require_writer(scope.principal)
        a = create_meti_assessment(
            session,
            request,
            scope.principal,
            service,
            tenant,
            upload,
            upload.fields.get("title", "").strip()[:200],
        )
    except (ValidationError, HTTPException) as exc:
        session.rollback()
        return _list_page(
            request, session, scope, error=_error_text(exc), status_code=_error_status(exc)
        )
    session.commit()
    return RedirectResponse(f"/guideline/{a.id}", status_code=303)


@router.post("/guideline/{assessment_id}/proposals")
def guideline_proposals(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    source: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Propose answers from the other framework's assessment (nothing applied yet)."""
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    try:
        new = make_proposals(session, scope, service, tenant, assessment_id, source or None)
    except ValidationError as exc:
        session.rollback()
        return _dashboard_page(
            request, session, scope, service, tenant, assessment_id, status_code=422, error=str(exc)
        )
    session.commit()
    return _dashboard_page(
        request, session, scope, service, tenant, assessment_id, proposed=len(new)
    )


@router.post("/guideline/{assessment_id}/proposals/decide")
def guideline_decide(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    proposal_id: Annotated[str, Form(max_length=64)] = "",
    decision: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Accept or reject one proposal (the user's consent)."""
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    accept = {"accept": True, "reject": False}.get(decision)
    decide_proposal(
        session, request, scope.principal, service, tenant, assessment_id, proposal_id, accept
    )
    session.commit()
    return RedirectResponse(f"/guideline/{assessment_id}#proposals", status_code=303)


# --------------------------------------------------------------------------- questionnaire


def _label_page(
    request: Request,
    session: Session,
    scope: TenantScope,
    service: GuidelineService,
    tenant: Tenant,
    assessment_id: str,
    label: int,
    *,
    error: str | None = None,
    error_item: str | None = None,
    error_key: str = "error.invalid",
    status_code: int = 200,
) -> Response:
    lang = language_for(request, scope.principal)
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    rows = service.questionnaire(tenant=tenant.slug, assessment_id=assessment_id, label=label)
    progress = service.label_progress(tenant=tenant.slug, assessment_id=assessment_id)
    current = next((p for p in progress if p.no == label), None)
    return _render(
        request,
        session,
        scope,
        "guideline_label.html",
        {
            "a": a,
            "tenant": tenant,
            "fw": framework_of(a),
            "label": label,
            "current": current,
            "progress": progress,
            "rows": rows,
            "history": {
                r.item.id: [h for h in a.history if h.item_id == r.item.id][-5:][::-1] for r in rows
            },
            "error": error,
            "error_item": error_item,
            "error_key": error_key,
            "lang": lang,
        },
        status_code,
    )


@router.get("/guideline/{assessment_id}/labels/{label}")
def guideline_label(
    request: Request,
    assessment_id: str,
    label: int,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
) -> Response:
    tenant = tenant_of(session, scope, assessment_id)
    return _label_page(request, session, scope, service, tenant, assessment_id, label)


def _label_of(service: GuidelineService, tenant: Tenant, assessment_id: str, item_id: str) -> int:
    fw = framework_of(service.get(tenant=tenant.slug, assessment_id=assessment_id))
    if not fw.has_item(item_id):
        return 0
    return fw.item(item_id).label or 0


@router.post("/guideline/{assessment_id}/items/{item_id}")
def guideline_answer(
    request: Request,
    assessment_id: str,
    item_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    status: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
    owner: Annotated[str, Form(max_length=200)] = "",
    due: Annotated[str, Form(max_length=32)] = "",
    effort_days: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    label = _label_of(service, tenant, assessment_id, item_id)
    given: dict[str, Any] = {
        "status": status.strip() or None,
        "reason": reason,
        "comment": comment,
        "owner": owner,
        "due": due.strip() or None,
    }
    try:
        effort = effort_days.strip()
        try:
            given["effort_days"] = float(effort) if effort else None
        except ValueError:
            raise ValidationError(f"effort estimate {effort!r} is not a number of days") from None
        answer_item(
            session, request, scope.principal, service, tenant, assessment_id, item_id, given
        )
    except ValidationError as exc:
        session.rollback()
        return _label_page(
            request,
            session,
            scope,
            service,
            tenant,
            assessment_id,
            label,
            error=str(exc),
            error_item=item_id,
            status_code=422,
        )
    session.commit()
    return RedirectResponse(
        f"/guideline/{assessment_id}/labels/{label}#item-{item_id}", status_code=303
    )


@router.post("/guideline/{assessment_id}/items/{item_id}/evidence")
def guideline_evidence(
    request: Request,
    assessment_id: str,
    item_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    upload: UploadDep,
) -> Response:
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    label = _label_of(service, tenant, assessment_id, item_id)
    try:
        upload_evidence(
            session, request, scope.principal, service, tenant, assessment_id, item_id, upload
        )
    except (ValidationError, HTTPException) as exc:
        session.rollback()
        return _label_page(
            request,
            session,
            scope,
            service,
            tenant,
            assessment_id,
            label,
            error=_error_text(exc),
            error_key=_error_key(exc),
            error_item=item_id,
            status_code=_error_status(exc),
        )
    session.commit()
    return RedirectResponse(
        f"/guideline/{assessment_id}/labels/{label}#item-{item_id}", status_code=303
    )


@router.get("/guideline/{assessment_id}/compare")
def guideline_compare(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    earlier: Annotated[str | None, Query(alias="with", max_length=64)] = None,
) -> Response:
    """What improved and what regressed since an earlier assessment (default: the one before)."""
    tenant = tenant_of(session, scope, assessment_id)
    out = compare_assessments(session, scope, service, tenant, assessment_id, earlier)
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    b = service.get(tenant=tenant.slug, assessment_id=out["earlier"])
    return _render(
        request,
        session,
        scope,
        "guideline_compare.html",
        {"a": a, "b": b, "cmp": out, "lang": language_for(request, scope.principal)},
    )


# --------------------------------------------------------------------------- roadmap, target


@router.get("/guideline/{assessment_id}/roadmap")
def guideline_roadmap(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
) -> Response:
    tenant = tenant_of(session, scope, assessment_id)
    lang = language_for(request, scope.principal)
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    fw = framework_of(a)
    return _render(
        request,
        session,
        scope,
        "guideline_roadmap.html",
        {"a": a, "fw": fw, "roadmap": build_roadmap(fw, a).to_dict(lang), "lang": lang},
    )


def _target_page(
    request: Request,
    session: Session,
    scope: TenantScope,
    service: GuidelineService,
    tenant: Tenant,
    assessment_id: str,
    *,
    result: Any = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    lang = language_for(request, scope.principal)
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    return _render(
        request,
        session,
        scope,
        "guideline_target.html",
        {
            "a": a,
            "questions": [
                (q.id, q.level, q.text_en if lang == "en" else q.text_ja) for q in QUESTIONS
            ],
            "result": result,
            "explanation": result.explain(lang) if result is not None else None,
            "error": error,
        },
        status_code,
    )


@router.get("/guideline/{assessment_id}/target")
def guideline_target(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
) -> Response:
    tenant = tenant_of(session, scope, assessment_id)
    return _target_page(request, session, scope, service, tenant, assessment_id)


@router.post("/guideline/{assessment_id}/target")
def guideline_target_set(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    upload: UploadDep,
) -> Response:
    """Answer the target-level questions; the result becomes the assessment's target level."""
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    answers = {q.id: upload.fields.get(f"q_{q.id}") == "yes" for q in QUESTIONS}
    result = target_level(answers)
    update_assessment(
        session,
        request,
        scope.principal,
        service,
        tenant,
        assessment_id,
        title=None,
        target=result.level,
        detail={"questionnaire": answers},
    )
    session.commit()
    return _target_page(request, session, scope, service, tenant, assessment_id, result=result)


__all__ = ["router"]
