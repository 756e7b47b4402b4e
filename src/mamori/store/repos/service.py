"""Onboarding cases, issued quotes and contracts: storage of the service domain's steps.

The rules live in :mod:`mamori.service.onboarding` (a state machine over frozen values);
these functions load a case row as a domain :class:`OnboardingCase`, run one step, write the
result back and append the step's :class:`AuditRecord` to the foundation audit log, all in
the caller's transaction (they flush, never commit).

Quote numbers ``Q-<year>-<seq>`` come from one counter row per year, incremented by an
``INSERT .. ON CONFLICT DO UPDATE .. RETURNING`` in the transaction that stores the quote:
concurrent creators queue on that row (PostgreSQL row lock, SQLite write lock) and a
rolled-back quote gives its number back, so the sequence has neither duplicates nor gaps.

Visibility: rows linked to a tenant belong to it; rows without a tenant (prospects before
provisioning) are the staff's shared pipeline. ``tenant_ids=None`` means no limit.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from mamori.errors import DuplicateError, NotFoundError, ValidationError
from mamori.service import onboarding as flow
from mamori.service.errors import OnboardingError, ServiceDataError
from mamori.service.gaps import FRAMEWORK_ID, GapSet, gaps_from_assessment
from mamori.service.inputs import QuoteInputs
from mamori.service.quote import QuoteDocument, format_quote_number, issue_quote
from mamori.service.recommend import NetworkSize, recommend_course
from mamori.store.repos import audit, tenants, users
from mamori.store.repos.guideline import SqlAssessmentRepository
from mamori.store.tables import (
    AuditLog,
    ContractRow,
    GuidelineAssessment,
    OnboardingCaseRow,
    QuoteCounter,
    QuoteRow,
    Role,
    Tenant,
    User,
)
from mamori.store.types import utcnow

CASE_TARGET = "onboarding_case"
INQUIRY_ACTIONS = ("onboarding.inquiry", "onboarding.inquiry_rejected")

# --- quote numbers and quotes ----------------------------------------------------------


def allocate_quote_number(session: Session, *, year: int) -> tuple[int, str]:
    """Take the next number of ``year`` (in the caller's transaction): ``(seq, number)``.

    Raises:
        ValidationError: the year is out of range or its 99,999 numbers are used up.
    """
    format_quote_number(year, 1)  # validates the year before touching the counter
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(QuoteCounter)
        .values(year=year, last_seq=1)
        .on_conflict_do_update(
            index_elements=[QuoteCounter.year],
            set_={"last_seq": QuoteCounter.last_seq + 1},
        )
        .returning(QuoteCounter.last_seq)
    )
    seq = int(session.execute(stmt).scalar_one())
    session.expire_all()  # the ORM must not keep a stale counter row
    return seq, format_quote_number(year, seq)


def _figures_of(document: QuoteDocument) -> dict[str, Any]:
    return document.to_dict("ja")


def create_quote(
    session: Session,
    *,
    inputs: QuoteInputs,
    issue_date: date,
    customer: str,
    actor: str,
    valid_days: int | None = None,
    case_id: int | None = None,
    tenant_id: int | None = None,
    source_ip: str = "",
) -> QuoteRow:
    """Compute, number and store a quote, and audit it (``service.quote.create``).

    Raises:
        ValidationError: bad inputs (devices, months, course, subsidy year, customer, ...).
    """
    quote = inputs.build(issue_date)
    if not customer.strip():
        raise ValidationError("the customer name is empty")
    seq, number = allocate_quote_number(session, year=issue_date.year)
    document = issue_quote(
        quote, number=number, issue_date=issue_date, customer=customer, valid_days=valid_days
    )
    stored_inputs = inputs.to_dict()
    stored_inputs["valid_days"] = (document.valid_until - document.issue_date).days
    row = QuoteRow(
        number=number,
        year=issue_date.year,
        seq=seq,
        issue_date=document.issue_date,
        valid_until=document.valid_until,
        customer=document.customer[:200],
        issuer=document.issuer,
        course=quote.course.id,
        devices=quote.devices,
        months=quote.months,
        campaign=quote.campaign,
        inputs=stored_inputs,
        price_book_version=quote.price_book_version,
        fees_total=quote.fees_total,
        tax=quote.tax,
        tax_included_total=quote.tax_included_total,
        subsidy=quote.subsidy.amount,
        customer_pays_tax_included=quote.customer_pays_tax_included,
        figures=_figures_of(document),
        case_id=case_id,
        tenant_id=tenant_id,
        created_by=actor[:200],
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        action="service.quote.create",
        actor=actor,
        tenant_id=tenant_id,
        target=f"quote:{row.id}",
        detail={
            "number": number,
            "course": row.course,
            "devices": row.devices,
            "months": row.months,
            "fees_total": row.fees_total,
            "tax_included_total": row.tax_included_total,
            "subsidy": row.subsidy,
            "customer_pays_tax_included": row.customer_pays_tax_included,
            "case_id": case_id,
        },
        source_ip=source_ip,
    )
    return row


def quote_inputs(row: QuoteRow) -> QuoteInputs:
    data = {k: v for k, v in row.inputs.items() if k != "valid_days"}
    return QuoteInputs.parse(data)


def quote_document(row: QuoteRow, *, verify: bool = True) -> QuoteDocument:
    """The issued document, computed again from the stored inputs.

    With ``verify`` (for the PDF and anything shown as the quote) the figures must equal
    the stored ones; the onboarding steps pass ``verify=False``, as they only need the
    quote's number, dates, course and devices, so a later price change does not strand a
    case whose quote was already accepted.

    Raises:
        ServiceDataError: the prices changed since the quote was issued, so the stored
            figures can no longer be reproduced (the message names both price books).
    """
    quote = quote_inputs(row).build(row.issue_date)
    document = issue_quote(
        quote,
        number=row.number,
        issue_date=row.issue_date,
        customer=row.customer,
        valid_days=int(row.inputs.get("valid_days") or (row.valid_until - row.issue_date).days),
        issuer=row.issuer,
    )
    if verify and _figures_of(document) != row.figures:
        raise ServiceDataError(
            f"quote {row.number} was computed with price book {row.price_book_version}; the "
            f"current price book ({quote.price_book_version}) gives other figures, so its PDF "
            "cannot be reproduced"
        )
    return document


def _scoped(
    stmt: Select[Any], column: InstrumentedAttribute[Any], tenant_ids: Collection[int] | None
) -> Select[Any]:
    if tenant_ids is None:
        return stmt
    visible: ColumnElement[bool] = or_(column.is_(None), column.in_(list(tenant_ids)))
    return stmt.where(visible)


def list_quotes(
    session: Session, *, tenant_ids: Collection[int] | None = None, limit: int = 200
) -> list[QuoteRow]:
    """Newest first."""
    stmt = select(QuoteRow).order_by(QuoteRow.year.desc(), QuoteRow.seq.desc()).limit(limit)
    return list(session.scalars(_scoped(stmt, QuoteRow.tenant_id, tenant_ids)))


def get_quote(
    session: Session, *, quote_id: int, tenant_ids: Collection[int] | None = None
) -> QuoteRow:
    """Raises:
    NotFoundError: no such quote, or one of a tenant outside ``tenant_ids``.
    """
    row = session.get(QuoteRow, quote_id)
    if row is None or not _visible(row.tenant_id, tenant_ids):
        raise NotFoundError("quote not found")
    return row


def _visible(tenant_id: int | None, tenant_ids: Collection[int] | None) -> bool:
    return tenant_ids is None or tenant_id is None or tenant_id in tenant_ids


def list_contracts(
    session: Session, *, tenant_ids: Collection[int] | None = None, limit: int = 200
) -> list[ContractRow]:
    stmt = select(ContractRow).order_by(ContractRow.id.desc()).limit(limit)
    return list(session.scalars(_scoped(stmt, ContractRow.tenant_id, tenant_ids)))


def get_contract(
    session: Session, *, contract_id: int, tenant_ids: Collection[int] | None = None
) -> ContractRow:
    """Raises:
    NotFoundError: no such contract, or one of a tenant outside ``tenant_ids``.
    """
    row = session.get(ContractRow, contract_id)
    if row is None or not _visible(row.tenant_id, tenant_ids):
        raise NotFoundError("contract not found")
    return row


def licensed_devices(session: Session, *, tenant_id: int, on: date) -> int | None:
    """Devices licensed to ``tenant_id`` by contracts running on ``on`` (``None``: none)."""
    total = session.scalar(
        select(func.sum(ContractRow.devices)).where(
            ContractRow.tenant_id == tenant_id,
            ContractRow.start_date <= on,
            ContractRow.end_date >= on,
        )
    )
    return int(total) if total is not None else None


# --- onboarding cases ------------------------------------------------------------------


def list_cases(
    session: Session,
    *,
    tenant_ids: Collection[int] | None = None,
    stage: str | None = None,
    limit: int = 200,
) -> list[OnboardingCaseRow]:
    """Newest first."""
    stmt = select(OnboardingCaseRow).order_by(OnboardingCaseRow.id.desc()).limit(limit)
    if stage:
        stmt = stmt.where(OnboardingCaseRow.stage == flow.Stage(stage).value)
    return list(session.scalars(_scoped(stmt, OnboardingCaseRow.tenant_id, tenant_ids)))


def count_open_cases(session: Session, *, tenant_ids: Collection[int] | None = None) -> int:
    """Cases not yet provisioned or cancelled."""
    closed = [stage.value for stage in flow.TERMINAL]
    stmt = (
        select(func.count())
        .select_from(OnboardingCaseRow)
        .where(OnboardingCaseRow.stage.not_in(closed))
    )
    return int(session.scalar(_scoped(stmt, OnboardingCaseRow.tenant_id, tenant_ids)) or 0)


def get_case(
    session: Session, *, case_id: int, tenant_ids: Collection[int] | None = None
) -> OnboardingCaseRow:
    """Raises:
    NotFoundError: no such case, or one of a tenant outside ``tenant_ids``.
    """
    row = session.get(OnboardingCaseRow, case_id)
    if row is None or not _visible(row.tenant_id, tenant_ids):
        raise NotFoundError("onboarding case not found")
    return row


def case_quotes(session: Session, *, row: OnboardingCaseRow) -> list[QuoteRow]:
    return list(
        session.scalars(select(QuoteRow).where(QuoteRow.case_id == row.id).order_by(QuoteRow.id))
    )


def count_inquiries_from(session: Session, *, source_ip: str, since: datetime) -> int:
    """Inquiry submissions (accepted or refused) from one address since ``since``."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(
                AuditLog.ts >= since,
                AuditLog.action.in_(INQUIRY_ACTIONS),
                AuditLog.source_ip == source_ip[:64],
            )
        )
        or 0
    )


