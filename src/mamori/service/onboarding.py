"""Onboarding as a domain state machine: inquiry → meeting notes → proposal → quote →
contract → provisioning.

Every step is a pure function taking the current :class:`OnboardingCase` and returning the
next case plus an :class:`AuditRecord` (the data the storage layer will persist and publish
as :class:`mamori.hooks.AuditRecorded`). A step is refused with
:class:`~mamori.service.errors.OnboardingError` when the case is at the wrong stage or its
data is incomplete; the message says what is allowed. Nothing here touches storage.

Stages and the steps that reach them::

    receive_inquiry   (new case)            -> inquiry
    record_meeting    inquiry|meeting       -> meeting      (notes may be revised)
    propose           meeting|proposal|quote-> proposal     (a new proposal drops the quote)
    attach_quote      proposal|quote        -> quote        (a new quote supersedes the old)
    sign_contract     quote                 -> contract
    plan_provisioning contract              -> provisioning (tenant and first admin planned)
    complete_provisioning provisioning      -> provisioned  (the tenant exists)
    cancel            any open stage        -> cancelled

The inquiry comes from a public web form; :func:`screen_inquiry` is its spam protection
(a honeypot field, a minimum and maximum time between showing and sending the form, a
limit on links) and its validation; :func:`issue_form_token`/:func:`read_form_token` sign the
time the form was shown so that the timing cannot be forged.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from mamori.hooks import AuditRecorded
from mamori.model import utc
from mamori.service.catalog import PriceBook, load_price_book
from mamori.service.errors import OnboardingError
from mamori.service.gaps import Gap, GapSet
from mamori.service.quote import QuoteDocument
from mamori.service.recommend import NetworkSize, Recommendation, recommend_course
from mamori.service.text import Text


class Stage(StrEnum):
    INQUIRY = "inquiry"
    MEETING = "meeting"
    PROPOSAL = "proposal"
    QUOTE = "quote"
    CONTRACT = "contract"
    PROVISIONING = "provisioning"
    PROVISIONED = "provisioned"
    CANCELLED = "cancelled"


TERMINAL = frozenset({Stage.PROVISIONED, Stage.CANCELLED})

_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_USERNAME = re.compile(r"^[A-Za-z0-9._\-]{3,64}$")
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)

HONEYPOT_FIELD = "website"
MIN_FILL_SECONDS = 3
MAX_FORM_AGE = timedelta(hours=24)
MAX_LINKS = 2
MAX_MESSAGE_CHARS = 5000


@dataclass(frozen=True, slots=True)
class Inquiry:
    company: str
    contact_name: str
    email: str
    message: str
    phone: str = ""
    devices_hint: int | None = None


@dataclass(frozen=True, slots=True)
class Screening:
    """Outcome of :func:`screen_inquiry`: an accepted inquiry or the reasons it was refused.

    ``spam`` reasons are for logging only (show a neutral message to the sender);
    ``problems`` are field errors to show back on the form.
    """

    inquiry: Inquiry | None
    spam: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.inquiry is not None


def screen_inquiry(
    fields: Mapping[str, str], *, rendered_at: datetime, submitted_at: datetime
) -> Screening:
    """Check a submitted inquiry form for spam, then validate it.

    Args:
        fields: the form fields (``company``, ``contact_name``, ``email``, ``message``,
            optional ``phone`` and ``devices``; ``website`` is the hidden honeypot).
        rendered_at: when the form was shown (from a signed token the web layer checks).
        submitted_at: when it was sent.
    """
    spam: list[str] = []
    if str(fields.get(HONEYPOT_FIELD, "")).strip():
        spam.append("honeypot field filled in")
    elapsed = utc(submitted_at) - utc(rendered_at)
    if elapsed < timedelta(seconds=MIN_FILL_SECONDS):
        spam.append(f"sent {elapsed.total_seconds():.1f}s after the form was shown")
    if elapsed > MAX_FORM_AGE:
        spam.append("the form is older than 24 hours")
    message = str(fields.get("message", ""))
    if len(_URL.findall(message)) > MAX_LINKS:
        spam.append(f"more than {MAX_LINKS} links in the message")
    if spam:
        return Screening(None, spam=tuple(spam))
    problems: list[str] = []
    company = str(fields.get("company", "")).strip()
    contact = str(fields.get("contact_name", "")).strip()
    email = str(fields.get("email", "")).strip()
    phone = str(fields.get("phone", "")).strip()
    if not company:
        problems.append("会社名を入力してください (company is required)")
    if not contact:
        problems.append("ご担当者名を入力してください (contact name is required)")
    if not _EMAIL.match(email):
        problems.append("メールアドレスが正しくありません (email address is not valid)")
    if not message.strip():
        problems.append("お問い合わせ内容を入力してください (message is required)")
    if len(message) > MAX_MESSAGE_CHARS:
        problems.append(
            f"お問い合わせ内容は{MAX_MESSAGE_CHARS}文字以内です "
            f"(message is longer than {MAX_MESSAGE_CHARS} characters)"
        )
    devices_hint: int | None = None
    raw_devices = str(fields.get("devices", "")).strip()
    if raw_devices:
        if raw_devices.isdigit() and int(raw_devices) > 0:
            devices_hint = int(raw_devices)
        else:
            problems.append("台数は1以上の整数で入力してください (devices must be a whole number)")
    if problems:
        return Screening(None, problems=tuple(problems))
    return Screening(Inquiry(company, contact, email, message.strip(), phone, devices_hint))


_TOKEN_SALT = "mamori.onboarding.inquiry-form"  # noqa: S105 - a namespace, not a secret


def issue_form_token(secret: str, rendered_at: datetime) -> str:
    """A signed token carrying when the inquiry form was shown (a hidden form field).

    The web layer puts it in the form and passes :func:`read_form_token`'s result to
    :func:`screen_inquiry` as ``rendered_at``, so the timing checks cannot be forged.
    """
    if not secret:
        raise OnboardingError("a secret key is needed to sign the form token")
    return URLSafeSerializer(secret, salt=_TOKEN_SALT).dumps(utc(rendered_at).isoformat())


def read_form_token(secret: str, token: str) -> datetime:
    """When the form was shown, from a token made by :func:`issue_form_token`.

    Raises:
        OnboardingError: when the token is missing, altered or signed with another key.
    """
    if not secret:
        raise OnboardingError("a secret key is needed to read the form token")
    try:
        value = URLSafeSerializer(secret, salt=_TOKEN_SALT).loads(token)
        return utc(datetime.fromisoformat(str(value)))
    except (BadSignature, ValueError, TypeError):
        raise OnboardingError("the inquiry form token is not valid") from None


@dataclass(frozen=True, slots=True)
class MeetingNotes:
    held_on: date
    attendees: tuple[str, ...]
    notes: str
    devices: int
    network_size: NetworkSize
    gaps: tuple[int, ...] | None = None  # open guideline items, when an assessment exists
    #: where the gaps came from (a stored assessment or an uploaded check sheet), with each
    #: item's label, level and status; ``gaps`` then lists the same item numbers
    gap_set: GapSet | None = None

    def gap_input(self) -> tuple[Gap, ...] | tuple[int, ...] | None:
        """What the recommendation reads: the detailed gaps when known, else the numbers."""
        if self.gap_set is not None:
            return self.gap_set.gaps
        return self.gaps


@dataclass(frozen=True, slots=True)
class Proposal:
    course: str
    devices: int
    recommendation: Recommendation
    override_reason: str = ""


@dataclass(frozen=True, slots=True)
class Contract:
    signed_on: date
    start_date: date
    term_months: int
    devices: int
    quote_number: str
    end_date: date
    subsidy_warning: Text | None = None


@dataclass(frozen=True, slots=True)
class ProvisioningPlan:
    """What the web/store layer creates: the tenant, its first admin and the licences."""

    tenant_slug: str
    tenant_name: str
    admin_username: str
    admin_email: str
    course: str
    licences: int
    contract_start: date
    contract_end: date
    tenant_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited onboarding step, as data (the storage layer persists it)."""

    case_id: str
    action: str
    actor: str
    at: datetime
    from_stage: Stage | None
    to_stage: Stage
    detail: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "action": self.action,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "from_stage": self.from_stage.value if self.from_stage else None,
            "to_stage": self.to_stage.value,
            "detail": dict(self.detail),
        }

    def to_hook(self, tenant: str | None = None) -> AuditRecorded:
        """The record as the shared :class:`~mamori.hooks.AuditRecorded` hook."""
        detail = dict(self.detail)
        detail.update(
            case_id=self.case_id,
            at=self.at.isoformat(),
            from_stage=self.from_stage.value if self.from_stage else None,
            to_stage=self.to_stage.value,
        )
        return AuditRecorded(action=self.action, actor=self.actor, tenant=tenant, detail=detail)


