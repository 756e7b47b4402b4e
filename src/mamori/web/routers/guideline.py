"""Guideline compliance API: ``/api/v1/guideline/...`` (thin; the logic is GuidelineService).

Every route that names an assessment first finds the assessment's tenant and checks it
against the caller's scope (another tenant's assessment is reported as missing, 404), then
calls :class:`~mamori.guideline.service.GuidelineService` with that tenant, which checks the
tenant once more. Reading is open to every role of the tenant; changing needs
``admin``, ``operator`` (for assigned tenants) or ``customer_admin`` (403 otherwise; API keys
are read-only). Answer changes, imports, evidence uploads and deletions enter the audit log.

Uploads (evidence files, the official .xlsx) are sent as ``multipart/form-data`` (field
``file``) or as the raw request body with ``?filename=``. Too large gives 413, a forbidden
type 415, other bad input 422.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from starlette.responses import Response

from mamori.errors import ValidationError
from mamori.guideline.assessment import Status, framework_of
from mamori.guideline.questionnaire import QUESTIONS, target_level
from mamori.guideline.roadmap import build_roadmap
from mamori.store.repos import guideline as repo
from mamori.web.deps import (
    CurrentPrincipal,
    SessionDep,
    TenantScopeDep,
    audit_request,
    language_for,
)
from mamori.web.guideline_wiring import (
    XLSX,
    ServiceDep,
    UploadDep,
    answer_item,
    answer_public,
    answer_to_public,
    assessment_public,
    assessment_summary,
    check_type,
    choose_tenant,
    compare_assessments,
    create_assessment,
    create_meti_assessment,
    decide_proposal,
    disposition,
    export_sheet,
    framework_for,
    import_sheet,
    make_proposals,
    proposal_dict,
    report_response,
    require_writer,
    run_checks,
    tenant_of,
    update_assessment,
    upload_evidence,
)
from mamori.web.schemas.guideline import (
    AnswerPublic,
    AnswerUpdate,
    AssessmentCreate,
    AssessmentDetail,
    AssessmentPublic,
    AssessmentUpdate,
    EvidencePublic,
    ImportResult,
    ProposalCreate,
    ProposalDecision,
    TargetLevelAnswers,
)

router = APIRouter(tags=["guideline"])
PREFIX = "/api/v1/guideline"


@router.get(f"{PREFIX}/items")
def api_items(
    principal: CurrentPrincipal,
    framework: Annotated[str, Query(max_length=100)] = "jama-japia",
    label: int | None = None,
) -> dict[str, Any]:
    """The catalogue's items (with provenance) and how many are only derived or unknown."""
    del principal
    fw = framework_for(framework)
    items = fw.items if label is None else fw.items_in_label(label)
    counts = fw.provenance_counts()
    return {
        "framework": fw.key,
        "catalogue": {
            "verified": counts.verified,
            "derived": counts.derived,
            "unknown": counts.unknown,
        },
        "labels": [{"no": lb.no, "name_ja": lb.name_ja, "name_en": lb.name_en} for lb in fw.labels],
        "items": [
            {
                "id": i.id,
                "label": i.label,
                "level": i.level,
                "provenance": i.provenance.status.value,
                "summary_ja": i.summary_ja,
                "summary_en": i.summary_en,
                "requirement": i.requirement,
                "condition": i.condition,
            }
            for i in items
        ],
    }


@router.get(f"{PREFIX}/target-level")
def api_target_questions(principal: CurrentPrincipal) -> dict[str, Any]:
    """The short questionnaire that decides the target level."""
    del principal
    return {
        "questions": [
            {"id": q.id, "level": q.level, "text_ja": q.text_ja, "text_en": q.text_en}
            for q in QUESTIONS
        ]
    }


@router.post(f"{PREFIX}/target-level")
def api_target_level(
    request: Request, body: TargetLevelAnswers, principal: CurrentPrincipal
) -> dict[str, Any]:
    """The level a company should target, from yes/no answers (changes nothing)."""
    result = target_level(body.answers)
    lang = language_for(request, principal)
    return {
        "level": result.level,
        "reasons": [q.id for q in result.reasons],
        "unanswered": list(result.unanswered),
        "explanation": result.explain(lang),
    }


