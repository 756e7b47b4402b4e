"""The pack as a service: courses, the insurance calculator, quotes, contracts, onboarding.

* ``/service`` (courses, お助け隊 conformance) and ``/service/insurance`` (the claim
  calculator): every logged-in user; a customer's calculator starts from the devices
  licensed to their tenant.
* ``/service/quotes``, ``/service/contracts``, ``/service/cases``: operators and
  administrators only (customers get 403). Prospects' rows (no tenant yet) are shared by
  the staff; rows of a tenant follow the caller's tenant scope (others' are 404).
* ``/inquiry``: the public inquiry form (in ``PUBLIC_PATHS``), protected by the CSRF
  token, a signed time token, a honeypot field (:func:`mamori.service.onboarding.screen_inquiry`)
  and a per-address rate limit counted in the audit log.
* JSON under ``/api/v1/service``: the same computations with the CLI's field names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.responses import Response

from mamori.config import Settings
from mamori.errors import (
    DuplicateError,
    MamoriError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from mamori.service import onboarding as flow
from mamori.service.catalog import load_price_book
from mamori.service.errors import OnboardingError
from mamori.service.gaps import GapSet, gaps_from_checksheet_bytes
from mamori.service.inputs import QuoteInputs
from mamori.service.insurance import calculate_claim, load_insurance_terms, parse_claim
from mamori.service.invite import (
    INVITE_PATH,
    Invitation,
    InvitationError,
    InvitationUnusableError,
    SmtpRelay,
    build_message,
    invitation_link,
)
from mamori.service.otasuketai import check_otasuketai
from mamori.service.recommend import NetworkSize, load_gap_coverage, parse_gaps
from mamori.service.text import Lang, check_lang
from mamori.store.repos import audit, tenants
from mamori.store.repos import service as repo
from mamori.store.repos import service_invites as invites
from mamori.store.tables import ContractRow, OnboardingCaseRow, QuoteRow, Role, User
from mamori.web.dashboard import PANELS, DashboardPanel, PanelValue
from mamori.web.deps import (
    HasherDep,
    Principal,
    SessionDep,
    SettingsDep,
    TenantScope,
    TenantScopeDep,
    client_ip,
    language_for,
    resolve_principal,
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
from mamori.web.templating import render

router = APIRouter()

API = "/api/v1/service"
INQUIRY_PATH = "/inquiry"
#: Inquiry submissions (accepted or refused) allowed per address and window.
INQUIRY_LIMIT = 5
INQUIRY_WINDOW = timedelta(hours=1)
#: Largest check sheet accepted with the meeting notes (the official sheet is ~100 KB).
MAX_SHEET_BYTES = 10 * 1024 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


def _lang(request: Request, principal: Principal | None) -> Lang:
    return check_lang(language_for(request, principal))


def require_staff(scope: TenantScope) -> TenantScope:
    """Operators and administrators (logged in or not an API key); else 403."""
    principal = scope.principal
    if not principal.role.is_staff or principal.is_api_key:
        raise PermissionDeniedError("only operators and administrators handle quotes")
    return scope


def _staff(scope: TenantScopeDep) -> TenantScope:
    return require_staff(scope)


StaffScope = Annotated[TenantScope, Depends(_staff)]


def _customer_devices(session: Session, principal: Principal) -> int | None:
    """The devices licensed to a customer's tenant today (``None`` for staff or none)."""
    tenant_id = principal.home_tenant_id
    if not principal.role.is_customer or tenant_id is None:
        return None
    return repo.licensed_devices(session, tenant_id=tenant_id, on=date.today())


def _source_ip(request: Request) -> str:
    return client_ip(request)


def _invalid_input(compute: Callable[[], Any]) -> Any:
    """Run a computation; an unknown course or subsidy year is bad input (422), not 404."""
    try:
        return compute()
    except NotFoundError as exc:
        if isinstance(exc, ValidationError):
            raise ValidationError(str(exc)) from exc
        raise


def _open_cases_panel(session: Session, scope: TenantScope) -> PanelValue:
    return PanelValue(repo.count_open_cases(session, tenant_ids=scope.ui_ids()), "/service/cases")


if not any(panel.key == "service_cases" for panel in PANELS):
    PANELS.append(
        DashboardPanel(
            "service_cases",
            "dashboard.service_cases",
            _open_cases_panel,
            frozenset({Role.ADMIN, Role.OPERATOR}),
            order=60,
        )
    )


# --- JSON API --------------------------------------------------------------------------


@router.get(f"{API}/courses", tags=["service"])
def api_courses(request: Request, scope: TenantScopeDep) -> dict[str, Any]:
    """Courses with prices (yen, tax excluded) and お助け隊 type-1 conformance."""
    lang = _lang(request, scope.principal)
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
        devices = _customer_devices(session, scope.principal)
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
            source_ip=_source_ip(request),
        )
    )
    session.commit()
    return row