@dataclass(frozen=True, slots=True)
class OnboardingCase:
    """One customer's way from inquiry to a running tenant."""

    case_id: str
    stage: Stage
    inquiry: Inquiry
    created_at: datetime
    meeting: MeetingNotes | None = None
    proposal: Proposal | None = None
    quote: QuoteDocument | None = None
    contract: Contract | None = None
    provisioning: ProvisioningPlan | None = None
    cancel_reason: str = ""
    history: tuple[AuditRecord, ...] = field(default=())


Step = tuple[OnboardingCase, AuditRecord]


def _require(case: OnboardingCase, step: str, allowed: frozenset[Stage]) -> None:
    if case.stage not in allowed:
        names = ", ".join(sorted(s.value for s in allowed))
        raise OnboardingError(
            f"cannot {step} at stage {case.stage.value!r} (allowed from: {names})"
        )


def _check_actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise OnboardingError("every onboarding step needs the acting user")
    return actor.strip()


def _advance(
    case: OnboardingCase,
    action: str,
    actor: str,
    at: datetime,
    to: Stage,
    detail: dict[str, Any],
    **changes: Any,
) -> Step:
    record = AuditRecord(
        case_id=case.case_id,
        action=f"onboarding.{action}",
        actor=_check_actor(actor),
        at=utc(at),
        from_stage=case.stage,
        to_stage=to,
        detail=detail,
    )
    new = replace(case, stage=to, history=(*case.history, record), **changes)
    return new, record


