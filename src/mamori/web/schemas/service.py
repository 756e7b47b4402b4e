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


__all__ = [
    "CasePublic",
    "ContractPublic",
    "InsuranceCalculate",
    "QuoteCompute",
    "QuoteCreate",
    "QuoteDetail",
    "QuotePublic",
]