@router.get(f"{API}/quotes/{{quote_id}}", response_model=QuoteDetail, tags=["service"])
def api_get_quote(quote_id: int, session: SessionDep, scope: StaffScope) -> QuoteRow:
    return repo.get_quote(session, quote_id=quote_id, tenant_ids=scope.tenant_ids)


def _pdf(session: Session, scope: TenantScope, quote_id: int, lang: str) -> Response:
    from mamori.service.pdf import render_quote_pdf  # reportlab, on demand

    row = repo.get_quote(session, quote_id=quote_id, tenant_ids=scope.tenant_ids)
    data = render_quote_pdf(repo.quote_document(row), lang=check_lang(lang))
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{row.number}.pdf"'},
    )


@router.get(f"{API}/quotes/{{quote_id}}/pdf", tags=["service"])
def api_quote_pdf(
    quote_id: int, session: SessionDep, scope: StaffScope, lang: str = "ja"
) -> Response:
    """The quote as a PDF (Japanese; ``lang=en`` for English), rendered again each time."""
    return _pdf(session, scope, quote_id, lang)


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
    JAMA/JAPIA assessment of a tenant the caller may see."""
    row = _api_case(session, scope, case_id)
    gap_set: GapSet | None = None
    gaps: tuple[int, ...] | None = None
    if body.assessment_id is not None:
        if body.gaps is not None:
            raise ValidationError("give either gaps or assessment_id, not both")
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
        session, row=row, notes=notes, actor=scope.principal.name, source_ip=_source_ip(request)
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
            source_ip=_source_ip(request),
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
            source_ip=_source_ip(request),
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
        source_ip=_source_ip(request),
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
            assign_operator_id=_assign_operator(scope),
            source_ip=_source_ip(request),
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
        invitation = _invite(request, session, settings, scope, row, lang=body.language)
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
    _check_invitable(row, settings)
    outcome = _invite(request, session, settings, scope, row)
    return JSONResponse(outcome.to_dict(), status_code=502 if outcome.error else 200)


def _assign_operator(scope: TenantScope) -> int | None:
    """The operator provisioning a tenant is assigned it (administrators see all anyway)."""
    principal = scope.principal
    if principal.user is not None and principal.role is Role.OPERATOR:
        return principal.user.id
    return None


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
        source_ip=_source_ip(request),
    )
    session.commit()
    return _case_detail(session, row)


# --- pages: courses and the insurance calculator ---------------------------------------


@router.get("/service", include_in_schema=False)
def courses_page(request: Request, session: SessionDep, scope: TenantScopeDep) -> Response:
    book = load_price_book()
    reports = [check_otasuketai(c, price_book=book) for c in book.courses.values()]
    return render(
        request,
        "service_courses.html",
        {"book": book, "reports": reports, "ui_lang": _lang(request, scope.principal)},
        principal=scope.principal,
        scope=scope,
        session=session,
        active="service",
    )


def _insurance_page(
    request: Request,
    session: Session,
    scope: TenantScope,
    *,
    devices: str = "",
    amounts: Mapping[str, str] | None = None,
    payout: Any = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    licensed = _customer_devices(session, scope.principal)
    return render(
        request,
        "service_insurance.html",
        {
            "terms": load_insurance_terms(),
            "licensed": licensed,
            "devices": devices or (str(licensed) if licensed else ""),
            "amounts": amounts or {},
            "payout": payout,
            "error": error,
            "ui_lang": _lang(request, scope.principal),
        },
        principal=scope.principal,
        scope=scope,
        session=session,
        active="service",
        status_code=status_code,
    )


@router.get("/service/insurance", include_in_schema=False)
def insurance_page(request: Request, session: SessionDep, scope: TenantScopeDep) -> Response:
    return _insurance_page(request, session, scope)


@router.post("/service/insurance", include_in_schema=False)
async def insurance_calculate(
    request: Request, session: SessionDep, scope: TenantScopeDep
) -> Response:
    """Pay the loss amounts entered per category (blank categories are left out)."""
    form = await request.form()
    devices = str(form.get("devices") or "").strip()
    terms = load_insurance_terms()
    amounts = {key: str(form.get(f"amount_{key}") or "").strip() for key in terms.categories}
    try:
        items = [{"category": k, "amount": _whole(v, k)} for k, v in amounts.items() if v]
        count = _whole(devices, "devices") if devices else None
        if count is None:
            count = _customer_devices(session, scope.principal)
        if count is None:
            raise ValidationError("台数を入力してください (devices is required)")
        payout = calculate_claim(count, parse_claim({"items": items}, terms), terms)
    except MamoriError as exc:
        return _insurance_page(
            request,
            session,
            scope,
            devices=devices,
            amounts=amounts,
            error=str(exc),
            status_code=422,
        )
    return _insurance_page(
        request, session, scope, devices=str(count), amounts=amounts, payout=payout
    )


def _whole(value: str, what: str) -> int:
    text = value.replace(",", "").strip()
    if not text.lstrip("-").isdigit():
        raise ValidationError(f"{what}: 整数で入力してください (must be a whole number: {value!r})")
    return int(text)


# --- pages: quotes and contracts (staff) -----------------------------------------------


def _quotes_page(
    request: Request,
    session: Session,
    scope: TenantScope,
    *,
    form: Mapping[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "service_quotes.html",
        {
            "quotes": repo.list_quotes(session, tenant_ids=scope.ui_ids()),
            "tenants": tenants.list_tenants(session, tenant_ids=scope.tenant_ids, active_only=True),
            "book": load_price_book(),
            "form": form or {},
            "error": error,
            "today": date.today().isoformat(),
        },
        principal=scope.principal,
        scope=scope,
        session=session,
        active="service",
        status_code=status_code,
    )


@router.get("/service/quotes", include_in_schema=False)
def quotes_page(request: Request, session: SessionDep, scope: StaffScope) -> Response:
    return _quotes_page(request, session, scope)


QUOTE_FORM_FIELDS = (
    "course",
    "devices",
    "months",
    "campaign",
    "subsidy_year",
    "small_business",
    "security_action",
)


@router.post("/service/quotes", include_in_schema=False)
async def quotes_create(request: Request, session: SessionDep, scope: StaffScope) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        tenant_id = _optional_int(form.get("tenant_id"), "tenant_id")
        if tenant_id is not None:
            scope.check(tenant_id, "tenant")
        fields = {k: form[k] for k in QUOTE_FORM_FIELDS if k in form}
        fields.setdefault("campaign", "false")
        fields.setdefault("small_business", "false")
        fields.setdefault("security_action", "false")
        row = repo.create_quote(
            session,
            inputs=QuoteInputs.parse(fields),
            issue_date=_form_date(form.get("issue_date"), "issue_date") or date.today(),
            customer=form.get("customer", ""),
            valid_days=_optional_int(form.get("valid_days"), "valid_days"),
            tenant_id=tenant_id,
            actor=scope.principal.name,
            source_ip=_source_ip(request),
        )
    except NotFoundError:
        raise  # a tenant outside the caller's scope: 404, not a form error
    except MamoriError as exc:
        session.rollback()
        return _quotes_page(request, session, scope, form=form, error=str(exc), status_code=422)
    session.commit()
    return RedirectResponse(f"/service/quotes/{row.id}", status_code=303)


@router.get("/service/quotes/{quote_id}", include_in_schema=False)
def quote_page(request: Request, quote_id: int, session: SessionDep, scope: StaffScope) -> Response:
    row = repo.get_quote(session, quote_id=quote_id, tenant_ids=scope.tenant_ids)
    figures = row.figures  # as issued (Japanese names)
    error = None
    try:
        figures = repo.quote_document(row).to_dict(_lang(request, scope.principal))
    except MamoriError as exc:  # prices changed since: show what was issued, say why
        error = str(exc)
    return render(
        request,
        "service_quote.html",
        {"quote": row, "figures": figures, "error": error},
        principal=scope.principal,
        scope=scope,
        session=session,
        active="service",
    )


@router.get("/service/quotes/{quote_id}/pdf", include_in_schema=False)
def quote_pdf(
    request: Request, quote_id: int, session: SessionDep, scope: StaffScope, lang: str = ""
) -> Response:
    return _pdf(session, scope, quote_id, lang or _lang(request, scope.principal))


@router.get("/service/contracts", include_in_schema=False)
def contracts_page(request: Request, session: SessionDep, scope: StaffScope) -> Response:
    return render(
        request,
        "service_contracts.html",
        {"contracts": repo.list_contracts(session, tenant_ids=scope.ui_ids())},
        principal=scope.principal,
        scope=scope,
        session=session,
        active="service",
    )


# --- pages: onboarding cases (staff) ---------------------------------------------------


def _form_date(value: str | None, what: str) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(
            f"{what}: 日付は YYYY-MM-DD で入力してください (not a date)"
        ) from None


def _required_date(value: str | None, what: str) -> date:
    found = _form_date(value, what)
    if found is None:
        raise ValidationError(f"{what}: 日付を入力してください (a date is required)")
    return found


def _optional_int(value: str | None, what: str) -> int | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.lstrip("-").isdigit():
        raise ValidationError(f"{what}: 整数で入力してください (must be a whole number)")
    return int(text)


def _required_int(value: str | None, what: str) -> int:
    found = _optional_int(value, what)
    if found is None:
        raise ValidationError(f"{what}: 入力してください (required)")
    return found


def _checked(form: Mapping[str, str], name: str) -> bool:
    return form.get(name, "").lower() in ("1", "on", "true", "yes")


def visible_case(case_id: int, session: SessionDep, scope: StaffScope) -> OnboardingCaseRow:
    """The case, if the caller is staff and may see it (else 403/404)."""
    return repo.get_case(session, case_id=case_id, tenant_ids=scope.tenant_ids)


CaseDep = Annotated[OnboardingCaseRow, Depends(visible_case)]


def _case_page(
    request: Request,
    session: Session,
    scope: TenantScope,
    row: OnboardingCaseRow,
    *,
    error: str | None = None,
    created: repo.Provisioned | None = None,
    status_code: int = 200,
    assessment_id: str | None = None,
    invitation: InviteOutcome | None = None,
) -> Response:
    prefill, choices = _gap_prefill(session, scope, row, assessment_id)
    quote = repo.get_quote(session, quote_id=row.quote_id) if row.quote_id is not None else None
    contract = (
        repo.get_contract(session, contract_id=row.contract_id)
        if row.contract_id is not None
        else None
    )
    result = created
    if result is None and row.stage == flow.Stage.PROVISIONED.value:
        try:
            result = repo.provisioned(session, row=row)
        except MamoriError:  # the administrator was removed since
            result = None
    return render(
        request,
        "service_case.html",
        {
            "case": row,
            "quote": quote,
            "quotes": repo.case_quotes(session, row=row),
            "contract": contract,
            "result": result,
            "history": repo.case_history(session, row=row),
            "book": load_price_book(),
            "sizes": [s.value for s in NetworkSize],
            "error": error,
            "today": date.today().isoformat(),
            "form": {},
            "open": row.stage not in {s.value for s in flow.TERMINAL},
            "prefill": prefill,
            "invitation": invitation,
            "can_invite": row.stage == flow.Stage.PROVISIONED.value
            and smtp_relay(request.app.state.settings) is not None,
            "gap_choices": choices,
            "stored_gaps": _stored_gaps(row),
        },
        principal=scope.principal,
        scope=scope,
        session=session,
        active="service",
        status_code=status_code,
    )


def _stored_gaps(row: OnboardingCaseRow) -> GapSet | None:
    data = (row.meeting or {}).get("gap_set")
    return GapSet.from_dict(data) if data else None


def _gap_prefill(
    session: Session, scope: TenantScope, row: OnboardingCaseRow, assessment_id: str | None
) -> tuple[GapSet | None, list[tuple[str, str]]]:
    """The gaps to prefill the meeting form with, and the assessments one may pick.

    In order: the assessment asked for (``?assessment_id=``), the gaps already recorded,
    the newest JAMA/JAPIA assessment of the case's tenant. Only assessments of tenants in
    the caller's scope are offered or read.
    """
    if row.stage not in (flow.Stage.INQUIRY.value, flow.Stage.MEETING.value):
        return None, []
    choices = [
        (a.id, f"{t.name} — {a.title or a.id[:8]} ({a.created_at:%Y-%m-%d})")
        for a, t in repo.gap_assessments(session, tenant_ids=scope.tenant_ids)
    ]
    prefill: GapSet | None = None
    if assessment_id:
        prefill = repo.assessment_gaps(
            session, assessment_id=assessment_id, tenant_ids=scope.tenant_ids
        )
    if prefill is None:
        prefill = _stored_gaps(row)
    if prefill is None and row.tenant_id is not None and scope.allows(row.tenant_id):
        prefill = repo.latest_assessment_gaps(session, tenant_id=row.tenant_id)
    return prefill, choices


@router.get("/service/cases", include_in_schema=False)
def cases_page(
    request: Request, session: SessionDep, scope: StaffScope, error: str | None = None
) -> Response:
    return render(
        request,
        "service_cases.html",
        {"cases": repo.list_cases(session, tenant_ids=scope.ui_ids()), "error": error},
        principal=scope.principal,
        scope=scope,
        session=session,
        active="service",
    )


@router.post("/service/cases", include_in_schema=False)
async def cases_create(request: Request, session: SessionDep, scope: StaffScope) -> Response:
    """Open a case for an inquiry taken by phone or mail (no spam checks: staff typed it)."""
    form = {k: str(v) for k, v in (await request.form()).items() if isinstance(v, str)}
    fields = {k: form.get(k, "") for k in ("company", "contact_name", "email", "message")}
    fields.update(phone=form.get("phone", ""), devices=form.get("devices", ""))
    now = _now()
    screening = flow.screen_inquiry(
        fields, rendered_at=now - timedelta(minutes=1), submitted_at=now
    )
    if screening.inquiry is None:
        return render(
            request,
            "service_cases.html",
            {
                "cases": repo.list_cases(session, tenant_ids=scope.ui_ids()),
                "error": "; ".join(screening.problems or screening.spam),
            },
            principal=scope.principal,
            scope=scope,
            session=session,
            active="service",
            status_code=422,
        )
    row = repo.open_case(
        session,
        inquiry=screening.inquiry,
        actor=scope.principal.name,
        source="staff",
        source_ip=_source_ip(request),
    )
    session.commit()
    return RedirectResponse(f"/service/cases/{row.id}", status_code=303)


@router.get("/service/cases/{case_id}", include_in_schema=False)
def case_page(
    request: Request,
    row: CaseDep,
    session: SessionDep,
    scope: StaffScope,
    assessment_id: str | None = None,
) -> Response:
    """The case; ``?assessment_id=`` prefills the meeting's gaps from that assessment."""
    return _case_page(request, session, scope, row, assessment_id=assessment_id)


