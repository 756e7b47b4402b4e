"""The pack as a service, as JSON under ``/api/v1/service``: the computations with the CLI's
field names, quotes and contracts, and the onboarding case steps (operators and administrators
only; customers and API keys get 403). The pages are in :mod:`mamori.web.routers.service_ui`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import Response

from mamori.errors import (
    DuplicateError,
    NotFoundError,
    ValidationError,
)
from mamori.service import onboarding as flow
from mamori.service.catalog import load_price_book
from mamori.service.gaps import GapSet, gaps_from_checksheet_bytes
from mamori.service.insurance import calculate_claim, parse_claim
from mamori.service.otasuketai import check_otasuketai
from mamori.service.recommend import NetworkSize, load_gap_coverage, parse_gaps
from mamori.store.repos import service as repo
from mamori.store.tables import ContractRow, OnboardingCaseRow, QuoteRow
from mamori.web.deps import (
    HasherDep,
    SessionDep,
    SettingsDep,
    TenantScope,
    TenantScopeDep,
)
from mamori.web.schemas.service import (
    CancelStep,
    CaseDetail,
    CaseHistoryEntry,
    CasePublic,
    ContractPublic,
    ContractStep,
    InsuranceCalculate,
    MeetingStep,
    ProposalStep,
    ProvisionResult,
    ProvisionStep,
    QuoteCompute,
    QuoteCreate,
    QuoteDetail,
    QuotePublic,
    QuoteStep,
)
from mamori.web.service_wiring import (
    MAX_SHEET_BYTES,
    InviteOutcome,
    StaffScope,
    assign_operator,
    check_invitable,
    customer_devices,
    lang_of,
    quote_pdf_response,
    send_invitation,
    source_ip,
)

router = APIRouter()

API = "/api/v1/service"


def _invalid_input(compute: Callable[[], Any]) -> Any:
    """Run a computation; an unknown course or subsidy year is bad input (422), not 404."""
    try:
        return compute()
    except NotFoundError as exc:
        if isinstance(exc, ValidationError):
            raise ValidationError(str(exc)) from exc
        raise


# --- JSON API --------------------------------------------------------------------------


@router.get(f"{API}/courses", tags=["service"])
def api_courses(request: Request, scope: TenantScopeDep) -> dict[str, Any]:
    """Courses with prices (yen, tax excluded) and お助け隊 type-1 conformance."""
    lang = lang_of(request, scope.principal)
    book = load_price_book()
    return {
        "price_book_version": book.version,
        "tax_percent": book.tax_percent,
        "campaign_per_device_monthly": book.campaign.per_device_monthly,
        "courses": [
            {**c.to_dict(lang), "otasuketai": check_otasuketai(c, price_book=book).to_dict(lang)}
            for c in book.courses.values()
        ],
    }


@router.post(f"{API}/quote", tags=["service"])
def api_compute_quote(body: QuoteCompute, scope: StaffScope) -> dict[str, Any]:
    """Compute a quote (nothing is stored); the JSON of ``mamori quote --format json``."""
    del scope
    quote = _invalid_input(lambda: body.inputs().build(body.quote_date or date.today()))
    result: dict[str, Any] = quote.to_dict(body.lang)
    return result


@router.post(f"{API}/insurance", tags=["service"])
def api_insurance(
    body: InsuranceCalculate, session: SessionDep, scope: TenantScopeDep
) -> dict[str, Any]:
    """What the included insurance pays; the JSON of ``mamori insurance --format json``."""
    devices = body.devices
    if devices is None:
        devices = customer_devices(session, scope.principal)
        if devices is None:
            raise ValidationError("devices is required (no licensed devices on record)")
    return calculate_claim(devices, parse_claim(body.claim)).to_dict(body.lang)


@router.get(f"{API}/quotes", response_model=list[QuotePublic], tags=["service"])
def api_list_quotes(session: SessionDep, scope: StaffScope) -> list[QuoteRow]:
    return repo.list_quotes(session, tenant_ids=scope.tenant_ids)


@router.post(f"{API}/quotes", response_model=QuoteDetail, status_code=201, tags=["service"])
def api_create_quote(
    request: Request, body: QuoteCreate, session: SessionDep, scope: StaffScope
) -> QuoteRow:
    """Number, date and store a quote (``Q-<year>-<seq>``, gap-free per year)."""
    if body.tenant_id is not None:
        scope.check(body.tenant_id, "tenant")
    row: QuoteRow = _invalid_input(
        lambda: repo.create_quote(
            session,
            inputs=body.inputs(),
            issue_date=body.issue_date or date.today(),
            customer=body.customer,
            valid_days=body.valid_days,
            tenant_id=body.tenant_id,
            actor=scope.principal.name,
            source_ip=source_ip(request),
        )
    )
    session.commit()
    return row


@router.get(f"{API}/quotes/{{quote_id}}", response_model=QuoteDetail, tags=["service"])
def api_get_quote(quote_id: int, session: SessionDep, scope: StaffScope) -> QuoteRow:
    return repo.get_quote(session, quote_id=quote_id, tenant_ids=scope.tenant_ids)


@router.get(f"{API}/quotes/{{quote_id}}/pdf", tags=["service"])
def api_quote_pdf(
    quote_id: int, session: SessionDep, scope: StaffScope, lang: str = "ja"
) -> Response:
    """The quote as a PDF (Japanese; ``lang=en`` for English), rendered again each time."""
    return quote_pdf_response(session, scope, quote_id, lang)


@router.get(f"{API}/contracts", response_model=list[ContractPublic], tags=["service"])
def api_list_contracts(session: SessionDep, scope: StaffScope) -> list[ContractRow]:
    return repo.list_contracts(session, tenant_ids=scope.tenant_ids)


@router.get(f"{API}/cases", response_model=list[CasePublic], tags=["service"])
def api_list_cases(
    session: SessionDep, scope: StaffScope, stage: str | None = None
) -> list[OnboardingCaseRow]:
    if stage is not None and stage not in {s.value for s in flow.Stage}:
        raise ValidationError(f"unknown stage {stage!r}")
    return repo.list_cases(session, tenant_ids=scope.tenant_ids, stage=stage)


#: The steps a case may take next, per stage (the JSON API's ``next_steps``).
NEXT_STEPS: dict[str, tuple[str, ...]] = {
    flow.Stage.INQUIRY.value: ("meeting", "cancel"),
    flow.Stage.MEETING.value: ("meeting", "proposal", "cancel"),
    flow.Stage.PROPOSAL.value: ("proposal", "quote", "cancel"),
    flow.Stage.QUOTE.value: ("proposal", "quote", "contract", "cancel"),
    flow.Stage.CONTRACT.value: ("provision", "cancel"),
    flow.Stage.PROVISIONING.value: ("provision", "cancel"),
}


def _case_detail(session: Session, row: OnboardingCaseRow) -> CaseDetail:
    history = repo.case_history(session, row=row)
    return CaseDetail.model_validate(
        {
            **CasePublic.model_validate(row).model_dump(),
            "admin_user_id": row.admin_user_id,
            "history": [CaseHistoryEntry.model_validate(h) for h in history],
            "next_steps": list(NEXT_STEPS.get(row.stage, ())),
        }
    )


@router.get(f"{API}/cases/{{case_id}}", response_model=CaseDetail, tags=["service"])
def api_get_case(case_id: int, session: SessionDep, scope: StaffScope) -> CaseDetail:
    """One onboarding case with its audited steps and the steps it may take next."""
    return _case_detail(
        session, repo.get_case(session, case_id=case_id, tenant_ids=scope.tenant_ids)
    )


def _api_case(session: Session, scope: TenantScope, case_id: int) -> OnboardingCaseRow:
    return repo.get_case(session, case_id=case_id, tenant_ids=scope.tenant_ids)


@router.post(f"{API}/cases/{{case_id}}/meeting", response_model=CaseDetail, tags=["service"])
def api_case_meeting(
    request: Request, case_id: int, body: MeetingStep, session: SessionDep, scope: StaffScope
) -> CaseDetail:
    """Record (or revise) the meeting notes; ``assessment_id`` reads the gaps from a stored
    JAMA/JAPIA assessment of a tenant the caller may see, ``checksheet_base64`` from a filled
    check sheet (read by the guideline area's importer)."""
    row = _api_case(session, scope, case_id)
    given = [
        name
        for name in ("gaps", "assessment_id", "checksheet_base64")
        if getattr(body, name) is not None
    ]
    if len(given) > 1:
        raise ValidationError(
            f"give at most one of gaps, assessment_id, checksheet_base64: {given}"
        )
    gap_set: GapSet | None = None
    gaps: tuple[int, ...] | None = None
    if body.checksheet_base64 is not None:
        try:
            sheet = base64.b64decode(body.checksheet_base64, validate=True)
        except binascii.Error:
            raise ValidationError("checksheet_base64 is not valid base64") from None
        gap_set = gaps_from_checksheet_bytes(
            sheet,
            filename=body.checksheet_filename,
            actor=scope.principal.name,
            max_bytes=MAX_SHEET_BYTES,
        )
    elif body.assessment_id is not None:
        gap_set = repo.assessment_gaps(
            session, assessment_id=body.assessment_id, tenant_ids=scope.tenant_ids
        )
    elif body.gaps is not None:
        gaps = parse_gaps(body.gaps, load_gap_coverage().item_count)
    notes = flow.MeetingNotes(
        held_on=body.held_on,
        attendees=tuple(a.strip() for a in body.attendees),
        notes=body.notes,
        devices=body.devices,
        network_size=NetworkSize.parse(body.network_size),
        gaps=gaps,
        gap_set=gap_set,
    )
    repo.record_meeting(
        session, row=row, notes=notes, actor=scope.principal.name, source_ip=source_ip(request)
    )
    session.commit()
    return _case_detail(session, row)


@router.post(f"{API}/cases/{{case_id}}/proposal", response_model=CaseDetail, tags=["service"])
def api_case_proposal(
    request: Request, case_id: int, body: ProposalStep, session: SessionDep, scope: StaffScope
) -> CaseDetail:
    """Propose the recommended course (the reasons are stored in Japanese and English)."""
    row = _api_case(session, scope, case_id)
    _invalid_input(
        lambda: repo.propose(
            session,
            row=row,
            actor=scope.principal.name,
            course=(body.course or "").strip() or None,
            override_reason=body.override_reason,
            source_ip=source_ip(request),
        )
    )
    session.commit()
    return _case_detail(session, row)


@router.post(f"{API}/cases/{{case_id}}/quote", response_model=CaseDetail, tags=["service"])
def api_case_quote(
    request: Request, case_id: int, body: QuoteStep, session: SessionDep, scope: StaffScope
) -> CaseDetail:
    """Issue a numbered quote for the proposal and attach it (``quote_id`` in the case)."""
    row = _api_case(session, scope, case_id)
    _invalid_input(
        lambda: repo.quote_case(
            session,
            row=row,
            actor=scope.principal.name,
            issue_date=body.issue_date or date.today(),
            months=body.months,
            campaign=body.campaign,
            subsidy_year=body.subsidy_year,
            small_business=body.small_business,
            security_action=body.security_action,
            valid_days=body.valid_days,
            source_ip=source_ip(request),
        )
    )
    session.commit()
    return _case_detail(session, row)


@router.post(f"{API}/cases/{{case_id}}/contract", response_model=CaseDetail, tags=["service"])
def api_case_contract(
    request: Request, case_id: int, body: ContractStep, session: SessionDep, scope: StaffScope
) -> CaseDetail:
    """Record the signed contract for the case's quote."""
    row = _api_case(session, scope, case_id)
    repo.sign_contract(
        session,
        row=row,
        actor=scope.principal.name,
        signed_on=body.signed_on,
        start_date=body.start_date,
        devices=body.devices,
        term_months=body.term_months,
        grant_decision_date=body.grant_decision_date,
        source_ip=source_ip(request),
    )
    session.commit()
    return _case_detail(session, row)


@router.post(f"{API}/cases/{{case_id}}/provision", response_model=ProvisionResult, tags=["service"])
def api_case_provision(
    request: Request,
    case_id: int,
    body: ProvisionStep,
    session: SessionDep,
    scope: StaffScope,
    hasher: HasherDep,
    settings: SettingsDep,
) -> ProvisionResult:
    """Create the tenant and its first administrator (idempotent: sent again, it returns
    what was created, without a password)."""
    row = _api_case(session, scope, case_id)
    try:
        result = repo.provision(
            session,
            row=row,
            hasher=hasher,
            actor=scope.principal.name,
            tenant_slug=body.tenant_slug,
            tenant_name=(body.tenant_name or "").strip() or None,
            admin_username=body.admin_username,
            admin_email=body.admin_email,
            assign_operator_id=assign_operator(scope),
            source_ip=source_ip(request),
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        fresh = repo.get_case(session, case_id=case_id)
        if fresh.stage != flow.Stage.PROVISIONED.value:
            raise DuplicateError(
                "the tenant id or username was taken meanwhile; try again"
            ) from None
        row, result = fresh, repo.provisioned(session, row=fresh)
    invitation: InviteOutcome | None = None
    if result.created:
        invitation = send_invitation(request, session, settings, scope, row, lang=body.language)
        if invitation.sent:
            result = replace(result, password=None)
    return ProvisionResult(
        case=_case_detail(session, row),
        tenant_id=result.tenant.id,
        tenant_slug=result.tenant.slug,
        admin_user_id=result.admin.id,
        admin_username=result.admin.username,
        created=result.created,
        initial_password=result.password,
        invitation=invitation.to_dict() if invitation is not None else None,
    )


@router.post(f"{API}/cases/{{case_id}}/invite", tags=["service"])
def api_case_invite(
    request: Request, case_id: int, session: SessionDep, scope: StaffScope, settings: SettingsDep
) -> JSONResponse:
    """E-mail the case's administrator a new set-password link (older unused ones stop
    working); 502 when the relay refuses."""
    row = _api_case(session, scope, case_id)
    check_invitable(row, settings)
    outcome = send_invitation(request, session, settings, scope, row)
    return JSONResponse(outcome.to_dict(), status_code=502 if outcome.error else 200)


@router.post(f"{API}/cases/{{case_id}}/cancel", response_model=CaseDetail, tags=["service"])
def api_case_cancel(
    request: Request, case_id: int, body: CancelStep, session: SessionDep, scope: StaffScope
) -> CaseDetail:
    row = _api_case(session, scope, case_id)
    repo.cancel(
        session,
        row=row,
        reason=body.reason,
        actor=scope.principal.name,
        source_ip=source_ip(request),
    )
    session.commit()
    return _case_detail(session, row)


__all__ = ["router"]
