"""Quotes: line items, totals, consumption tax and the IT subsidy, in integer yen.

Arithmetic (all prices tax-excluded, from the price book):

* line items: the initial fee once (when the course has one); the UTM licence and
  maintenance ``network_monthly x months``; the device licences
  ``devices x per-device price x months`` (the campaign price instead of the regular one when
  the campaign is switched on);
* ``fees_total`` = sum of the line items (tax-excluded);
* ``tax`` = ``fees_total x 10 / 100`` rounded down to the yen (the rate comes from the price
  book); ``tax_included_total`` = ``fees_total + tax``;
* ``subsidy`` from :mod:`mamori.service.subsidy` (0 with a reason when not eligible or not
  asked for); tax is charged on the amount before the subsidy, so
  ``customer_pays_tax_included`` = ``tax_included_total - subsidy``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from mamori.errors import ValidationError
from mamori.service.catalog import Course, PriceBook, check_months, load_price_book
from mamori.service.subsidy import (
    SubsidyAssessment,
    SubsidyRequest,
    SubsidyRules,
    assess_subsidy,
    load_subsidy_rules,
)
from mamori.service.text import Lang, Text

LINE_INITIAL = "initial_fee"
LINE_NETWORK = "network_monthly"
LINE_DEVICES = "device_monthly"


def consumption_tax(amount: int, percent: int = 10) -> int:
    """Consumption tax on a tax-excluded amount, rounded down to the yen.

    Raises:
        ValidationError: when ``amount`` is negative or not an integer.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValidationError(f"amount must be a non-negative whole number of yen: {amount!r}")
    return amount * percent // 100


@dataclass(frozen=True, slots=True)
class LineItem:
    """One line of a quote: ``amount = unit_price x quantity x (months or 1)``."""

    code: str
    name: Text
    unit_price: int
    quantity: int
    months: int | None
    amount: int

    @property
    def recurring(self) -> bool:
        return self.months is not None

    def to_dict(self, lang: Lang = "ja") -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name.get(lang),
            "unit_price": self.unit_price,
            "quantity": self.quantity,
            "months": self.months,
            "amount": self.amount,
        }


@dataclass(frozen=True, slots=True)
class Quote:
    """A computed quote: what the customer is offered, before and after the subsidy."""

    course: Course
    devices: int
    months: int
    campaign: bool
    price_book_version: str
    tax_percent: int
    line_items: tuple[LineItem, ...]
    fees_total: int
    tax: int
    tax_included_total: int
    subsidy: SubsidyAssessment = field(default_factory=SubsidyAssessment.not_requested)
    quote_date: date | None = None

    @property
    def initial_fees(self) -> int:
        return sum(i.amount for i in self.line_items if not i.recurring)

    @property
    def monthly_fees(self) -> int:
        """Recurring fees for one month, tax-excluded."""
        return sum(i.unit_price * i.quantity for i in self.line_items if i.recurring)

    @property
    def subsidy_amount(self) -> int:
        return self.subsidy.amount

    @property
    def customer_pays_tax_included(self) -> int:
        return self.tax_included_total - self.subsidy.amount

    def to_dict(self, lang: Lang = "ja") -> dict[str, Any]:
        """The JSON form; the field names of the totals are a public contract."""
        out: dict[str, Any] = {
            "course": self.course.id,
            "course_name": self.course.name.get(lang),
            "devices": self.devices,
            "months": self.months,
            "campaign": self.campaign,
            "price_book_version": self.price_book_version,
            "quote_date": self.quote_date.isoformat() if self.quote_date else None,
            "line_items": [item.to_dict(lang) for item in self.line_items],
            "fees_total": self.fees_total,
            "tax_percent": self.tax_percent,
            "tax": self.tax,
            "tax_included_total": self.tax_included_total,
            "subsidy_year": self.subsidy.fiscal_year,
            "subsidy": self.subsidy.amount,
            "customer_pays_tax_included": self.customer_pays_tax_included,
            "subsidy_detail": self.subsidy.to_dict(),
        }
        reason = self.subsidy.reason
        if self.subsidy.amount == 0 and reason is not None:
            out["subsidy_reason"] = reason.both()
            out["subsidy_reason_codes"] = list(self.subsidy.reason_codes)
        return out