@dataclass(frozen=True, slots=True)
class StepCall:
    """One onboarding step as the page or the JSON API asked for it."""

    session: Session
    row: OnboardingCaseRow
    form: Mapping[str, str]
    actor: str
    ip: str
    scope: TenantScope
    uploads: Mapping[str, tuple[str, bytes]] = field(default_factory=dict)


def _meeting_gap_set(call: StepCall) -> GapSet | None:
    """The gaps from an uploaded check sheet or a chosen stored assessment (else ``None``).

    An uploaded sheet wins; ``gap_source=assessment:<id>`` reads a stored JAMA/JAPIA
    assessment the caller may see; ``stored`` keeps the gaps recorded with the meeting (a
    revision); ``manual`` (or nothing) takes the typed item numbers.
    """
    upload = call.uploads.get("checksheet")
    source = call.form.get("gap_source", "").strip()
    if upload is not None and upload[1]:
        return gaps_from_checksheet_bytes(upload[1], filename=upload[0], actor=call.actor)
    if source.startswith("assessment:"):
        return repo.assessment_gaps(
            call.session,
            assessment_id=source.removeprefix("assessment:"),
            tenant_ids=call.scope.tenant_ids,
        )
    if source == "stored":  # a revision keeps the gaps recorded with the meeting
        stored = _stored_gaps(call.row)
        if stored is None:
            raise ValidationError("記録済みの未対応項目がありません (no recorded gaps to keep)")
        return stored
    if source == "sheet":
        raise ValidationError(
            "チェックシートのファイルを選んでください (choose the check sheet file to upload)"
        )
    if source not in ("", "manual"):
        raise ValidationError(f"unknown gap source {source!r}")
    return None


