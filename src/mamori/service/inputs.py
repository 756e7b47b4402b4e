"""What a quote is computed from, as one value: parsed from forms/JSON, stored, rebuilt.

The field names are those of the CLI options (``course``, ``devices``, ``months``,
``campaign``, ``subsidy_year``, ``small_business``, ``security_action``, ``contract_date``,
``grant_decision_date``). A stored quote keeps :meth:`QuoteInputs.to_dict` and is computed
again from it (:meth:`QuoteInputs.build`) to render its PDF.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from mamori.errors import ValidationError
from mamori.service.catalog import PriceBook
from mamori.service.quote import Quote, build_quote
from mamori.service.subsidy import SubsidyRequest, SubsidyRules

_FIELDS = (
    "course",
    "devices",
    "months",
    "campaign",
    "subsidy_year",
    "small_business",
    "security_action",
    "contract_date",
    "grant_decision_date",
)


def _int(value: object, what: str, *, optional: bool = False) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise ValidationError(f"{what} is required")
    if isinstance(value, bool):
        raise ValidationError(f"{what} must be a whole number (got {value!r})")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValidationError(f"{what} must be a whole number (got {value!r})")


def _bool(value: object, what: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "yes"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "off", "no"):
        return False
    raise ValidationError(f"{what} must be true or false (got {value!r})")


def _date(value: object, what: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationError(f"{what} must be a date YYYY-MM-DD (got {value!r})")


@dataclass(frozen=True, slots=True)
class QuoteInputs:
    """The inputs of one quote computation (validated by :meth:`build`)."""

    course: str
    devices: int
    months: int | None = None
    campaign: bool = False
    subsidy_year: int | None = None
    small_business: bool = False
    security_action: bool = True
    contract_date: date | None = None
    grant_decision_date: date | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> QuoteInputs:
        """Read inputs from form or JSON fields (strings or typed values).

        Raises:
            ValidationError: a missing course or devices, a field that is not a number,
                boolean or date, or an unknown field.
        """
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValidationError(f"unknown quote field(s): {', '.join(unknown)}")
        course = str(data.get("course") or "").strip()
        if not course:
            raise ValidationError("course is required")
        devices = _int(data.get("devices"), "devices")
        assert devices is not None  # noqa: S101 - not optional
        return cls(
            course=course,
            devices=devices,
            months=_int(data.get("months"), "months", optional=True),
            campaign=_bool(data.get("campaign"), "campaign", False),
            subsidy_year=_int(data.get("subsidy_year"), "subsidy_year", optional=True),
            small_business=_bool(data.get("small_business"), "small_business", False),
            security_action=_bool(data.get("security_action"), "security_action", True),
            contract_date=_date(data.get("contract_date"), "contract_date"),
            grant_decision_date=_date(data.get("grant_decision_date"), "grant_decision_date"),
        )

    def subsidy_request(self) -> SubsidyRequest | None:
        if self.subsidy_year is None:
            return None
        return SubsidyRequest(
            fiscal_year=self.subsidy_year,
            small_business=self.small_business,
            security_action=self.security_action,
            contract_date=self.contract_date,
            grant_decision_date=self.grant_decision_date,
        )

    def build(
        self,
        quote_date: date | None = None,
        *,
        price_book: PriceBook | None = None,
        subsidy_rules: SubsidyRules | None = None,
    ) -> Quote:
        """Compute the quote (see :func:`mamori.service.quote.build_quote` for the errors)."""
        return build_quote(
            self.course,
            self.devices,
            self.months,
            campaign=self.campaign,
            subsidy=self.subsidy_request(),
            quote_date=quote_date,
            price_book=price_book,
            subsidy_rules=subsidy_rules,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "course": self.course,
            "devices": self.devices,
            "months": self.months,
            "campaign": self.campaign,
            "subsidy_year": self.subsidy_year,
            "small_business": self.small_business,
            "security_action": self.security_action,
            "contract_date": self.contract_date.isoformat() if self.contract_date else None,
            "grant_decision_date": (
                self.grant_decision_date.isoformat() if self.grant_decision_date else None
            ),
        }


__all__ = ["QuoteInputs"]