@router.get(f"{PREFIX}/assessments", response_model=list[AssessmentPublic])
def api_list_assessments(
    session: SessionDep, scope: TenantScopeDep, tenant_id: int | None = None
) -> list[dict[str, Any]]:
    rows = repo.list_assessment_rows(session, tenant_ids=scope.ids_for(tenant_id))
    counts = repo.answered_counts(session, assessment_ids=[r.id for r in rows])
    return [assessment_summary(r, counts.get(r.id, 0)) for r in rows]


@router.post(f"{PREFIX}/assessments", response_model=AssessmentPublic, status_code=201)
def api_create_assessment(
    request: Request,
    body: AssessmentCreate,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
) -> dict[str, Any]:
    tenant = choose_tenant(session, scope, body.tenant_id)
    require_writer(scope.principal)
    a = create_assessment(
        session,
        request,
        scope.principal,
        service,
        tenant,
        framework=body.framework,
        title=body.title,
        target=body.target_level,
    )
    session.commit()
    return assessment_public(tenant, a)


@router.get(f"{PREFIX}/assessments/{{assessment_id}}", response_model=AssessmentDetail)
def api_get_assessment(
    assessment_id: str, session: SessionDep, scope: TenantScopeDep, service: ServiceDep
) -> dict[str, Any]:
    tenant = tenant_of(session, scope, assessment_id)
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    return {
        **assessment_public(tenant, a),
        "answers": {k: answer_public(a, k) for k in a.answers},
        "checks": {
            k: {
                "check": c.check,
                "passed": c.passed,
                "at": c.at.isoformat(),
                "summary_ja": c.summary_ja,
                "summary_en": c.summary_en,
                "contradicted": bool(c.passed is False and a.status(k) is Status.DONE),
            }
            for k, c in a.checks.items()
        },
    }


@router.patch(f"{PREFIX}/assessments/{{assessment_id}}", response_model=AssessmentPublic)
def api_update_assessment(
    request: Request,
    assessment_id: str,
    body: AssessmentUpdate,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
) -> dict[str, Any]:
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    a = update_assessment(
        session,
        request,
        scope.principal,
        service,
        tenant,
        assessment_id,
        title=body.title,
        target=body.target_level,
    )
    session.commit()
    return assessment_public(tenant, a)


@router.delete(f"{PREFIX}/assessments/{{assessment_id}}", status_code=204)
def api_delete_assessment(
    request: Request, assessment_id: str, session: SessionDep, scope: TenantScopeDep
) -> Response:
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    repo.delete_assessment(session, tenant_id=tenant.id, assessment_id=assessment_id)
    audit_request(
        session,
        request,
        scope.principal,
        action="guideline.assessment.delete",
        tenant_id=tenant.id,
        target=f"guideline:{assessment_id}",
    )
    session.commit()
    return Response(status_code=204)


@router.get(f"{PREFIX}/assessments/{{assessment_id}}/items")
def api_assessment_items(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    label: int | None = None,
) -> dict[str, Any]:
    """The questionnaire: labels with progress, and the items (of one label) with answers."""
    tenant = tenant_of(session, scope, assessment_id)
    lang = language_for(request, scope.principal)
    progress = service.label_progress(tenant=tenant.slug, assessment_id=assessment_id)
    rows = []
    labels = [p.no for p in progress] if label is None else [label]
    for no in labels:
        rows.extend(
            service.questionnaire(tenant=tenant.slug, assessment_id=assessment_id, label=no)
        )
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    return {
        "labels": [
            {
                "no": p.no,
                "name": p.name_en if lang == "en" else p.name_ja,
                "total": p.total,
                "answered": p.answered,
                "progress": p.progress,
            }
            for p in progress
        ],
        "items": [
            {
                "id": r.item.id,
                "label": r.item.label,
                "level": r.item.level,
                "text": r.item.text(lang),
                "provenance": r.item.provenance.status.value,
                "answer": answer_public(a, r.item.id).model_dump(mode="json"),
                "check": (
                    {"check": r.check.check, "passed": r.check.passed, "at": r.check.at.isoformat()}
                    if r.check
                    else None
                ),
                "contradicted": r.contradicted,
            }
            for r in rows
        ],
    }