def _meeting(call: StepCall) -> None:
    form = call.form
    attendees = tuple(
        a.strip() for a in form.get("attendees", "").replace("\n", ",").split(",") if a.strip()
    )
    gap_set = _meeting_gap_set(call)
    gaps: tuple[int, ...] | None = None
    gaps_text = form.get("gaps", "").strip()
    if gap_set is None and gaps_text:
        gaps = parse_gaps(gaps_text.replace("\n", ",").split(","), load_gap_coverage().item_count)
    notes = flow.MeetingNotes(
        held_on=_required_date(form.get("held_on"), "held_on"),
        attendees=attendees,
        notes=form.get("notes", ""),
        devices=_required_int(form.get("devices"), "devices"),
        network_size=NetworkSize.parse(form.get("network_size", "none")),
        gaps=gaps,
        gap_set=gap_set,
    )
    repo.record_meeting(
        call.session, row=call.row, notes=notes, actor=call.actor, source_ip=call.ip
    )


def _proposal(call: StepCall) -> None:
    repo.propose(
        call.session,
        row=call.row,
        actor=call.actor,
        course=call.form.get("course", "").strip() or None,
        override_reason=call.form.get("override_reason", ""),
        source_ip=call.ip,
    )


def _quote(call: StepCall) -> None:
    form = call.form
    repo.quote_case(
        call.session,
        row=call.row,
        actor=call.actor,
        issue_date=_form_date(form.get("issue_date"), "issue_date") or date.today(),
        months=_optional_int(form.get("months"), "months"),
        campaign=_checked(form, "campaign"),
        subsidy_year=_optional_int(form.get("subsidy_year"), "subsidy_year"),
        small_business=_checked(form, "small_business"),
        security_action=_checked(form, "security_action"),
        valid_days=_optional_int(form.get("valid_days"), "valid_days"),
        source_ip=call.ip,
    )


