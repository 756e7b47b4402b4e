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

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import Response

from mamori.config import Settings
from mamori.errors import CatalogueError, NotFoundError, PermissionDeniedError, ValidationError
from mamori.guideline.assessment import Answer, Assessment, Proposal, Status, framework_of
from mamori.guideline.checks import Observations
from mamori.guideline.checksheet import ColumnMapping
from mamori.guideline.evidence import ALLOWED_TYPES, sniff_media_type
from mamori.guideline.loader import resolve_framework
from mamori.guideline.meti import (
    JAMA_ID,
    METI_ID,
    CrossReference,
    Link,
    accept_proposal,
    parse_meti_csv,
    propose_answers,
    reject_proposal,
)
from mamori.guideline.models import Framework
from mamori.guideline.questionnaire import QUESTIONS, target_level
from mamori.guideline.report import build_report, render_html, render_pdf
from mamori.guideline.roadmap import build_roadmap
from mamori.guideline.service import GuidelineService
from mamori.store.repos import guideline as repo
from mamori.store.repos import tenants
from mamori.store.tables import GuidelineAssessment, Role, Tenant
from mamori.web.deps import (
    CurrentPrincipal,
    Principal,
    SessionDep,
    SettingsDep,
    TenantScope,
    TenantScopeDep,
    audit_request,
    language_for,
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
WRITERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MULTIPART_OVERHEAD = 64 * 1024
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

# --------------------------------------------------------------------------- wiring helpers


def service_for(session: Session, settings: Settings) -> GuidelineService:
    """A GuidelineService on the request's session (the caller commits)."""
    return GuidelineService(
        repo.SqlAssessmentRepository(session),
        repo.SqlEvidenceBlobs(session),
        max_evidence_bytes=settings.guideline_max_evidence_bytes,
    )


def get_service(session: SessionDep, settings: SettingsDep) -> GuidelineService:
    return service_for(session, settings)


ServiceDep = Annotated[GuidelineService, Depends(get_service)]


def can_write(principal: Principal) -> bool:
    return principal.role in WRITERS and not principal.is_api_key


def require_writer(principal: Principal) -> None:
    """Raises:
    PermissionDeniedError: a viewer or an API key.
    """
    if not can_write(principal):
        raise PermissionDeniedError("your role may only read guideline assessments")


def tenant_of(session: Session, scope: TenantScope, assessment_id: str) -> Tenant:
    """The tenant owning ``assessment_id``, if the caller may see it.

    Raises:
        NotFoundError: no such assessment, or one of a tenant outside the scope.
    """
    try:
        tenant_id = repo.tenant_of_assessment(session, assessment_id=assessment_id)
    except NotFoundError:
        raise NotFoundError("assessment not found") from None
    scope.check(tenant_id, "assessment")
    return tenants.get_tenant(session, tenant_id=tenant_id)


def choose_tenant(session: Session, scope: TenantScope, requested: int | None) -> Tenant:
    """The tenant a new assessment (or a list) is for.

    Raises:
        NotFoundError: ``requested`` is outside the scope.
        ValidationError: no tenant given and the caller has several.
    """
    if requested is not None:
        scope.check(requested, "tenant")
        return tenants.get_tenant(session, tenant_id=requested)
    if scope.current is not None:
        return tenants.get_tenant(session, tenant_id=scope.current)
    ids = scope.tenant_ids
    if ids is not None and len(ids) == 1:
        return tenants.get_tenant(session, tenant_id=next(iter(ids)))
    raise ValidationError("choose a tenant (tenant_id) for the assessment")


def framework_for(spec: str) -> Framework:
    try:
        return resolve_framework(spec)
    except (CatalogueError, NotFoundError) as exc:
        raise ValidationError(f"unknown framework {spec!r}: {exc}") from exc


def assessment_public(tenant: Tenant, a: Assessment) -> dict[str, Any]:
    fw = framework_of(a)
    counts = fw.provenance_counts()
    return {
        "id": a.id,
        "tenant_id": tenant.id,
        "framework_id": a.framework_id,
        "framework_version": a.framework_version,
        "title": a.title,
        "target_level": a.target_level,
        "created_at": a.created_at,
        "items": len(fw.items),
        "answered": sum(1 for x in a.answers.values() if x.status is not None),
        "catalogue": {
            "verified": counts.verified,
            "derived": counts.derived,
            "unknown": counts.unknown,
        },
    }


def answer_public(a: Assessment, item_id: str) -> AnswerPublic:
    return answer_to_public(a.answer(item_id))


def answer_to_public(ans: Answer) -> AnswerPublic:
    return AnswerPublic(
        item_id=ans.item_id,
        status=ans.status.value if ans.status else None,
        reason=ans.reason,
        comment=ans.comment,
        owner=ans.owner,
        due=ans.due,
        effort_days=ans.effort_days,
        evidence=[
            EvidencePublic(
                sha256=e.sha256,
                size=e.size,
                media_type=e.media_type,
                filename=e.filename,
                added_at=e.added_at,
                added_by=e.added_by,
            )
            for e in ans.evidence
        ],
        answered_by=ans.answered_by,
        answered_at=ans.answered_at,
    )


# --------------------------------------------------------------------------- uploads


@dataclass
class Upload:
    """What an upload request carried, read before the route's checks (bounded in size)."""

    data: bytes | None = None
    filename: str = ""
    too_large: bool = False
    fields: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)

    def require(self, limit: int, what: str) -> tuple[bytes, str]:
        """The bytes and file name.

        Raises:
            HTTPException: 413 when larger than ``limit``.
            ValidationError: no file at all.
        """
        if self.too_large:
            raise HTTPException(
                413,
                f"{what} is larger than the limit of {limit // (1024 * 1024) or 1} MiB"
                if limit >= 1024 * 1024
                else f"{what} is larger than the limit of {limit} bytes",
            )
        if not self.data:
            raise ValidationError(f"no {what} uploaded (send the file as 'file')")
        return self.data, self.filename


