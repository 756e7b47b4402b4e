"""Wiring between the guideline domain, the store and the web layer (used by the routers).

Everything a guideline route needs beyond one service call lives here, so the routers stay
thin: the per-request :class:`~mamori.guideline.service.GuidelineService` on SQL storage,
the tenant of an assessment checked against the caller's scope (another tenant's assessment
is reported as missing), role checks, bounded uploads (413 too large, 415 forbidden type),
check-sheet import/export through temporary files, METI cross-reference proposals, automatic
checks on what the store knows, and the audit entries of every change.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import Response

from mamori.config import Settings
from mamori.errors import CatalogueError, NotFoundError, PermissionDeniedError, ValidationError
from mamori.guideline.assessment import Answer, Assessment, Proposal, framework_of
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
from mamori.guideline.report import build_report, render_html, render_pdf
from mamori.guideline.service import GuidelineService
from mamori.store.repos import guideline as repo
from mamori.store.repos import ingest as ingest_repo
from mamori.store.repos import tenants
from mamori.store.tables import GuidelineAssessment, Role, Tenant
from mamori.web.deps import (
    Principal,
    SessionDep,
    SettingsDep,
    TenantScope,
    audit_request,
)
from mamori.web.schemas.guideline import (
    AnswerPublic,
    EvidencePublic,
    ImportResult,
)

WRITERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MULTIPART_OVERHEAD = 64 * 1024
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


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

    The store contributes what it holds: the tenant's log retention and the log sources it
    has received events from in the retention window; staff may send further observations
    (rule counts ...) gathered elsewhere. Customers
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
    if "log_sources" not in data:
        since = datetime.now(UTC) - timedelta(days=tenant.retention_days)
        data["log_sources"] = ingest_repo.source_activity(session, tenant_id=tenant.id, since=since)
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


__all__ = [
    "MULTIPART_OVERHEAD",
    "REPORT_CSP",
    "ServiceDep",
    "Upload",
    "UploadDep",
    "WRITERS",
    "XLSX",
    "answer_item",
    "answer_public",
    "answer_to_public",
    "assessment_public",
    "assessment_summary",
    "can_write",
    "check_type",
    "choose_tenant",
    "compare_assessments",
    "create_assessment",
    "create_meti_assessment",
    "crossref_of",
    "decide_proposal",
    "disposition",
    "export_sheet",
    "framework_for",
    "get_service",
    "import_sheet",
    "make_proposals",
    "proposal_dict",
    "read_upload",
    "report_response",
    "require_writer",
    "run_checks",
    "service_for",
    "tenant_of",
    "update_assessment",
    "upload_evidence",
]