def _contract(call: StepCall) -> None:
    form = call.form
    repo.sign_contract(
        call.session,
        row=call.row,
        actor=call.actor,
        signed_on=_required_date(form.get("signed_on"), "signed_on"),
        start_date=_required_date(form.get("start_date"), "start_date"),
        devices=_required_int(form.get("devices"), "devices"),
        term_months=_optional_int(form.get("term_months"), "term_months") or 12,
        grant_decision_date=_form_date(form.get("grant_decision_date"), "grant_decision_date"),
        source_ip=call.ip,
    )


def _cancel(call: StepCall) -> None:
    repo.cancel(
        call.session,
        row=call.row,
        reason=call.form.get("reason", ""),
        actor=call.actor,
        source_ip=call.ip,
    )


Step = Callable[[StepCall], None]
STEPS: dict[str, Step] = {
    "meeting": _meeting,
    "proposal": _proposal,
    "quote": _quote,
    "contract": _contract,
    "cancel": _cancel,
}


async def _form(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items() if isinstance(v, str)}


async def _uploads(request: Request) -> dict[str, tuple[str, bytes]]:
    """Uploaded files of a multipart form: field -> (file name, bytes), capped in size."""
    found: dict[str, tuple[str, bytes]] = {}
    for key, value in (await request.form()).multi_items():
        if isinstance(value, StarletteUpload) and value.filename:
            data = await value.read(MAX_SHEET_BYTES + 1)
            if len(data) > MAX_SHEET_BYTES:
                raise ValidationError(
                    f"ファイルが大きすぎます (the file is over {MAX_SHEET_BYTES} bytes)"
                )
            found[key] = (value.filename, data)
    return found