async def read_upload(request: Request, settings: SettingsDep) -> Upload:
    """Read a multipart ``file`` field or the raw body, never more than the limit + 1 byte."""
    limit = settings.guideline_max_evidence_bytes
    up = Upload()
    if request.method not in ("POST", "PUT"):
        return up
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit + MULTIPART_OVERHEAD:
        up.too_large = True
        return up
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key == "file" and up.data is None:
                    up.data = await value.read(limit + 1)
                    up.filename = value.filename or ""
            else:
                up.fields.setdefault(key, value)
                up.lists.setdefault(key, []).append(value)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        for key, value in form.multi_items():
            if isinstance(value, str):
                up.fields.setdefault(key, value)
                up.lists.setdefault(key, []).append(value)
    else:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                up.too_large = True
                return up
            chunks.append(chunk)
        up.data = b"".join(chunks)
        up.filename = request.query_params.get("filename", "")
    if up.data is not None and len(up.data) > limit:
        up.too_large = True
        up.data = None
    return up


UploadDep = Annotated[Upload, Depends(read_upload)]


def check_type(data: bytes, filename: str, allowed: Sequence[str], what: str) -> None:
    """Raises:
    HTTPException: 415 when the content is not one of ``allowed`` media types.
    """
    media = sniff_media_type(data[:4096], data if data[:4] == b"PK\x03\x04" else None)
    if media == "text/plain" and filename.lower().endswith(".csv"):
        media = "text/csv"
    if media not in allowed:
        raise HTTPException(415, f"{what} {filename!r} has type {media}, which is not accepted")


