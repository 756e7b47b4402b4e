"""Schemas of the service API: quote computation, insurance claims, stored quotes, cases.

The quote fields are the CLI's (``mamori quote``); the results are the domain's own JSON
(:meth:`mamori.service.quote.Quote.to_dict`, :meth:`ClaimPayout.to_dict`), so the API, the
CLI and the pages agree on field names (``fees_total``, ``tax_included_total``,
``subsidy``, ``customer_pays_tax_included``, ``subsidy_reason``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from mamori.service.inputs import QuoteInputs


class QuoteCompute(BaseModel):
    """The inputs of ``mamori quote`` (``quote_date`` defaults to today).

    Numbers and flags are strict JSON types: ``true`` is not a device count, ``"5"`` not 5.
    """

    model_config = ConfigDict(extra="forbid")

    course: str = Field(min_length=1, max_length=100, examples=["small-network"])
    devices: StrictInt = Field(examples=[10])
    months: StrictInt | None = Field(default=None, examples=[24])
    campaign: StrictBool = False
    subsidy_year: StrictInt | None = Field(default=None, examples=[2025])
    small_business: StrictBool = False
    security_action: StrictBool = True
    contract_date: date | None = None
    grant_decision_date: date | None = None
    quote_date: date | None = None
    lang: Literal["ja", "en"] = "ja"

    def inputs(self) -> QuoteInputs:
        return QuoteInputs(
            course=self.course,
            devices=self.devices,
            months=self.months,
            campaign=self.campaign,
            subsidy_year=self.subsidy_year,
            small_business=self.small_business,
            security_action=self.security_action,
            contract_date=self.contract_date,
            grant_decision_date=self.grant_decision_date,
        )


class QuoteCreate(QuoteCompute):
    """A quote to number and store: the computation plus customer and validity."""

    customer: str = Field(min_length=1, max_length=200, examples=["株式会社アクメ部品"])
    issue_date: date | None = None
    valid_days: StrictInt | None = Field(default=None, gt=0, le=365)
    tenant_id: StrictInt | None = Field(
        default=None, description="An existing customer's tenant (renewal, more devices)."
    )


class InsuranceCalculate(BaseModel):
    """A claim (any form ``mamori insurance --claim`` reads) for ``devices`` licences.

    Customers may leave ``devices`` out: their tenant's licensed devices are used.
    """

    model_config = ConfigDict(extra="forbid")

    devices: StrictInt | None = Field(default=None, examples=[10])
    claim: Any = Field(examples=[{"items": [{"category": "damages", "amount": 300000}]}])
    lang: Literal["ja", "en"] = "ja"


class QuotePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    issue_date: date
    valid_until: date
    customer: str
    course: str
    devices: int
    months: int
    campaign: bool
    price_book_version: str
    fees_total: int
    tax: int
    tax_included_total: int
    subsidy: int
    customer_pays_tax_included: int
    case_id: int | None
    tenant_id: int | None
    created_by: str
    created_at: datetime


class QuoteDetail(QuotePublic):
    inputs: dict[str, Any]
    figures: dict[str, Any]


class ContractPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int | None
    quote_id: int
    tenant_id: int | None
    customer: str
    course: str
    devices: int
    signed_on: date
    start_date: date
    end_date: date
    term_months: int
    grant_decision_date: date | None
    subsidy_warning: str
    created_at: datetime


class CasePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ref: str
    stage: str
    company: str
    contact_name: str
    email: str
    phone: str
    message: str
    devices_hint: int | None
    source: str
    meeting: dict[str, Any] | None
    proposal: dict[str, Any] | None
    quote_id: int | None
    contract_id: int | None
    provisioning: dict[str, Any] | None
    tenant_id: int | None
    cancel_reason: str
    created_at: datetime
    updated_at: datetime


class CaseHistoryEntry(BaseModel):
    """One audited step of a case."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    ts: datetime
    action: str
    actor: str
    detail: dict[str, Any]


class CaseDetail(CasePublic):
    """A case with its audited steps (oldest first) and what the next steps may be."""

    admin_user_id: int | None
    history: list[CaseHistoryEntry]
    next_steps: list[str]


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeetingStep(_Step):
    """The meeting notes. Gaps are item numbers, or read from a stored JAMA/JAPIA
    assessment (``assessment_id``, of a tenant the caller may see), or from a filled check
    sheet (``checksheet_base64``: the .xlsx file, base64-encoded); at most one of them."""

    held_on: date
    attendees: list[str] = Field(min_length=1, max_length=50, examples=[["佐藤", "op-a"]])
    notes: str = Field(min_length=1, max_length=20000)
    devices: StrictInt = Field(examples=[12])
    network_size: Literal["none", "small", "large"] = "none"
    gaps: list[StrictInt | str] | None = Field(default=None, examples=[[103, 142]])
    assessment_id: str | None = Field(default=None, max_length=64)
    #: the official sheet is ~100 KB; 10 MB of file is about 13.4 million base64 characters
    checksheet_base64: str | None = Field(default=None, max_length=14_000_000)
    checksheet_filename: str = Field(default="checksheet.xlsx", min_length=1, max_length=200)


class ProposalStep(_Step):
    """Propose the recommended course, or ``course`` with an ``override_reason``."""

    course: str | None = Field(default=None, max_length=100)
    override_reason: str = Field(default="", max_length=1000)


class QuoteStep(_Step):
    """Issue and attach a quote for the proposal (course and devices come from it)."""

    issue_date: date | None = None
    months: StrictInt | None = None
    campaign: StrictBool = False
    subsidy_year: StrictInt | None = None
    small_business: StrictBool = False
    security_action: StrictBool = True
    valid_days: StrictInt | None = None


class ContractStep(_Step):
    signed_on: date
    start_date: date
    devices: StrictInt
    term_months: StrictInt = 12
    grant_decision_date: date | None = None


class ProvisionStep(_Step):
    """Create the tenant and its first administrator (idempotent once done)."""

    tenant_slug: str = Field(default="", max_length=100, examples=["mirai-seiki"])
    tenant_name: str | None = Field(default=None, max_length=200)
    admin_username: str = Field(default="", max_length=100)
    admin_email: str = Field(default="", max_length=254)
    language: Literal["ja", "en"] = Field(
        default="ja", description="Which language leads the invitation e-mail (both are in it)"
    )


class CancelStep(_Step):
    reason: str = Field(min_length=1, max_length=500)


class ProvisionResult(BaseModel):
    """What provisioning created; ``initial_password`` only when just created and no
    invitation e-mail was sent."""

    case: CaseDetail
    tenant_id: int
    tenant_slug: str
    admin_user_id: int
    admin_username: str
    created: bool
    initial_password: str | None = None
    invitation: dict[str, Any] | None = None


__all__ = [
    "CancelStep",
    "CaseDetail",
    "CaseHistoryEntry",
    "CasePublic",
    "ContractStep",
    "MeetingStep",
    "ProposalStep",
    "ProvisionResult",
    "ProvisionStep",
    "QuoteStep",
    "ContractPublic",
    "InsuranceCalculate",
    "QuoteCompute",
    "QuoteCreate",
    "QuoteDetail",
    "QuotePublic",
]