def _run_step(
    request: Request,
    session: Session,
    scope: TenantScope,
    row: OnboardingCaseRow,
    step: Step,
    form: Mapping[str, str],
    uploads: Mapping[str, tuple[str, bytes]] | None = None,
) -> Response:
    case_id = row.id
    try:
        step(
            StepCall(
                session=session,
                row=row,
                form=form,
                actor=scope.principal.name,
                ip=_source_ip(request),
                scope=scope,
                uploads=uploads or {},
            )
        )
    except MamoriError as exc:
        session.rollback()
        fresh = repo.get_case(session, case_id=case_id)
        return _case_page(request, session, scope, fresh, error=str(exc), status_code=422)
    session.commit()
    return RedirectResponse(f"/service/cases/{case_id}", status_code=303)


def _step_route(name: str) -> None:
    step = STEPS[name]

    async def advance(
        request: Request, row: CaseDep, session: SessionDep, scope: StaffScope
    ) -> Response:
        try:
            uploads = await _uploads(request)
        except MamoriError as exc:
            return _case_page(request, session, scope, row, error=str(exc), status_code=422)
        return _run_step(request, session, scope, row, step, await _form(request), uploads)

    advance.__name__ = f"case_{name}"
    router.post(f"/service/cases/{{case_id}}/{name}", include_in_schema=False)(advance)


for _name in STEPS:
    _step_route(_name)


@router.post("/service/cases/{case_id}/provision", include_in_schema=False)
async def case_provision(
    request: Request,
    row: CaseDep,
    session: SessionDep,
    scope: StaffScope,
    hasher: HasherDep,
    settings: SettingsDep,
) -> Response:
    """Create the tenant and its first administrator.

    With an SMTP relay configured the administrator gets an invitation e-mail with a
    one-time, expiring set-password link and no password is shown; without one (or when
    sending fails) the initial password is shown, only now. Sending the form again (or
    twice at once) creates nothing more: the case's tenant and administrator are shown
    without the password.
    """
    form = await _form(request)
    case_id = row.id
    try:
        result = repo.provision(
            session,
            row=row,
            hasher=hasher,
            actor=scope.principal.name,
            tenant_slug=form.get("tenant_slug", ""),
            tenant_name=form.get("tenant_name", "").strip() or None,
            admin_username=form.get("admin_username", ""),
            admin_email=form.get("admin_email", ""),
            assign_operator_id=_assign_operator(scope),
            source_ip=_source_ip(request),
        )
        session.commit()
    except (MamoriError, IntegrityError) as exc:
        session.rollback()
        fresh = repo.get_case(session, case_id=case_id)
        if fresh.stage == flow.Stage.PROVISIONED.value:  # a concurrent request finished it
            return _case_page(request, session, scope, fresh)
        message = (
            str(exc)
            if isinstance(exc, MamoriError)
            else "テナント識別子またはユーザー名が同時に使われました。もう一度お試しください"
            " (the tenant id or username was taken meanwhile; try again)"
        )
        return _case_page(request, session, scope, fresh, error=message, status_code=422)
    invitation: InviteOutcome | None = None
    if result.created:
        invitation = await run_in_threadpool(
            _invite, request, session, settings, scope, row, lang=_lang(request, scope.principal)
        )
        if invitation.sent:
            result = replace(result, password=None)  # the administrator chooses it
    return _case_page(request, session, scope, row, created=result, invitation=invitation)