def upload_evidence(
    session: Session,
    request: Request,
    principal: Principal,
    service: GuidelineService,
    tenant: Tenant,
    assessment_id: str,
    item_id: str,
    upload: Upload,
) -> EvidencePublic:
    """Validate (413/415/422), store, attach and audit one evidence file."""
    data, filename = upload.require(service.max_evidence_bytes, "evidence")
    allowed = (
        sorted(service.allowed_evidence_types)
        if service.allowed_evidence_types is not None
        else sorted(ALLOWED_TYPES)
    )
    check_type(data, filename or "upload", allowed, "evidence")
    ref = service.upload_evidence(
        tenant=tenant.slug,
        assessment_id=assessment_id,
        item_id=item_id,
        stream=data,
        filename=filename,
        actor=principal.name,
    )
    audit_request(
        session,
        request,
        principal,
        action="guideline.evidence.upload",
        tenant_id=tenant.id,
        target=f"guideline:{assessment_id}:{item_id}",
        detail={"sha256": ref.sha256, "size": ref.size, "filename": ref.filename},
    )
    return EvidencePublic(
        sha256=ref.sha256,
        size=ref.size,
        media_type=ref.media_type,
        filename=ref.filename,
        added_at=ref.added_at,
        added_by=ref.added_by,
    )


def import_sheet(
    session: Session,
    request: Request,
    principal: Principal,
    service: GuidelineService,
    tenant: Tenant,
    assessment_id: str,
    upload: Upload,
    mapping_specs: Sequence[str],
) -> ImportResult:
    """Import the official check sheet into an assessment and keep the workbook for export."""
    data, filename = upload.require(service.max_evidence_bytes, "check sheet")
    filename = Path((filename or "checksheet.xlsx").replace("\\", "/")).name
    check_type(data, filename, [XLSX], "check sheet")
    mapping = ColumnMapping.parse([s for s in mapping_specs if s.strip()])
    with tempfile.TemporaryDirectory(prefix="mamori-sheet-") as tmp:
        path = Path(tmp) / (filename if filename.lower().endswith(".xlsx") else "sheet.xlsx")
        path.write_bytes(data)
        try:
            result = service.import_sheet(
                tenant=tenant.slug,
                assessment_id=assessment_id,
                path=path,
                mapping=mapping,
                actor=principal.name,
            )
        except CatalogueError as exc:
            raise ValidationError(str(exc).replace(str(path), filename)) from exc
    sha = repo.put_blob(session, tenant_id=tenant.id, data=data, media_type=XLSX)
    repo.set_sheet(
        session, tenant_id=tenant.id, assessment_id=assessment_id, sha256=sha, filename=filename
    )
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    verified = framework_of(a).provenance_counts().verified
    audit_request(
        session,
        request,
        principal,
        action="guideline.checksheet.import",
        tenant_id=tenant.id,
        target=f"guideline:{assessment_id}",
        detail={
            "filename": filename,
            "sha256": sha,
            "changed": result.changed,
            "unchanged": result.unchanged,
            "kept": result.kept,
        },
    )
    return ImportResult(
        changed=result.changed,
        unchanged=result.unchanged,
        kept=result.kept,
        verified_items=verified,
        sheet=filename,
    )


def export_sheet(
    session: Session,
    service: GuidelineService,
    tenant: Tenant,
    assessment_id: str,
    workbook: bytes | None,
    mapping_specs: Sequence[str],
) -> Response:
    """The assessment's answers written into a copy of the (stored or given) workbook."""
    name = "checksheet.xlsx"
    if workbook is None:
        row = repo.list_assessment_rows(session, tenant_ids=[tenant.id])
        stored = next((r for r in row if r.id == assessment_id), None)
        if stored is None or not stored.sheet_sha256:
            raise NotFoundError(
                "no official check sheet has been imported into this assessment; import it "
                "first or send the workbook to export into"
            )
        workbook = repo.get_blob(session, tenant_id=tenant.id, sha256=stored.sheet_sha256)
        name = stored.sheet_filename or name
    mapping = ColumnMapping.parse([s for s in mapping_specs if s.strip()])
    with tempfile.TemporaryDirectory(prefix="mamori-export-") as tmp:
        source = Path(tmp) / "source.xlsx"
        dest = Path(tmp) / "answered.xlsx"
        source.write_bytes(workbook)
        try:
            result = service.export_sheet(
                tenant=tenant.slug,
                assessment_id=assessment_id,
                workbook=source,
                dest=dest,
                mapping=mapping,
            )
        except CatalogueError as exc:
            raise ValidationError(str(exc).replace(str(source), name)) from exc
        data = dest.read_bytes()
    stem = Path(name).stem
    return Response(
        data,
        media_type=XLSX,
        headers={
            "Content-Disposition": disposition(f"{stem}_回答.xlsx"),
            "X-Mamori-Written": str(result.written),
            "X-Mamori-Skipped": str(len(result.skipped)),
        },
    )