def receive_inquiry(case_id: str, inquiry: Inquiry, *, actor: str, at: datetime) -> Step:
    """Open a case for an accepted inquiry (``actor`` is e.g. ``"web-form"``)."""
    if not case_id.strip():
        raise OnboardingError("a case needs an id")
    record = AuditRecord(
        case_id=case_id,
        action="onboarding.inquiry",
        actor=_check_actor(actor),
        at=utc(at),
        from_stage=None,
        to_stage=Stage.INQUIRY,
        detail={
            "company": inquiry.company,
            "contact_name": inquiry.contact_name,
            "email": inquiry.email,
            "devices_hint": inquiry.devices_hint,
        },
    )
    case = OnboardingCase(
        case_id=case_id,
        stage=Stage.INQUIRY,
        inquiry=inquiry,
        created_at=utc(at),
        history=(record,),
    )
    return case, record


def record_meeting(case: OnboardingCase, notes: MeetingNotes, *, actor: str, at: datetime) -> Step:
    """Record (or revise) the meeting notes: devices, network size, guideline gaps."""
    _require(case, "record meeting notes", frozenset({Stage.INQUIRY, Stage.MEETING}))
    if not notes.notes.strip():
        raise OnboardingError("meeting notes are empty")
    if not notes.attendees or not all(a.strip() for a in notes.attendees):
        raise OnboardingError("meeting notes need the attendees")
    if isinstance(notes.devices, bool) or not isinstance(notes.devices, int) or notes.devices < 1:
        raise OnboardingError(f"devices must be at least 1 (got {notes.devices!r})")
    if utc(at).date() < notes.held_on:
        raise OnboardingError("the meeting cannot be recorded before it was held")
    gap_set = notes.gap_set
    if gap_set is not None:
        if notes.gaps is None:
            notes = replace(notes, gaps=gap_set.items)
        elif tuple(sorted(set(notes.gaps))) != tuple(sorted(set(gap_set.items))):
            raise OnboardingError("the gap numbers do not match the assessment's gaps")
    detail = {
        "held_on": notes.held_on.isoformat(),
        "attendees": list(notes.attendees),
        "devices": notes.devices,
        "network_size": notes.network_size.value,
        "gaps": list(notes.gaps) if notes.gaps is not None else None,
        "gap_source": (
            {
                "source": gap_set.source,
                "reference": gap_set.reference,
                "framework": gap_set.framework,
                "answered": gap_set.answered,
            }
            if gap_set is not None
            else None
        ),
        "revised": case.stage is Stage.MEETING,
    }
    return _advance(case, "meeting", actor, at, Stage.MEETING, detail, meeting=notes)