@router.post("/service/cases/{case_id}/invite", include_in_schema=False)
async def case_invite(
    request: Request, row: CaseDep, session: SessionDep, scope: StaffScope, settings: SettingsDep
) -> Response:
    """Send the administrator a new set-password link (older unused links stop working)."""
    try:
        _check_invitable(row, settings)
    except MamoriError as exc:
        return _case_page(request, session, scope, row, error=str(exc), status_code=422)
    outcome = await run_in_threadpool(
        _invite, request, session, settings, scope, row, lang=_lang(request, scope.principal)
    )
    fresh = repo.get_case(session, case_id=row.id)
    if outcome.error:
        return _case_page(request, session, scope, fresh, error=outcome.error, status_code=502)
    return _case_page(request, session, scope, fresh, invitation=outcome)


def _check_invitable(row: OnboardingCaseRow, settings: Settings) -> None:
    if row.stage != flow.Stage.PROVISIONED.value:
        raise OnboardingError(
            f"招待は作成済みのテナントの管理者にだけ送れます "
            f"(case {row.id} is not provisioned: stage {row.stage!r})"
        )
    if smtp_relay(settings) is None:
        raise ValidationError(
            "メール送信（SMTPリレー）が設定されていません "
            "(no SMTP relay is configured: set MAMORI_RESPOND_SMTP_HOST)"
        )


# --- invitations of new administrators ------------------------------------------------


@dataclass(frozen=True, slots=True)
class InviteOutcome:
    """What happened to the invitation: sent (to, until), failed (error) or no relay."""

    sent_to: str | None = None
    expires_at: datetime | None = None
    error: str | None = None
    configured: bool = True

    @property
    def sent(self) -> bool:
        return self.sent_to is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "configured": self.configured,
            "sent": self.sent,
            "sent_to": self.sent_to,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "error": self.error,
        }


def smtp_relay(settings: Settings) -> SmtpRelay | None:
    """The configured SMTP relay (``respond_smtp_*``), or ``None`` when there is none."""
    if not settings.respond_smtp_host:
        return None
    return SmtpRelay(
        host=settings.respond_smtp_host,
        port=settings.respond_smtp_port,
        sender=settings.respond_smtp_from,
        starttls=settings.respond_smtp_starttls,
        username=settings.respond_smtp_username,
        password=settings.respond_smtp_password,
    )


def _base_url(request: Request, settings: Settings) -> str:
    return settings.respond_base_url or str(request.base_url)


def _invite(
    request: Request,
    session: Session,
    settings: Settings,
    scope: TenantScope,
    row: OnboardingCaseRow,
    *,
    lang: Lang = "ja",
) -> InviteOutcome:
    """Store a new invitation for the case's administrator and e-mail it (commits).

    The invitation is committed before sending, so a link that reached the customer always
    works; a failed send is audited and reported, and the link can be sent again.
    """
    relay = smtp_relay(settings)
    if relay is None:
        return InviteOutcome(configured=False)
    done = repo.provisioned(session, row=row)
    email = str((row.provisioning or {}).get("admin_email") or "")
    invitation, token = invites.create_invitation(
        session,
        user=done.admin,
        email=email,
        valid_for=timedelta(hours=settings.service_invite_hours),
        actor=scope.principal.name,
        case_id=row.id,
        language=lang,
        source_ip=_source_ip(request),
    )
    session.commit()
    message = build_message(
        Invitation(
            to=email,
            tenant_name=done.tenant.name,
            username=done.admin.username,
            contact_name=row.contact_name,
            link=invitation_link(_base_url(request, settings), token),
            expires_at=invitation.expires_at,
        ),
        sender=relay.sender,
        lang=lang,
    )
    try:
        relay.send(message)
    except InvitationError as exc:
        audit.record(
            session,
            action="user.invitation.send_failed",
            actor=scope.principal.name,
            tenant_id=done.tenant.id,
            target=f"user:{done.admin.id}",
            detail={"invitation": invitation.id, "error": str(exc)[:500]},
            source_ip=_source_ip(request),
        )
        session.commit()
        return InviteOutcome(error=str(exc))
    invites.mark_sent(session, row=invitation)
    session.commit()
    return InviteOutcome(sent_to=email, expires_at=invitation.expires_at)


# --- the public inquiry form -----------------------------------------------------------