def disposition(filename: str, inline: bool = False) -> str:
    kind = "inline" if inline else "attachment"
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def report_response(
    service: GuidelineService, tenant: Tenant, assessment_id: str, fmt: str, lang: str
) -> Response:
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    report = build_report(framework_of(a), a, lang=lang)
    if fmt == "pdf":
        return Response(
            render_pdf(report),
            media_type="application/pdf",
            headers={"Content-Disposition": disposition(f"guideline-report-{a.id[:8]}.pdf")},
        )
    # the report is one self-contained page with inline CSS and SVG, and no script at all
    return HTMLResponse(render_html(report), headers={"Content-Security-Policy": REPORT_CSP})


# --------------------------------------------------------------------------- routes


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


def assessment_summary(row: GuidelineAssessment, answered: int) -> dict[str, Any]:
    """The list view of an assessment row, without loading its answers."""
    if row.catalogue:
        items = row.catalogue.get("items") or []
        statuses = [str((i.get("provenance") or {}).get("status", "")) for i in items]
        catalogue = {k: statuses.count(k) for k in ("verified", "derived", "unknown")}
        total = len(items)
    else:
        fw = framework_for(f"{row.framework_id}@{row.framework_version}")
        pc = fw.provenance_counts()
        catalogue = {"verified": pc.verified, "derived": pc.derived, "unknown": pc.unknown}
        total = len(fw.items)
    return {
        "id": row.id,
        "tenant_id": row.tenant_id,
        "framework_id": row.framework_id,
        "framework_version": row.framework_version,
        "title": row.title,
        "target_level": row.target_level,
        "created_at": row.created_at,
        "items": total,
        "answered": answered,
        "catalogue": catalogue,
    }


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


def create_assessment(
    session: Session,
    request: Request,
    principal: Principal,
    service: GuidelineService,
    tenant: Tenant,
    *,
    framework: str,
    title: str,
    target: int | None,
) -> Assessment:
    a = service.create(
        tenant=tenant.slug, framework=framework_for(framework), title=title, target_level=target
    )
    audit_request(
        session,
        request,
        principal,
        action="guideline.assessment.create",
        tenant_id=tenant.id,
        target=f"guideline:{a.id}",
        detail={"framework": a.framework_key, "title": title, "target_level": target},
    )
    return a


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


def update_assessment(
    session: Session,
    request: Request,
    principal: Principal,
    service: GuidelineService,
    tenant: Tenant,
    assessment_id: str,
    *,
    title: str | None,
    target: int | None,
    detail: dict[str, Any] | None = None,
) -> Assessment:
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    if target is not None:
        a = service.set_target_level(tenant=tenant.slug, assessment_id=assessment_id, level=target)
    if title is not None and title != a.title:
        a.title = title.strip()
        service.assessments.save(a)
    audit_request(
        session,
        request,
        principal,
        action="guideline.assessment.update",
        tenant_id=tenant.id,
        target=f"guideline:{assessment_id}",
        detail={"title": title, "target_level": target, **(detail or {})},
    )
    return a


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


def answer_item(
    session: Session,
    request: Request,
    principal: Principal,
    service: GuidelineService,
    tenant: Tenant,
    assessment_id: str,
    item_id: str,
    given: dict[str, Any],
) -> Answer:
    """Apply the given answer fields (only those), audit the change, return the answer."""
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    previous = a.answer(item_id)
    before = previous.status
    kwargs: dict[str, Any] = {k: given[k] for k in ("reason", "comment", "owner") if k in given}
    if "due" in given:
        kwargs["due"] = given["due"]
    if "effort_days" in given:
        kwargs["effort_days"] = given["effort_days"]
    kwargs["status"] = given.get("status", before)
    answer = service.answer(
        tenant=tenant.slug,
        assessment_id=assessment_id,
        item_id=item_id,
        actor=principal.name,
        **kwargs,
    )
    after = answer.status
    if answer == previous:
        return answer  # nothing changed, nothing to record
    audit_request(
        session,
        request,
        principal,
        action="guideline.answer",
        tenant_id=tenant.id,
        target=f"guideline:{assessment_id}:{item_id}",
        detail={
            "before": before.value if before else None,
            "after": after.value if after else None,
            "fields": sorted(given),
        },
    )
    return answer


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