def record_rejected_inquiry(
    session: Session, *, screening: flow.Screening, source_ip: str, at: datetime | None = None
) -> None:
    """Audit a refused inquiry (spam or invalid fields) so that rate limits can count it."""
    audit.record(
        session,
        action="onboarding.inquiry_rejected",
        actor="web-form",
        target="inquiry",
        detail={"spam": list(screening.spam), "problems": list(screening.problems)},
        source_ip=source_ip,
        ts=at,
    )


def _to_domain(session: Session, row: OnboardingCaseRow) -> flow.OnboardingCase:
    """The case row as the domain value the next step works on."""
    inquiry = flow.Inquiry(
        company=row.company,
        contact_name=row.contact_name,
        email=row.email,
        message=row.message,
        phone=row.phone,
        devices_hint=row.devices_hint,
    )
    meeting = None
    if row.meeting:
        m = row.meeting
        meeting = flow.MeetingNotes(
            held_on=date.fromisoformat(m["held_on"]),
            attendees=tuple(m["attendees"]),
            notes=m["notes"],
            devices=int(m["devices"]),
            network_size=NetworkSize.parse(m["network_size"]),
            gaps=tuple(m["gaps"]) if m.get("gaps") is not None else None,
            gap_set=GapSet.from_dict(m["gap_set"]) if m.get("gap_set") else None,
        )
    proposal = None
    if row.proposal and meeting is not None:
        p = row.proposal
        recommendation = recommend_course(
            meeting.devices, meeting.network_size, meeting.gap_input()
        )
        proposal = flow.Proposal(
            p["course"], int(p["devices"]), recommendation, p.get("override_reason", "")
        )
    document = None
    if row.quote_id is not None:
        document = quote_document(get_quote(session, quote_id=row.quote_id), verify=False)
    contract = None
    if row.contract_id is not None:
        c = get_contract(session, contract_id=row.contract_id)
        contract = flow.Contract(
            signed_on=c.signed_on,
            start_date=c.start_date,
            term_months=c.term_months,
            devices=c.devices,
            quote_number=document.number if document else "",
            end_date=c.end_date,
        )
    plan = None
    if row.provisioning:
        v = row.provisioning
        plan = flow.ProvisioningPlan(
            tenant_slug=v["tenant_slug"],
            tenant_name=v["tenant_name"],
            admin_username=v["admin_username"],
            admin_email=v["admin_email"],
            course=v["course"],
            licences=int(v["licences"]),
            contract_start=date.fromisoformat(v["contract_start"]),
            contract_end=date.fromisoformat(v["contract_end"]),
            tenant_id=v.get("tenant_id"),
        )
    return flow.OnboardingCase(
        case_id=row.ref,
        stage=flow.Stage(row.stage),
        inquiry=inquiry,
        created_at=row.created_at,
        meeting=meeting,
        proposal=proposal,
        quote=document,
        contract=contract,
        provisioning=plan,
        cancel_reason=row.cancel_reason,
    )


