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
* The JSON API is in :mod:`mamori.web.routers.service`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.responses import Response

from mamori.errors import (
    MamoriError,
    NotFoundError,
    ValidationError,
)
from mamori.service import onboarding as flow
from mamori.service.catalog import load_price_book
from mamori.service.gaps import GapSet, gaps_from_checksheet_bytes
from mamori.service.inputs import QuoteInputs
from mamori.service.insurance import calculate_claim, load_insurance_terms, parse_claim
from mamori.service.invite import (
    INVITE_PATH,
    InvitationUnusableError,
)
from mamori.service.otasuketai import check_otasuketai
from mamori.service.recommend import NetworkSize, load_gap_coverage, parse_gaps
from mamori.store.repos import service as repo
from mamori.store.repos import service_invites as invites
from mamori.store.repos import tenants
from mamori.store.tables import OnboardingCaseRow, Role, User
from mamori.web.dashboard import PANELS, DashboardPanel, PanelValue
from mamori.web.deps import (
    HasherDep,
    SessionDep,
    SettingsDep,
    TenantScope,
    TenantScopeDep,
    resolve_principal,
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
    smtp_relay,
    source_ip,
)
from mamori.web.templating import render

router = APIRouter(include_in_schema=False)

INQUIRY_PATH = "/inquiry"
#: Inquiry submissions (accepted or refused) allowed per address and window.
INQUIRY_LIMIT = 5
INQUIRY_WINDOW = timedelta(hours=1)


def _now() -> datetime:
    return datetime.now(UTC)


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


# --- pages: courses and the insurance calculator ---------------------------------------


@router.get("/service", include_in_schema=False)
def courses_page(request: Request, session: SessionDep, scope: TenantScopeDep) -> Response:
    book = load_price_book()
    reports = [check_otasuketai(c, price_book=book) for c in book.courses.values()]
    return render(
        request,
        "service_courses.html",
        {"book": book, "reports": reports, "ui_lang": lang_of(request, scope.principal)},
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
    licensed = customer_devices(session, scope.principal)
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
            "ui_lang": lang_of(request, scope.principal),
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
            count = customer_devices(session, scope.principal)
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
            source_ip=source_ip(request),
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
        figures = repo.quote_document(row).to_dict(lang_of(request, scope.principal))
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
    return quote_pdf_response(session, scope, quote_id, lang or lang_of(request, scope.principal))


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
        source_ip=source_ip(request),
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
                ip=source_ip(request),
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
            assign_operator_id=assign_operator(scope),
            source_ip=source_ip(request),
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
            send_invitation,
            request,
            session,
            settings,
            scope,
            row,
            lang=lang_of(request, scope.principal),
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
        check_invitable(row, settings)
    except MamoriError as exc:
        return _case_page(request, session, scope, row, error=str(exc), status_code=422)
    outcome = await run_in_threadpool(
        send_invitation,
        request,
        session,
        settings,
        scope,
        row,
        lang=lang_of(request, scope.principal),
    )
    fresh = repo.get_case(session, case_id=row.id)
    if outcome.error:
        return _case_page(request, session, scope, fresh, error=outcome.error, status_code=502)
    return _case_page(request, session, scope, fresh, invitation=outcome)


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
    ip = source_ip(request)
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
            session, token=token, password=password, hasher=hasher, source_ip=source_ip(request)
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


__all__ = ["router"]