def compare_assessments(
    session: Session,
    scope: TenantScope,
    service: GuidelineService,
    tenant: Tenant,
    assessment_id: str,
    earlier: str | None,
) -> dict[str, Any]:
    """The comparison as a dictionary (``earlier``: default the tenant's previous assessment).

    Raises:
        NotFoundError: ``earlier`` outside the caller's scope.
        ValidationError: no earlier assessment, or one of another tenant.
    """
    if earlier is None:
        rows = repo.list_assessment_rows(session, tenant_ids=[tenant.id])
        ids = [r.id for r in rows]
        older = ids[ids.index(assessment_id) + 1 :] if assessment_id in ids else []
        if not older:
            raise ValidationError("there is no earlier assessment of this tenant to compare with")
        earlier = older[0]
    other = tenant_of(session, scope, earlier)
    if other.id != tenant.id:
        raise ValidationError("only assessments of the same tenant can be compared")
    result = service.compare(tenant=tenant.slug, earlier_id=earlier, later_id=assessment_id)
    out: dict[str, Any] = {"earlier": earlier, "later": assessment_id, **result.to_dict()}
    return out


def run_checks(
    session: Session,
    request: Request,
    principal: Principal,
    service: GuidelineService,
    tenant: Tenant,
    assessment_id: str,
    supplied: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Run the automatic checks on what the platform knows about the tenant.

    The store contributes what it holds today (the tenant's log retention); staff may send
    further observations (log sources seen, rule counts ...) gathered elsewhere. Customers
    cannot supply observations: automatic evidence must not be self-declared.

    Raises:
        PermissionDeniedError: a customer sending observations.
        ValidationError: malformed observations.
    """
    data: dict[str, Any] = dict(supplied or {})
    if data and not principal.role.is_staff:
        raise PermissionDeniedError("only operators and administrators may supply observations")
    if data.get("tenant") not in (None, tenant.slug):
        raise ValidationError("observations of another tenant")
    data["tenant"] = tenant.slug
    data.setdefault("retention_days", tenant.retention_days)
    observations = Observations.from_dict(data)
    contradicted = service.record_observations(
        tenant=tenant.slug, assessment_id=assessment_id, observations=observations
    )
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    results = {
        k: {
            "check": c.check,
            "passed": c.passed,
            "at": c.at.isoformat(),
            "summary_ja": c.summary_ja,
            "summary_en": c.summary_en,
            "evidence": c.evidence,
        }
        for k, c in a.checks.items()
    }
    audit_request(
        session,
        request,
        principal,
        action="guideline.checks.run",
        tenant_id=tenant.id,
        target=f"guideline:{assessment_id}",
        detail={
            "results": {k: v["passed"] for k, v in results.items()},
            "contradicted": contradicted,
            "supplied": sorted(supplied or {}),
        },
    )
    return {"checks": results, "contradicted": contradicted}


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


# --------------------------------------------------------------------------- METI SCS


def create_meti_assessment(
    session: Session,
    request: Request,
    principal: Principal,
    service: GuidelineService,
    tenant: Tenant,
    upload: Upload,
    title: str,
) -> Assessment:
    """Create a METI SCS assessment whose catalogue is METI's criteria CSV (uploaded)."""
    data, filename = upload.require(service.max_evidence_bytes, "METI criteria CSV")
    filename = Path((filename or "meti.csv").replace("\\", "/")).name
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(415, f"{filename!r} is not a UTF-8 CSV file") from None
    try:
        imported = parse_meti_csv(text, path=filename, jama=resolve_framework(JAMA_ID))
    except CatalogueError as exc:
        raise ValidationError(str(exc)) from exc
    a = service.create(tenant=tenant.slug, framework=imported.framework, title=title)
    if a.catalogue is None:  # the criteria are the official text: keep them with the assessment
        a.catalogue = imported.framework
        service.assessments.save(a)
    audit_request(
        session,
        request,
        principal,
        action="guideline.assessment.create",
        tenant_id=tenant.id,
        target=f"guideline:{a.id}",
        detail={"framework": a.framework_key, "title": title, "source": filename},
    )
    return a


def crossref_of(*frameworks: Framework) -> CrossReference:
    """The METI↔JAMA links, rebuilt from the JAMA references of the METI catalogue."""
    for fw in frameworks:
        if fw.id == METI_ID:
            return CrossReference(
                links=tuple(
                    Link(meti_id=item.id, jama_id=j, cited_level=None)
                    for item in fw.items
                    for j in item.refs.get(JAMA_ID, ())
                )
            )
    raise ValidationError("cross-reference proposals need one METI SCS and one JAMA assessment")


def proposal_dict(p: Proposal) -> dict[str, Any]:
    return {
        "id": p.id,
        "item": p.item_id,
        "status": p.status.value,
        "basis": p.basis,
        "source_framework": p.source_framework,
        "source_items": list(p.source_items),
        "created_at": p.created_at.isoformat(),
        "state": p.state,
    }


def make_proposals(
    session: Session,
    scope: TenantScope,
    service: GuidelineService,
    tenant: Tenant,
    assessment_id: str,
    source_id: str | None,
) -> list[Proposal]:
    """Proposals for ``assessment_id`` from the other framework's answers (nothing applied)."""
    target = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    if source_id is None:
        other = METI_ID if target.framework_id == JAMA_ID else JAMA_ID
        rows = repo.list_assessment_rows(session, tenant_ids=[tenant.id])
        found = next((r.id for r in rows if r.framework_id == other), None)
        if found is None:
            raise ValidationError(f"this tenant has no {other} assessment to propose from")
        source_id = found
    if tenant_of(session, scope, source_id).id != tenant.id:
        raise ValidationError("proposals come only from an assessment of the same tenant")
    source = service.get(tenant=tenant.slug, assessment_id=source_id)
    target_fw, source_fw = framework_of(target), framework_of(source)
    new = propose_answers(source, target, target_fw, crossref_of(target_fw, source_fw))
    service.assessments.save(target)
    return new


def decide_proposal(
    session: Session,
    request: Request,
    principal: Principal,
    service: GuidelineService,
    tenant: Tenant,
    assessment_id: str,
    proposal_id: str | None,
    accept: bool | None,
) -> Proposal:
    """Apply (``accept``) or reject one open proposal; only an accepted one changes an answer."""
    if not proposal_id or accept is None:
        raise ValidationError("give proposal_id and accept (true or false)")
    a = service.get(tenant=tenant.slug, assessment_id=assessment_id)
    if accept:
        decided = accept_proposal(a, framework_of(a), proposal_id, actor=principal.name)
    else:
        decided = reject_proposal(a, proposal_id)
    service.assessments.save(a)
    audit_request(
        session,
        request,
        principal,
        action="guideline.proposal." + ("accept" if accept else "reject"),
        tenant_id=tenant.id,
        target=f"guideline:{assessment_id}:{decided.item_id}",
        detail={"proposal": decided.id, "status": decided.status.value},
    )
    return decided


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


__all__ = [
    "PREFIX",
    "WRITERS",
    "ServiceDep",
    "Upload",
    "UploadDep",
    "answer_item",
    "assessment_summary",
    "can_write",
    "choose_tenant",
    "compare_assessments",
    "create_assessment",
    "create_meti_assessment",
    "decide_proposal",
    "make_proposals",
    "proposal_dict",
    "export_sheet",
    "import_sheet",
    "report_response",
    "require_writer",
    "run_checks",
    "router",
    "service_for",
    "tenant_of",
    "update_assessment",
    "upload_evidence",
]