def _save(session: Session, row: OnboardingCaseRow, step: flow.Step, *, source_ip: str) -> AuditLog:
    case, record = step
    row.stage = case.stage.value
    row.updated_at = record.at
    session.flush()
    detail = record.to_dict()
    detail["case"] = row.id
    return audit.record(
        session,
        action=record.action,
        actor=record.actor,
        tenant_id=row.tenant_id,
        target=f"{CASE_TARGET}:{row.id}",
        detail=detail,
        source_ip=source_ip,
        ts=record.at,
    )


def open_case(
    session: Session,
    *,
    inquiry: flow.Inquiry,
    actor: str,
    at: datetime | None = None,
    source: str = "web-form",
    source_ip: str = "",
) -> OnboardingCaseRow:
    """Open a case for an accepted inquiry (stage ``inquiry``)."""
    at = at or utcnow()
    ref = uuid.uuid4().hex[:16]
    step = flow.receive_inquiry(ref, inquiry, actor=actor, at=at)
    row = OnboardingCaseRow(
        ref=ref,
        stage=step[0].stage.value,
        company=inquiry.company[:200],
        contact_name=inquiry.contact_name[:200],
        email=inquiry.email[:254],
        phone=inquiry.phone[:50],
        message=inquiry.message,
        devices_hint=inquiry.devices_hint,
        source=source[:20],
        source_ip=source_ip[:64],
        cancel_reason="",
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    session.flush()
    _save(session, row, step, source_ip=source_ip)
    return row


def record_meeting(
    session: Session,
    *,
    row: OnboardingCaseRow,
    notes: flow.MeetingNotes,
    actor: str,
    at: datetime | None = None,
    source_ip: str = "",
) -> OnboardingCaseRow:
    """Raises:
    OnboardingError: wrong stage or incomplete notes.
    """
    step = flow.record_meeting(_to_domain(session, row), notes, actor=actor, at=at or utcnow())
    recorded = step[0].meeting
    assert recorded is not None  # noqa: S101 - set by the step
    row.meeting = {
        "held_on": recorded.held_on.isoformat(),
        "attendees": list(recorded.attendees),
        "notes": recorded.notes,
        "devices": recorded.devices,
        "network_size": recorded.network_size.value,
        "gaps": list(recorded.gaps) if recorded.gaps is not None else None,
        "gap_set": recorded.gap_set.to_dict() if recorded.gap_set is not None else None,
    }
    _save(session, row, step, source_ip=source_ip)
    return row


def propose(
    session: Session,
    *,
    row: OnboardingCaseRow,
    actor: str,
    course: str | None = None,
    override_reason: str = "",
    at: datetime | None = None,
    source_ip: str = "",
) -> OnboardingCaseRow:
    """Propose the recommended course (or another with a reason); drops an earlier quote.

    Raises:
        OnboardingError: wrong stage, or another course without a reason.
        ValidationError: an unknown course or devices outside its range.
    """
    step = flow.propose(
        _to_domain(session, row),
        actor=actor,
        at=at or utcnow(),
        course=course or None,
        override_reason=override_reason,
    )
    proposal = step[0].proposal
    assert proposal is not None  # noqa: S101 - set by the step
    row.proposal = {
        "course": proposal.course,
        "devices": proposal.devices,
        "recommended": proposal.recommendation.course.id,
        "override_reason": proposal.override_reason,
        "reasons": [r.to_dict() for r in proposal.recommendation.reasons],
    }
    row.quote_id = None
    _save(session, row, step, source_ip=source_ip)
    return row


def quote_case(
    session: Session,
    *,
    row: OnboardingCaseRow,
    actor: str,
    issue_date: date,
    months: int | None = None,
    campaign: bool = False,
    subsidy_year: int | None = None,
    small_business: bool = False,
    security_action: bool = True,
    valid_days: int | None = None,
    at: datetime | None = None,
    source_ip: str = "",
) -> QuoteRow:
    """Issue a quote for the proposal (course and devices from it) and attach it.

    Raises:
        OnboardingError: the case has no proposal at this stage.
        ValidationError: bad months, subsidy year, ...
    """
    case = _to_domain(session, row)
    if case.stage not in (flow.Stage.PROPOSAL, flow.Stage.QUOTE) or case.proposal is None:
        raise OnboardingError(
            f"cannot attach a quote at stage {case.stage.value!r} (allowed from: proposal, quote)"
        )
    inputs = QuoteInputs(
        course=case.proposal.course,
        devices=case.proposal.devices,
        months=months,
        campaign=campaign,
        subsidy_year=subsidy_year,
        small_business=small_business,
        security_action=security_action,
    )
    quote = create_quote(
        session,
        inputs=inputs,
        issue_date=issue_date,
        customer=row.company,
        actor=actor,
        valid_days=valid_days,
        case_id=row.id,
        tenant_id=row.tenant_id,
        source_ip=source_ip,
    )
    step = flow.attach_quote(case, quote_document(quote), actor=actor, at=at or utcnow())
    row.quote_id = quote.id
    _save(session, row, step, source_ip=source_ip)
    return quote


def sign_contract(
    session: Session,
    *,
    row: OnboardingCaseRow,
    actor: str,
    signed_on: date,
    start_date: date,
    devices: int,
    term_months: int = 12,
    grant_decision_date: date | None = None,
    at: datetime | None = None,
    source_ip: str = "",
) -> ContractRow:
    """Record the signed contract for the case's quote.

    Raises:
        OnboardingError: wrong stage, signed outside the quote's validity, devices that
            differ from the quote, a term that is not whole years.
    """
    step = flow.sign_contract(
        _to_domain(session, row),
        signed_on=signed_on,
        start_date=start_date,
        devices=devices,
        actor=actor,
        at=at or utcnow(),
        term_months=term_months,
        grant_decision_date=grant_decision_date,
    )
    contract = step[0].contract
    assert contract is not None and row.quote_id is not None  # noqa: S101 - set by the step
    quote = get_quote(session, quote_id=row.quote_id)
    contract_row = ContractRow(
        case_id=row.id,
        quote_id=quote.id,
        tenant_id=row.tenant_id,
        customer=row.company[:200],
        course=quote.course,
        devices=contract.devices,
        signed_on=contract.signed_on,
        start_date=contract.start_date,
        end_date=contract.end_date,
        term_months=contract.term_months,
        grant_decision_date=grant_decision_date,
        subsidy_warning=contract.subsidy_warning.both() if contract.subsidy_warning else "",
        created_by=actor[:200],
        created_at=utcnow(),
    )
    session.add(contract_row)
    session.flush()
    row.contract_id = contract_row.id
    _save(session, row, step, source_ip=source_ip)
    return contract_row


@dataclass(frozen=True, slots=True)
class Provisioned:
    """The tenant and first administrator of a case; ``password`` only when just created."""

    tenant: Tenant
    admin: User
    password: str | None
    created: bool


def _initial_password() -> str:
    return secrets.token_urlsafe(15)


def provisioned(session: Session, *, row: OnboardingCaseRow) -> Provisioned:
    """What an already provisioned case created (no password: it was shown once).

    Raises:
        OnboardingError: the case is not provisioned.
    """
    if row.stage != flow.Stage.PROVISIONED.value or row.tenant_id is None:
        raise OnboardingError(f"case {row.id} is not provisioned (stage {row.stage!r})")
    tenant = tenants.get_tenant(session, tenant_id=row.tenant_id)
    if row.admin_user_id is None:
        raise OnboardingError(f"case {row.id} has no administrator recorded")
    admin = users.get_user(session, user_id=row.admin_user_id)
    return Provisioned(tenant, admin, None, created=False)


def provision(
    session: Session,
    *,
    row: OnboardingCaseRow,
    hasher: PasswordHasher,
    actor: str,
    tenant_slug: str = "",
    admin_username: str = "",
    admin_email: str = "",
    tenant_name: str | None = None,
    assign_operator_id: int | None = None,
    at: datetime | None = None,
    source_ip: str = "",
) -> Provisioned:
    """Create the case's tenant and its first customer administrator (idempotent).

    From stage ``contract`` the plan (slug, admin) is recorded first; from ``provisioning``
    the recorded plan is used. A case already provisioned returns what it created, without
    creating anything. The administrator gets a random password, returned once.
    ``assign_operator_id`` (the operator doing it) is assigned the new tenant, so the staff
    member who onboarded the customer keeps seeing its case, quote and contract.

    Raises:
        OnboardingError: wrong stage or a bad slug/username/email.
        DuplicateError: the tenant slug or username is taken by someone else.
    """
    if row.stage == flow.Stage.PROVISIONED.value:
        return provisioned(session, row=row)
    at = at or utcnow()
    case = _to_domain(session, row)
    planned = case.provisioning
    slug = planned.tenant_slug if planned else tenant_slug.strip()
    username = planned.admin_username if planned else admin_username.strip()
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise DuplicateError(f"tenant {slug!r} already exists; choose another tenant id")
    if users.find_user(session, username=username) is not None:
        raise DuplicateError(f"user {username!r} already exists; choose another username")
    if case.stage is flow.Stage.CONTRACT:
        step = flow.plan_provisioning(
            case,
            tenant_slug=tenant_slug.strip(),
            admin_username=admin_username.strip(),
            admin_email=admin_email.strip(),
            actor=actor,
            at=at,
            tenant_name=tenant_name,
        )
        case = step[0]
        plan = case.provisioning
        assert plan is not None  # noqa: S101 - set by the step
        row.provisioning = {
            "tenant_slug": plan.tenant_slug,
            "tenant_name": plan.tenant_name,
            "admin_username": plan.admin_username,
            "admin_email": plan.admin_email,
            "course": plan.course,
            "licences": plan.licences,
            "contract_start": plan.contract_start.isoformat(),
            "contract_end": plan.contract_end.isoformat(),
        }
        _save(session, row, step, source_ip=source_ip)
    plan = case.provisioning
    if case.stage is not flow.Stage.PROVISIONING or plan is None:
        raise OnboardingError(
            f"cannot provision at stage {case.stage.value!r} (allowed from: contract)"
        )
    tenant = tenants.create_tenant(session, slug=plan.tenant_slug, name=plan.tenant_name)
    password = _initial_password()
    admin = users.create_user(
        session,
        username=plan.admin_username,
        password=password,
        role=Role.CUSTOMER_ADMIN,
        tenant_id=tenant.id,
        display_name=row.contact_name,
        hasher=hasher,
    )
    audit.record(
        session,
        action="tenant.create",
        actor=actor,
        tenant_id=tenant.id,
        target=f"tenant:{tenant.id}",
        detail={"slug": tenant.slug, "name": tenant.name, "case": row.id},
        source_ip=source_ip,
    )
    audit.record(
        session,
        action="user.create",
        actor=actor,
        tenant_id=tenant.id,
        target=f"user:{admin.id}",
        detail={"username": admin.username, "role": admin.role, "case": row.id},
        source_ip=source_ip,
    )
    if assign_operator_id is not None:
        operator = users.get_user(session, user_id=assign_operator_id)
        if operator.role_enum is Role.OPERATOR:
            users.set_assigned_tenants(
                session,
                user=operator,
                tenant_ids=[*(t.id for t in operator.assigned_tenants), tenant.id],
            )
            audit.record(
                session,
                action="user.update",
                actor=actor,
                tenant_id=tenant.id,
                target=f"user:{operator.id}",
                detail={"assigned_tenant_added": tenant.id, "case": row.id},
                source_ip=source_ip,
            )
    row.tenant_id = tenant.id
    row.admin_user_id = admin.id
    for quote in case_quotes(session, row=row):
        quote.tenant_id = tenant.id
    if row.contract_id is not None:
        session.get_one(ContractRow, row.contract_id).tenant_id = tenant.id
    step = flow.complete_provisioning(case, tenant_id=str(tenant.id), actor=actor, at=at)
    assert row.provisioning is not None  # noqa: S101 - set when planned
    row.provisioning = {**row.provisioning, "tenant_id": str(tenant.id)}
    _save(session, row, step, source_ip=source_ip)
    return Provisioned(tenant, admin, password, created=True)


def cancel(
    session: Session,
    *,
    row: OnboardingCaseRow,
    reason: str,
    actor: str,
    at: datetime | None = None,
    source_ip: str = "",
) -> OnboardingCaseRow:
    """Raises:
    OnboardingError: the case is closed already, or no reason.
    """
    step = flow.cancel(_to_domain(session, row), reason=reason, actor=actor, at=at or utcnow())
    row.cancel_reason = reason.strip()[:500]
    _save(session, row, step, source_ip=source_ip)
    return row


# --- guideline gaps for the proposal ---------------------------------------------------


def gap_assessments(
    session: Session, *, tenant_ids: Collection[int] | None = None, limit: int = 100
) -> list[tuple[GuidelineAssessment, Tenant]]:
    """JAMA/JAPIA assessments the caller may read (newest first), with their tenants."""
    stmt = (
        select(GuidelineAssessment, Tenant)
        .join(Tenant, Tenant.id == GuidelineAssessment.tenant_id)
        .where(GuidelineAssessment.framework_id == FRAMEWORK_ID)
        .order_by(GuidelineAssessment.created_at.desc(), GuidelineAssessment.id)
        .limit(limit)
    )
    if tenant_ids is not None:
        stmt = stmt.where(GuidelineAssessment.tenant_id.in_(list(tenant_ids)))
    return [(row[0], row[1]) for row in session.execute(stmt)]


def assessment_gaps(
    session: Session, *, assessment_id: str, tenant_ids: Collection[int] | None = None
) -> GapSet:
    """The unmet items of one stored assessment (read through the guideline repository).

    Raises:
        NotFoundError: no such assessment, or one of a tenant outside ``tenant_ids``.
        ValidationError: the assessment is not a JAMA/JAPIA one.
    """
    found = session.execute(
        select(GuidelineAssessment.tenant_id, Tenant.slug)
        .join(Tenant, Tenant.id == GuidelineAssessment.tenant_id)
        .where(GuidelineAssessment.id == assessment_id)
    ).first()
    if found is None or not _visible(found[0], tenant_ids):
        raise NotFoundError(f"assessment {assessment_id} not found")
    assessment = SqlAssessmentRepository(session).get(found[1], assessment_id)
    return gaps_from_assessment(assessment)


def latest_assessment_gaps(session: Session, *, tenant_id: int) -> GapSet | None:
    """The gaps of the tenant's newest JAMA/JAPIA assessment (``None``: it has none)."""
    rows = gap_assessments(session, tenant_ids=[tenant_id], limit=1)
    if not rows:
        return None
    return assessment_gaps(session, assessment_id=rows[0][0].id)


def case_history(session: Session, *, row: OnboardingCaseRow) -> list[AuditLog]:
    """The audit entries of the case, oldest first."""
    return list(
        session.scalars(
            select(AuditLog)
            .where(AuditLog.target == f"{CASE_TARGET}:{row.id}")
            .order_by(AuditLog.seq)
        )
    )


__all__ = [
    "CASE_TARGET",
    "INQUIRY_ACTIONS",
    "Provisioned",
    "allocate_quote_number",
    "assessment_gaps",
    "cancel",
    "case_history",
    "case_quotes",
    "count_inquiries_from",
    "count_open_cases",
    "create_quote",
    "get_case",
    "get_contract",
    "gap_assessments",
    "get_quote",
    "latest_assessment_gaps",
    "licensed_devices",
    "list_cases",
    "list_contracts",
    "list_quotes",
    "open_case",
    "propose",
    "provision",
    "provisioned",
    "quote_case",
    "quote_document",
    "quote_inputs",
    "record_meeting",
    "record_rejected_inquiry",
    "sign_contract",
]