def line_items_for(
    course: Course, devices: int, months: int, *, unit_price: int, campaign_name: Text | None
) -> tuple[LineItem, ...]:
    """The line items of ``course`` for ``devices`` over ``months`` (already validated)."""
    items: list[LineItem] = []
    if course.initial_fee:
        items.append(
            LineItem(
                LINE_INITIAL,
                course.initial_fee_label,
                course.initial_fee,
                1,
                None,
                course.initial_fee,
            )
        )
    if course.network_monthly:
        label = course.network_monthly_label or Text(
            "ネットワーク監視（月額）", "Network (monthly)"
        )
        items.append(
            LineItem(
                LINE_NETWORK,
                label,
                course.network_monthly,
                1,
                months,
                course.network_monthly * months,
            )
        )
    name = Text("端末監視ライセンス（1台・月額）", "Endpoint licence (per device, monthly)")
    if campaign_name is not None:
        name = Text(f"{name.ja}・{campaign_name.ja}", f"{name.en}, {campaign_name.en}")
    items.append(
        LineItem(LINE_DEVICES, name, unit_price, devices, months, unit_price * devices * months)
    )
    return tuple(items)


def build_quote(
    course: str,
    devices: object,
    months: object = None,
    *,
    campaign: bool = False,
    subsidy: SubsidyRequest | None = None,
    quote_date: date | None = None,
    price_book: PriceBook | None = None,
    subsidy_rules: SubsidyRules | None = None,
) -> Quote:
    """Compute a quote for ``devices`` on ``course`` over ``months`` (default: price book's, 24).

    Args:
        course: course name (``endpoint``, ``small-network``, ``network``).
        devices: number of licensed devices, within the course's range.
        months: months quoted; any positive whole number (contracts run 12 months; 24 is
            the default because the subsidy counts up to 2 years of fees).
        campaign: use the campaign price per device (never subsidised).
        subsidy: the applicant's subsidy facts, or ``None`` for no subsidy.
        quote_date: the quote's date; needed when the campaign has a period.
        price_book: prices to use (default: the bundled price book).
        subsidy_rules: subsidy rules to use (default: the bundled rules).

    Raises:
        UnknownCourseError: for an unknown course.
        ValidationError: for a device count that is not a positive whole number or is
            outside the course's range, months that are not a positive whole number, a
            campaign outside its period.
        NoSubsidyRulesError: for a subsidy year without rules.
    """
    book = price_book or load_price_book()
    chosen = book.course(course)
    count = chosen.check_devices(devices)
    span = book.default_quote_months if months is None else check_months(months)
    rule = None
    if subsidy is not None:
        rule = (subsidy_rules or load_subsidy_rules()).for_year(subsidy.fiscal_year)
    unit_price = chosen.per_device_monthly
    campaign_name: Text | None = None
    if campaign:
        offer = book.campaign
        if offer.active_from is not None or offer.active_until is not None:
            if quote_date is None:
                raise ValidationError("the campaign has a period: the quote date is needed")
            if not offer.is_active(quote_date):
                raise ValidationError(
                    f"the campaign price is not available on {quote_date.isoformat()} "
                    f"(period {offer.active_from or '...'} to {offer.active_until or '...'})"
                )
        unit_price = offer.unit_price(chosen)
        campaign_name = Text(
            f"{offer.name.ja}（{offer.discount_percent}%引）",
            f"{offer.name.en} ({offer.discount_percent}% off)",
        )
    items = line_items_for(chosen, count, span, unit_price=unit_price, campaign_name=campaign_name)
    fees_total = sum(item.amount for item in items)
    tax = consumption_tax(fees_total, book.tax_percent)
    assessment = SubsidyAssessment.not_requested()
    if rule is not None and subsidy is not None:
        assessment = assess_subsidy(
            rule,
            subsidy,
            initial_fees=sum(i.amount for i in items if not i.recurring),
            monthly_fees=sum(i.unit_price * i.quantity for i in items if i.recurring),
            months=span,
            campaign=campaign,
        )
    return Quote(
        course=chosen,
        devices=count,
        months=span,
        campaign=campaign,
        price_book_version=book.version,
        tax_percent=book.tax_percent,
        line_items=items,
        fees_total=fees_total,
        tax=tax,
        tax_included_total=fees_total + tax,
        subsidy=assessment,
        quote_date=quote_date,
    )