def propose(
    case: OnboardingCase,
    *,
    actor: str,
    at: datetime,
    course: str | None = None,
    override_reason: str = "",
    price_book: PriceBook | None = None,
) -> Step:
    """Propose a course: the recommendation from the meeting notes, or another course with
    a reason. A new proposal drops an earlier quote.
    """
    _require(case, "propose", frozenset({Stage.MEETING, Stage.PROPOSAL, Stage.QUOTE}))
    assert case.meeting is not None  # noqa: S101 - guaranteed by the stage
    book = price_book or load_price_book()
    meeting = case.meeting
    recommendation = recommend_course(
        meeting.devices, meeting.network_size, meeting.gap_input(), price_book=book
    )
    chosen = recommendation.course
    if course is not None and book.course(course).id != chosen.id:
        if not override_reason.strip():
            raise OnboardingError(
                f"the recommended course is {chosen.id!r}; proposing {course!r} needs a reason"
            )
        chosen = book.course(course)
    chosen.check_devices(meeting.devices)
    proposal = Proposal(chosen.id, meeting.devices, recommendation, override_reason.strip())
    detail = {
        "course": chosen.id,
        "devices": meeting.devices,
        "recommended": recommendation.course.id,
        "override_reason": proposal.override_reason or None,
        "reasons": [r.ja for r in recommendation.reasons],
        "network_gaps": list(recommendation.network_gaps),
    }
    return _advance(
        case, "proposal", actor, at, Stage.PROPOSAL, detail, proposal=proposal, quote=None
    )


def attach_quote(
    case: OnboardingCase, document: QuoteDocument, *, actor: str, at: datetime
) -> Step:
    """Record the quote issued for the proposal (a new quote supersedes the previous one)."""
    _require(case, "attach a quote", frozenset({Stage.PROPOSAL, Stage.QUOTE}))
    assert case.proposal is not None  # noqa: S101 - guaranteed by the stage
    quote = document.quote
    if quote.course.id != case.proposal.course or quote.devices != case.proposal.devices:
        raise OnboardingError(
            f"the quote ({quote.course.id}, {quote.devices} devices) does not match the "
            f"proposal ({case.proposal.course}, {case.proposal.devices} devices); "
            "propose again first"
        )
    if case.quote is not None and case.quote.number == document.number:
        raise OnboardingError(f"quote {document.number} is already attached")
    detail = {
        "number": document.number,
        "issue_date": document.issue_date.isoformat(),
        "valid_until": document.valid_until.isoformat(),
        "fees_total": quote.fees_total,
        "tax_included_total": quote.tax_included_total,
        "subsidy": quote.subsidy.amount,
        "customer_pays_tax_included": quote.customer_pays_tax_included,
        "supersedes": case.quote.number if case.quote else None,
    }
    return _advance(case, "quote", actor, at, Stage.QUOTE, detail, quote=document)