def _inquiry_page(
    request: Request,
    session: Session,
    settings_secret: str,
    *,
    fields: Mapping[str, str] | None = None,
    problems: tuple[str, ...] = (),
    refused: bool = False,
    limited: bool = False,
    sent: bool = False,
    status_code: int = 200,
) -> Response:
    principal = resolve_principal(request, session)
    return render(
        request,
        "service_inquiry.html",
        {
            "fields": fields or {},
            "problems": problems,
            "refused": refused,
            "limited": limited,
            "sent": sent,
            "form_token": flow.issue_form_token(settings_secret, _now()),
            "honeypot": flow.HONEYPOT_FIELD,
        },
        principal=principal,
        status_code=status_code,
    )


@router.get(INQUIRY_PATH, include_in_schema=False)
def inquiry_form(
    request: Request, session: SessionDep, settings: SettingsDep, sent: int = 0
) -> Response:
    return _inquiry_page(request, session, settings.ensure_secret_key(), sent=bool(sent))


@router.post(INQUIRY_PATH, include_in_schema=False)
async def inquiry_submit(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Accept an inquiry: rate limit, signed time token, honeypot and field checks."""
    secret = settings.ensure_secret_key()
    ip = _source_ip(request)
    now = _now()
    if repo.count_inquiries_from(session, source_ip=ip, since=now - INQUIRY_WINDOW) >= (
        INQUIRY_LIMIT
    ):
        response = _inquiry_page(request, session, secret, limited=True, status_code=429)
        response.headers["Retry-After"] = str(int(INQUIRY_WINDOW.total_seconds()))
        return response
    fields = await _form(request)
    try:
        rendered_at = flow.read_form_token(secret, fields.get("form_token", ""))
    except MamoriError as exc:
        screening = flow.Screening(None, spam=(str(exc),))
    else:
        screening = flow.screen_inquiry(fields, rendered_at=rendered_at, submitted_at=now)
    if screening.inquiry is None:
        repo.record_rejected_inquiry(session, screening=screening, source_ip=ip, at=now)
        session.commit()
        shown = {k: v for k, v in fields.items() if k not in ("form_token", "csrf_token")}
        shown.pop(flow.HONEYPOT_FIELD, None)
        if screening.spam:  # a neutral answer: spam gets no hint of what gave it away
            return _inquiry_page(
                request, session, secret, fields=shown, refused=True, status_code=400
            )
        return _inquiry_page(
            request, session, secret, fields=shown, problems=screening.problems, status_code=422
        )
    repo.open_case(session, inquiry=screening.inquiry, actor="web-form", source_ip=ip, at=now)
    session.commit()
    return RedirectResponse(f"{INQUIRY_PATH}?sent=1", status_code=303)


# --- the set-password page of an invitation (public: the token is the credential) -------


def _invite_page(
    request: Request,
    session: Session,
    *,
    token: str,
    username: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    response = render(
        request,
        "service_invite.html",
        {"token": token, "username": username, "error": error},
        principal=resolve_principal(request, session),
        status_code=status_code,
    )
    # the token is in the address: keep it out of caches and other sites' Referer headers
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(INVITE_PATH, include_in_schema=False)
def invite_form(request: Request, session: SessionDep, token: str = "") -> Response:
    """The set-password form of an invitation link (400 when the link cannot be used)."""
    try:
        row = invites.find_invitation(session, token=token)
    except MamoriError as exc:
        return _invite_page(request, session, token="", error=str(exc), status_code=400)
    user = session.get(User, row.user_id)
    return _invite_page(request, session, token=token, username=user.username if user else None)


@router.post(INVITE_PATH, include_in_schema=False)
async def invite_accept(request: Request, session: SessionDep, hasher: HasherDep) -> Response:
    """Set the password once; then the link is used up and the user logs in."""
    form = await _form(request)
    token = form.get("token", "")
    password = form.get("password", "")
    try:
        row = invites.find_invitation(session, token=token)
    except MamoriError as exc:
        return _invite_page(request, session, token="", error=str(exc), status_code=400)
    user = session.get(User, row.user_id)
    username = user.username if user else None
    if password != form.get("password_confirm", ""):
        return _invite_page(
            request,
            session,
            token=token,
            username=username,
            error="確認用のパスワードが一致しません (the passwords do not match)",
            status_code=422,
        )
    try:
        invites.accept_invitation(
            session, token=token, password=password, hasher=hasher, source_ip=_source_ip(request)
        )
    except InvitationUnusableError as exc:
        session.rollback()
        return _invite_page(request, session, token="", error=str(exc), status_code=400)
    except MamoriError as exc:  # the password policy: the link stays usable
        session.rollback()
        return _invite_page(
            request, session, token=token, username=username, error=str(exc), status_code=422
        )
    session.commit()
    return RedirectResponse("/login?invited=1", status_code=303)


__all__ = ["INQUIRY_LIMIT", "INQUIRY_PATH", "INQUIRY_WINDOW", "INVITE_PATH", "router"]