QUOTE_NUMBER = re.compile(r"^Q-(\d{4})-(\d{5})$")


def format_quote_number(year: int, sequence: int) -> str:
    """The quote number ``Q-<year>-<5-digit sequence>`` (the sequence comes from storage).

    Raises:
        ValidationError: when the year or sequence is out of range.
    """
    if not 2000 <= year <= 9999:
        raise ValidationError(f"quote year out of range: {year}")
    if not 1 <= sequence <= 99999:
        raise ValidationError(f"quote sequence must be 1-99999: {sequence}")
    return f"Q-{year:04d}-{sequence:05d}"


@dataclass(frozen=True, slots=True)
class QuoteDocument:
    """A quote as issued to a customer: numbered, dated, valid until a date."""

    number: str
    issue_date: date
    valid_until: date
    customer: str
    quote: Quote
    issuer: str = "mamori"
    notes: tuple[Text, ...] = ()

    def to_dict(self, lang: Lang = "ja") -> dict[str, Any]:
        out = {
            "number": self.number,
            "issue_date": self.issue_date.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "customer": self.customer,
            "issuer": self.issuer,
        }
        out.update(self.quote.to_dict(lang))
        return out


def issue_quote(
    quote: Quote,
    *,
    number: str,
    issue_date: date,
    customer: str,
    valid_days: int | None = None,
    issuer: str = "mamori",
    price_book: PriceBook | None = None,
) -> QuoteDocument:
    """Turn a computed quote into a document with number, dates and the standard notes.

    Raises:
        ValidationError: for a malformed number, an empty customer name, or a validity
            that is not a positive number of days.
    """
    if not QUOTE_NUMBER.match(number):
        raise ValidationError(f"quote number must look like Q-2026-00001 (got {number!r})")
    if not customer.strip():
        raise ValidationError("the customer name is empty")
    book = price_book or load_price_book()
    days = book.quote_valid_days if valid_days is None else valid_days
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValidationError(f"validity must be a positive number of days (got {days!r})")
    notes = [
        Text(
            f"契約期間は{book.contract_term_months}か月（1年）単位、1台につき1ライセンスです。",
            f"Contracts run {book.contract_term_months} months (1 year); one licence per device.",
        ),
        Text("現地での導入作業は別途お見積りいたします。", "On-site setup is quoted separately."),
        Text(
            "金額は税抜価格に消費税（10%、円未満切り捨て）を加算しています。",
            "Consumption tax (10%, rounded down to the yen) is added to tax-excluded prices.",
        ),
    ]
    if quote.subsidy.fiscal_year is not None:
        notes.append(
            Text(
                "IT導入補助金の額は見込みであり、交付決定により確定します。",
                "The IT subsidy is an estimate; it is fixed by the grant decision.",
            )
        )
        if quote.subsidy.eligible:
            notes.extend(Text(f"{c.ja}。", f"{c.en}.") for c in quote.subsidy.conditions)
    return QuoteDocument(
        number=number,
        issue_date=issue_date,
        valid_until=issue_date + timedelta(days=days),
        customer=customer.strip(),
        quote=quote,
        issuer=issuer,
        notes=tuple(notes),
    )


__all__ = [
    "LINE_DEVICES",
    "LINE_INITIAL",
    "LINE_NETWORK",
    "QUOTE_NUMBER",
    "LineItem",
    "Quote",
    "QuoteDocument",
    "build_quote",
    "consumption_tax",
    "format_quote_number",
    "issue_quote",
    "line_items_for",
]