@router.put(
    f"{PREFIX}/assessments/{{assessment_id}}/answers/{{item_id}}", response_model=AnswerPublic
)
def api_answer(
    request: Request,
    assessment_id: str,
    item_id: str,
    body: AnswerUpdate,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
) -> AnswerPublic:
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    given = body.model_dump(include=body.model_fields_set)
    answer = answer_item(
        session, request, scope.principal, service, tenant, assessment_id, item_id, given
    )
    session.commit()
    return answer_to_public(answer)


@router.get(f"{PREFIX}/assessments/{{assessment_id}}/history")
def api_history(
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    item: str | None = None,
) -> list[dict[str, Any]]:
    tenant = tenant_of(session, scope, assessment_id)
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    return [
        {
            "item": h.item_id,
            "at": h.at.isoformat(),
            "actor": h.actor,
            "source": h.source,
            "before": h.before,
            "after": h.after,
        }
        for h in a.history
        if item is None or h.item_id == item
    ]


@router.get(f"{PREFIX}/assessments/{{assessment_id}}/score")
def api_score(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
) -> dict[str, Any]:
    """Rates per level (cumulative) and per label; ``rates_by_level`` {"1": r, ...}."""
    tenant = tenant_of(session, scope, assessment_id)
    lang = language_for(request, scope.principal)
    dash = service.dashboard(tenant=tenant.slug, assessment_id=assessment_id, lang=lang)
    score: dict[str, Any] = dash["score"]
    score["notice"] = dash["notice"]
    return score


@router.get(f"{PREFIX}/assessments/{{assessment_id}}/roadmap")
def api_roadmap(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
) -> dict[str, Any]:
    tenant = tenant_of(session, scope, assessment_id)
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    return build_roadmap(framework_of(a), a).to_dict(language_for(request, scope.principal))


@router.post(
    f"{PREFIX}/assessments/{{assessment_id}}/items/{{item_id}}/evidence",
    response_model=EvidencePublic,
    status_code=201,
)
def api_upload_evidence(
    request: Request,
    assessment_id: str,
    item_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    upload: UploadDep,
) -> EvidencePublic:
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    out = upload_evidence(
        session, request, scope.principal, service, tenant, assessment_id, item_id, upload
    )
    session.commit()
    return out


@router.get(f"{PREFIX}/assessments/{{assessment_id}}/evidence/{{sha256}}")
def api_download_evidence(
    assessment_id: str, sha256: str, session: SessionDep, scope: TenantScopeDep, service: ServiceDep
) -> Response:
    tenant = tenant_of(session, scope, assessment_id)
    ref, data = service.open_evidence(
        tenant=tenant.slug, assessment_id=assessment_id, sha256=sha256
    )
    return Response(
        data,
        media_type=ref.media_type,
        headers={"Content-Disposition": disposition(ref.filename or f"{sha256[:12]}.bin")},
    )


@router.post(f"{PREFIX}/assessments/{{assessment_id}}/checksheet", response_model=ImportResult)
def api_import_sheet(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    upload: UploadDep,
    mapping: Annotated[list[str] | None, Query()] = None,
) -> ImportResult:
    """Import the official check sheet (.xlsx); ``mapping`` like ``answer=F`` when needed."""
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    specs = [*(mapping or []), *upload.lists.get("mapping", [])]
    out = import_sheet(
        session, request, scope.principal, service, tenant, assessment_id, upload, specs
    )
    session.commit()
    return out