def _add_months(day: date, months: int) -> date:
    """``day`` moved ``months`` calendar months on (the day clamped to the month's end)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def sign_contract(
    case: OnboardingCase,
    *,
    signed_on: date,
    start_date: date,
    devices: int,
    actor: str,
    at: datetime,
    term_months: int = 12,
    grant_decision_date: date | None = None,
) -> Step:
    """Record the signed contract.

    The contract must be signed while the quote is valid, start on or after signing, run
    whole years (1-year contracts) and cover the quoted number of devices. When the quote
    counts on the IT subsidy and the contract is signed before the grant decision, the
    contract is still recorded but carries a warning that the subsidy is lost.
    """
    _require(case, "sign a contract", frozenset({Stage.QUOTE}))
    assert case.quote is not None and case.proposal is not None  # noqa: S101
    document = case.quote
    if not document.issue_date <= signed_on <= document.valid_until:
        raise OnboardingError(
            f"quote {document.number} is valid {document.issue_date} to "
            f"{document.valid_until}; a contract signed on {signed_on} needs a new quote"
        )
    if start_date < signed_on:
        raise OnboardingError("the contract cannot start before it is signed")
    if (
        isinstance(term_months, bool)
        or not isinstance(term_months, int)
        or term_months < 12
        or term_months % 12
    ):
        raise OnboardingError(f"the term must be whole years of 12 months (got {term_months!r})")
    if devices != document.quote.devices:
        raise OnboardingError(
            f"the contract covers {devices} devices but quote {document.number} has "
            f"{document.quote.devices}; issue a new quote first"
        )
    warning: Text | None = None
    if document.quote.subsidy.amount and (
        grant_decision_date is None or signed_on < grant_decision_date
    ):
        warning = Text(
            "交付決定前の契約のため、IT導入補助金は受けられません",
            "signed before the grant decision: the IT subsidy is lost",
        )
    contract = Contract(
        signed_on=signed_on,
        start_date=start_date,
        term_months=term_months,
        devices=devices,
        quote_number=document.number,
        end_date=_add_months(start_date, term_months) - timedelta(days=1),
        subsidy_warning=warning,
    )
    detail = {
        "quote_number": document.number,
        "signed_on": signed_on.isoformat(),
        "start_date": start_date.isoformat(),
        "end_date": contract.end_date.isoformat(),
        "term_months": term_months,
        "devices": devices,
        "course": document.quote.course.id,
        "subsidy_warning": warning.ja if warning else None,
    }
    return _advance(case, "contract", actor, at, Stage.CONTRACT, detail, contract=contract)


def plan_provisioning(
    case: OnboardingCase,
    *,
    tenant_slug: str,
    admin_username: str,
    admin_email: str,
    actor: str,
    at: datetime,
    tenant_name: str | None = None,
) -> Step:
    """Plan the tenant and its first admin for the signed contract."""
    _require(case, "plan provisioning", frozenset({Stage.CONTRACT}))
    assert case.contract is not None and case.quote is not None  # noqa: S101
    problems = []
    if not _SLUG.match(tenant_slug):
        problems.append(
            f"tenant id {tenant_slug!r} must be 1-40 lowercase letters, digits or '-' "
            "(not at either end)"
        )
    if not _USERNAME.match(admin_username):
        problems.append(f"admin username {admin_username!r} must be 3-64 letters/digits/._-")
    if not _EMAIL.match(admin_email):
        problems.append(f"admin email {admin_email!r} is not valid")
    if problems:
        raise OnboardingError("; ".join(problems))
    plan = ProvisioningPlan(
        tenant_slug=tenant_slug,
        tenant_name=(tenant_name or case.inquiry.company).strip(),
        admin_username=admin_username,
        admin_email=admin_email,
        course=case.quote.quote.course.id,
        licences=case.contract.devices,
        contract_start=case.contract.start_date,
        contract_end=case.contract.end_date,
    )
    detail = {
        "tenant_slug": plan.tenant_slug,
        "tenant_name": plan.tenant_name,
        "admin_username": plan.admin_username,
        "admin_email": plan.admin_email,
        "course": plan.course,
        "licences": plan.licences,
    }
    return _advance(case, "provisioning", actor, at, Stage.PROVISIONING, detail, provisioning=plan)


def complete_provisioning(
    case: OnboardingCase, *, tenant_id: str, actor: str, at: datetime
) -> Step:
    """Record that the tenant and its first admin exist (``tenant_id`` from the store)."""
    _require(case, "complete provisioning", frozenset({Stage.PROVISIONING}))
    assert case.provisioning is not None  # noqa: S101
    if not tenant_id.strip():
        raise OnboardingError("the created tenant's id is missing")
    plan = replace(case.provisioning, tenant_id=tenant_id)
    detail = {"tenant_id": tenant_id, "tenant_slug": plan.tenant_slug}
    return _advance(case, "provisioned", actor, at, Stage.PROVISIONED, detail, provisioning=plan)


def cancel(case: OnboardingCase, *, reason: str, actor: str, at: datetime) -> Step:
    """Close an open case without a tenant (the customer declined, spam found late, ...)."""
    _require(case, "cancel", frozenset(set(Stage) - TERMINAL))
    if not reason.strip():
        raise OnboardingError("cancelling needs a reason")
    return _advance(
        case,
        "cancelled",
        actor,
        at,
        Stage.CANCELLED,
        {"reason": reason.strip()},
        cancel_reason=reason.strip(),
    )


__all__ = [
    "HONEYPOT_FIELD",
    "TERMINAL",
    "AuditRecord",
    "Contract",
    "Inquiry",
    "MeetingNotes",
    "OnboardingCase",
    "Proposal",
    "ProvisioningPlan",
    "Screening",
    "Stage",
    "Step",
    "attach_quote",
    "cancel",
    "complete_provisioning",
    "issue_form_token",
    "plan_provisioning",
    "propose",
    "read_form_token",
    "receive_inquiry",
    "record_meeting",
    "screen_inquiry",
    "sign_contract",
]
