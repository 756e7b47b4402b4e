"""IT導入補助金 セキュリティ対策推進枠 (IT subsidy, security track): rules per fiscal year.

The rules are data (``data/subsidy.yaml``); this module evaluates them. Interpretation, in
integer yen, all on tax-excluded fees:

* **Eligible fees** are the service fees for at most ``max_months`` (2 years) **plus the
  initial fee**: ``initial_fees + monthly_fees * min(months, max_months)``. A quote longer than
  2 years is subsidised on its first 24 months only.
* **Amount** = eligible fees x ratio, rounded down to the yen. The ratio is 1/2; in 2025 it is
  2/3 for small businesses (小規模事業者, pass ``small_business=True``). In 2024 the flag
  changes nothing (there is no small-business rate that year).
* Below ``min`` (50,000 yen) no application is possible: not eligible, amount 0, with the
  reason. Exactly 50,000 is eligible. Above ``max`` the amount is clamped to ``max``
  (1,000,000 yen in 2024, 1,500,000 yen in 2025).
* Not eligible either when the campaign price is used, when the contract was signed before
  the grant decision (a contract on the decision day itself is fine; a contract date with no
  decision yet counts as "before"), or, in 2025, without the SECURITY ACTION declaration.
  Every reason that applies is listed, not only the first.
* Consumption tax is charged on the fees before subsidy; the subsidy is subtracted from the
  tax-included total to give what the customer pays (see :mod:`mamori.service.quote`).

A fiscal year without rules raises :class:`~mamori.service.errors.NoSubsidyRulesError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from mamori.errors import ValidationError
from mamori.service._data import DataReader, load_data
from mamori.service.errors import NoSubsidyRulesError
from mamori.service.text import Text


@dataclass(frozen=True, slots=True)
class SubsidyRule:
    """The IT-subsidy rule of one fiscal year."""

    fiscal_year: int
    ratio: tuple[int, int]
    small_business_ratio: tuple[int, int] | None
    minimum: int
    maximum: int
    max_months: int
    includes_initial_fee: bool
    security_action_required: bool
    campaign_price_eligible: bool
    contract_before_decision_eligible: bool

    def ratio_for(self, small_business: bool) -> tuple[int, int]:
        """The subsidy rate: the small-business rate when there is one and it applies."""
        if small_business and self.small_business_ratio is not None:
            return self.small_business_ratio
        return self.ratio


@dataclass(frozen=True, slots=True)
class SubsidyRules:
    """All known fiscal years of the programme."""

    version: str
    programme: Text
    years: Mapping[int, SubsidyRule]

    def for_year(self, fiscal_year: object) -> SubsidyRule:
        """The rule of ``fiscal_year``.

        Raises:
            NoSubsidyRulesError: when the year has no rules (the message lists known years).
            ValidationError: when ``fiscal_year`` is not an integer.
        """
        if isinstance(fiscal_year, bool) or not isinstance(fiscal_year, int):
            raise ValidationError(f"subsidy year must be a year like 2025 (got {fiscal_year!r})")
        try:
            return self.years[fiscal_year]
        except KeyError:
            known = ", ".join(str(y) for y in sorted(self.years))
            raise NoSubsidyRulesError(
                f"no IT subsidy rules for fiscal year {fiscal_year} (known: {known})"
            ) from None


@dataclass(frozen=True, slots=True)
class SubsidyRequest:
    """What the customer applies with: the fiscal year and the facts the rules ask about.

    ``security_action`` defaults to ``True``: a quote is an estimate and assumes the customer
    makes the (free) SECURITY ACTION self-declaration; the assumption is listed in the
    assessment's ``conditions`` and printed on the quote. Pass ``False`` when the customer
    will not declare, and the 2025 rules refuse the subsidy with that reason.
    ``small_business`` defaults to ``False`` (the lower rate) so an estimate never
    promises more than the customer can get.
    """

    fiscal_year: int
    small_business: bool = False
    security_action: bool = True
    contract_date: date | None = None
    grant_decision_date: date | None = None


@dataclass(frozen=True, slots=True)
class SubsidyReason:
    """Why a quote gets no subsidy: a stable code and the explanation."""

    code: str
    text: Text


REASON_NOT_REQUESTED = "not_requested"
REASON_CAMPAIGN = "campaign_price"
REASON_CONTRACT_BEFORE_DECISION = "contract_before_grant_decision"
REASON_NO_SECURITY_ACTION = "security_action_missing"
REASON_BELOW_MINIMUM = "below_minimum"


@dataclass(frozen=True, slots=True)
class SubsidyAssessment:
    """The subsidy of one quote.

    ``computed`` is eligible fees x ratio rounded down, before the minimum check and the cap;
    ``amount`` is what is granted (0 when not eligible). ``reasons`` is empty when eligible.
    """

    fiscal_year: int | None
    eligible_fees: int
    eligible_months: int
    ratio: tuple[int, int] | None
    computed: int
    minimum: int
    maximum: int
    capped: bool
    amount: int
    reasons: tuple[SubsidyReason, ...]
    conditions: tuple[Text, ...] = ()

    @property
    def eligible(self) -> bool:
        return not self.reasons

    @property
    def reason(self) -> Text | None:
        """All reasons joined, or ``None`` when eligible."""
        if not self.reasons:
            return None
        return Text(
            ja="".join(f"{r.text.ja}。" for r in self.reasons),
            en="; ".join(r.text.en for r in self.reasons),
        )

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    @classmethod
    def not_requested(cls) -> SubsidyAssessment:
        """The assessment of a quote computed without any subsidy year."""
        return cls(
            fiscal_year=None,
            eligible_fees=0,
            eligible_months=0,
            ratio=None,
            computed=0,
            minimum=0,
            maximum=0,
            capped=False,
            amount=0,
            reasons=(
                SubsidyReason(
                    REASON_NOT_REQUESTED,
                    Text("補助金の年度が指定されていません", "no subsidy year was given"),
                ),
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        reason = self.reason
        return {
            "fiscal_year": self.fiscal_year,
            "eligible": self.eligible,
            "eligible_fees": self.eligible_fees,
            "eligible_months": self.eligible_months,
            "ratio": f"{self.ratio[0]}/{self.ratio[1]}" if self.ratio else None,
            "computed": self.computed,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "capped": self.capped,
            "amount": self.amount,
            "reason_codes": list(self.reason_codes),
            "reason": reason.to_dict() if reason else None,
            "conditions": [c.to_dict() for c in self.conditions],
        }


def eligible_fees(rule: SubsidyRule, *, initial_fees: int, monthly_fees: int, months: int) -> int:
    """Tax-excluded fees the subsidy is computed on (see the module docstring)."""
    counted = min(months, rule.max_months)
    return (initial_fees if rule.includes_initial_fee else 0) + monthly_fees * counted


def subsidy_for_fees(rule: SubsidyRule, fees: int, *, small_business: bool = False) -> int:
    """Eligible fees x ratio, rounded down to the yen (no minimum, no cap)."""
    if isinstance(fees, bool) or not isinstance(fees, int) or fees < 0:
        raise ValidationError(f"eligible fees must be a non-negative whole number (got {fees!r})")
    num, den = rule.ratio_for(small_business)
    return fees * num // den


def assess_subsidy(
    rule: SubsidyRule,
    request: SubsidyRequest,
    *,
    initial_fees: int,
    monthly_fees: int,
    months: int,
    campaign: bool,
) -> SubsidyAssessment:
    """Evaluate ``rule`` for fees of this shape and the applicant's facts.

    Args:
        rule: the fiscal year's rule (``SubsidyRules.for_year``).
        request: the applicant's facts.
        initial_fees: one-off fees (the initial fee), tax-excluded.
        monthly_fees: recurring fees per month, tax-excluded.
        months: the months the quote covers.
        campaign: whether the quote uses the campaign price.
    """
    fees = eligible_fees(rule, initial_fees=initial_fees, monthly_fees=monthly_fees, months=months)
    ratio = rule.ratio_for(request.small_business)
    computed = subsidy_for_fees(rule, fees, small_business=request.small_business)
    reasons: list[SubsidyReason] = []
    if campaign and not rule.campaign_price_eligible:
        reasons.append(
            SubsidyReason(
                REASON_CAMPAIGN,
                Text(
                    "キャンペーン価格の見積はIT導入補助金の対象外です",
                    "a quote at the campaign price is not eligible for the IT subsidy",
                ),
            )
        )
    if (
        not rule.contract_before_decision_eligible
        and request.contract_date is not None
        and (
            request.grant_decision_date is None
            or request.contract_date < request.grant_decision_date
        )
    ):
        reasons.append(
            SubsidyReason(
                REASON_CONTRACT_BEFORE_DECISION,
                Text(
                    "交付決定前に契約しているため補助対象外です",
                    "the contract was signed before the grant decision",
                ),
            )
        )
    if rule.security_action_required and not request.security_action:
        reasons.append(
            SubsidyReason(
                REASON_NO_SECURITY_ACTION,
                Text(
                    f"{rule.fiscal_year}年度はSECURITY ACTIONの自己宣言が必要です",
                    f"fiscal year {rule.fiscal_year} requires the SECURITY ACTION declaration",
                ),
            )
        )
    if computed < rule.minimum:
        reasons.append(
            SubsidyReason(
                REASON_BELOW_MINIMUM,
                Text(
                    f"補助額 {computed:,}円 が下限 {rule.minimum:,}円 未満のため申請できません",
                    f"the subsidy of {computed:,} yen is below the minimum of "
                    f"{rule.minimum:,} yen, so no application is possible",
                ),
            )
        )
    conditions: list[Text] = []
    if not rule.contract_before_decision_eligible:
        conditions.append(
            Text(
                "契約は交付決定日以降に締結してください",
                "sign the contract on or after the grant decision",
            )
        )
    if rule.security_action_required:
        conditions.append(
            Text(
                "SECURITY ACTIONの自己宣言が前提です",
                "assumes the SECURITY ACTION self-declaration",
            )
        )
    capped = computed > rule.maximum
    amount = 0 if reasons else min(computed, rule.maximum)
    return SubsidyAssessment(
        fiscal_year=rule.fiscal_year,
        eligible_fees=fees,
        eligible_months=min(months, rule.max_months),
        ratio=ratio,
        computed=computed,
        minimum=rule.minimum,
        maximum=rule.maximum,
        capped=capped and not reasons,
        amount=amount,
        reasons=tuple(reasons),
        conditions=tuple(conditions),
    )


def parse_subsidy_rules(document: Any, where: str = "<subsidy rules>") -> SubsidyRules:
    """Build :class:`SubsidyRules` from a parsed YAML document.

    Raises:
        ServiceDataError: listing every problem when the document does not validate.
    """
    reader = DataReader(where)
    top = reader.mapping(document, "subsidy rules")
    years: dict[int, SubsidyRule] = {}
    for key, raw in reader.mapping(top.get("years"), "years").items():
        what = f"years.{key}"
        if isinstance(key, bool) or not isinstance(key, int):
            reader.error(f"{what}: the fiscal year must be an integer")
            continue
        data = reader.mapping(raw, what)
        minimum = reader.integer(data, "min", what)
        maximum = reader.integer(data, "max", what, minimum=1)
        if 0 < maximum < minimum:  # only when both were read (0 marks an error)
            reader.error(f"{what}: max is below min")
        years[key] = SubsidyRule(
            fiscal_year=key,
            ratio=reader.ratio(data, "ratio", what) or (1, 1),
            small_business_ratio=reader.ratio(data, "small_business_ratio", what),
            minimum=minimum,
            maximum=maximum,
            max_months=reader.integer(data, "max_months", what, minimum=1),
            includes_initial_fee=reader.boolean(data, "includes_initial_fee", what),
            security_action_required=reader.boolean(data, "security_action_required", what),
            campaign_price_eligible=reader.boolean(data, "campaign_price_eligible", what),
            contract_before_decision_eligible=reader.boolean(
                data, "contract_before_decision_eligible", what
            ),
        )
        if data.get("ratio") is None:
            reader.error(f"{what}.ratio is required")
    if not years:
        reader.error("years: at least one fiscal year is needed")
    rules = SubsidyRules(
        version=reader.string(top, "version", "subsidy rules"),
        programme=reader.text(top, "programme_", "subsidy rules"),
        years=years,
    )
    reader.raise_if_errors()
    return rules


def load_subsidy_rules(path: Path | None = None) -> SubsidyRules:
    """The bundled subsidy rules, or the ones at ``path``.

    Raises:
        ServiceDataError: when the file is missing, not YAML, or does not validate.
    """
    return load_data("subsidy.yaml", parse_subsidy_rules, path)


__all__ = [
    "REASON_BELOW_MINIMUM",
    "REASON_CAMPAIGN",
    "REASON_CONTRACT_BEFORE_DECISION",
    "REASON_NOT_REQUESTED",
    "REASON_NO_SECURITY_ACTION",
    "SubsidyAssessment",
    "SubsidyReason",
    "SubsidyRequest",
    "SubsidyRule",
    "SubsidyRules",
    "assess_subsidy",
    "eligible_fees",
    "load_subsidy_rules",
    "parse_subsidy_rules",
    "subsidy_for_fees",
]