@router.get(f"{PREFIX}/assessments/{{assessment_id}}/checksheet")
def api_export_sheet(
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    mapping: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """The answers written into a copy of the workbook imported last."""
    tenant = tenant_of(session, scope, assessment_id)
    return export_sheet(session, service, tenant, assessment_id, None, mapping or [])


@router.post(f"{PREFIX}/assessments/{{assessment_id}}/checksheet/export")
def api_export_into(
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    upload: UploadDep,
    mapping: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """The answers written into a copy of the workbook sent (nothing is stored)."""
    tenant = tenant_of(session, scope, assessment_id)
    data, filename = upload.require(service.max_evidence_bytes, "check sheet")
    check_type(data, filename or "sheet.xlsx", [XLSX], "check sheet")
    return export_sheet(session, service, tenant, assessment_id, data, mapping or [])


@router.get(f"{PREFIX}/assessments/{{assessment_id}}/compare")
def api_compare(
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    earlier: Annotated[str | None, Query(alias="with", max_length=64)] = None,
) -> dict[str, Any]:
    """What improved and regressed since the assessment ``with`` (default: the one before)."""
    tenant = tenant_of(session, scope, assessment_id)
    return compare_assessments(session, scope, service, tenant, assessment_id, earlier)


@router.post(f"{PREFIX}/assessments/{{assessment_id}}/checks")
def api_run_checks(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    observations: Annotated[dict[str, Any] | None, Body()] = None,
) -> dict[str, Any]:
    """Run the automatic checks; results are kept apart from the declared answers."""
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    out = run_checks(
        session, request, scope.principal, service, tenant, assessment_id, observations
    )
    session.commit()
    return out


@router.post(f"{PREFIX}/meti", response_model=AssessmentPublic, status_code=201)
def api_create_meti(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    upload: UploadDep,
    tenant_id: int | None = None,
    title: Annotated[str, Query(max_length=200)] = "",
) -> dict[str, Any]:
    """A METI SCS assessment from METI's criteria CSV (send the CSV as the body or ``file``)."""
    requested = upload.fields.get("tenant_id", "").strip()
    if requested:
        try:
            tenant_id = int(requested)
        except ValueError:
            raise ValidationError("tenant_id must be a number") from None
    tenant = choose_tenant(session, scope, tenant_id)
    require_writer(scope.principal)
    a = create_meti_assessment(
        session,
        request,
        scope.principal,
        service,
        tenant,
        upload,
        upload.fields.get("title", title).strip()[:200],
    )
    session.commit()
    return assessment_public(tenant, a)


@router.get(f"{PREFIX}/assessments/{{assessment_id}}/proposals")
def api_list_proposals(
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    state: Annotated[str | None, Query(pattern="^(open|accepted|rejected)$")] = None,
) -> list[dict[str, Any]]:
    tenant = tenant_of(session, scope, assessment_id)
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    return [proposal_dict(p) for p in a.proposals if state is None or p.state == state]


@router.post(f"{PREFIX}/assessments/{{assessment_id}}/proposals")
def api_make_proposals(
    assessment_id: str,
    body: ProposalCreate,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
) -> list[dict[str, Any]]:
    """Answers proposed from the other framework; nothing changes until one is accepted."""
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    new = make_proposals(session, scope, service, tenant, assessment_id, body.source)
    session.commit()
    return [proposal_dict(p) for p in new]


@router.post(f"{PREFIX}/assessments/{{assessment_id}}/proposals/decide")
def api_decide_proposal(
    request: Request,
    assessment_id: str,
    body: ProposalDecision,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
) -> dict[str, Any]:
    tenant = tenant_of(session, scope, assessment_id)
    require_writer(scope.principal)
    decided = decide_proposal(
        session,
        request,
        scope.principal,
        service,
        tenant,
        assessment_id,
        body.proposal_id,
        body.accept,
    )
    session.commit()
    return proposal_dict(decided)


@router.get(f"{PREFIX}/assessments/{{assessment_id}}/report")
def api_report(
    request: Request,
    assessment_id: str,
    session: SessionDep,
    scope: TenantScopeDep,
    service: ServiceDep,
    format: Annotated[str, Query(pattern="^(html|pdf)$")] = "html",  # noqa: A002
    lang: Annotated[str | None, Query(pattern="^(ja|en)$")] = None,
) -> Response:
    """The management report in Japanese (or English), as HTML or PDF."""
    tenant = tenant_of(session, scope, assessment_id)
    return report_response(
        service, tenant, assessment_id, format, lang or language_for(request, scope.principal)
    )


__all__ = ["PREFIX", "router"]
