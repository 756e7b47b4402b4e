"""The simple cyber insurance included with endpoint protection, and its claim calculator.

Terms are data (``data/insurance.yaml``). Interpretation, in integer yen:

* **Limits.** Each licensed device adds 500,000 yen of liability limit and 500,000 yen of
  expenses limit; the expenses limit is *inside* the liability limit (both sections share one
  pool), so the most paid for one event is ``min(devices x 500,000, 5,000,000)`` in total,
  of which expenses at most ``min(devices x 500,000, 5,000,000)``. The 5,000,000 yen cap is
  per business. Every limit applies per event and to the insurance period as a whole:
  payments already made in the period (``period_paid_before``, of which
  ``expenses_paid_before`` for expenses) reduce what remains.
* **Rates.** Each loss item is paid at its category's rate: liability items and most
  expenses at 100%, damage-spread and recurrence prevention at 90%, cyber-attack
  investigation at 80%; ``amount x rate / 100`` rounded down to the yen. No deductible.
* **Order.** When a limit runs out, liability items are paid first (they are owed to third
  parties), then expenses, each in the order given. Every item says what it was paid and
  what cut it (``limited_by``: a limit code, ``"payout_rate"`` when only the rate reduced
  it, or ``None`` when paid in full); the result names the limits that bound the claim.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mamori.errors import ValidationError
from mamori.service._data import DataReader, load_data
from mamori.service.catalog import check_devices
from mamori.service.text import Lang, Text

Section = Literal["liability", "expenses"]
SECTIONS: tuple[Section, ...] = ("liability", "expenses")

LIMIT_PER_DEVICE_LIABILITY = "per_device_liability"
LIMIT_PER_DEVICE_EXPENSES = "per_device_expenses"
LIMIT_PER_BUSINESS_CAP = "per_business_cap"
LIMIT_PERIOD_AGGREGATE = "period_aggregate"
LIMITED_BY_RATE = "payout_rate"


@dataclass(frozen=True, slots=True)
class LossCategory:
    """A kind of loss the insurance pays, in the liability or the expenses section."""

    key: str
    section: Section
    rate_percent: int
    name: Text


@dataclass(frozen=True, slots=True)
class Limit:
    """A limit in yen and what it is (``code`` is stable, ``name`` explains it)."""

    code: str
    amount: int
    name: Text

    def to_dict(self, lang: Lang = "ja") -> dict[str, Any]:
        return {"code": self.code, "amount": self.amount, "name": self.name.get(lang)}


@dataclass(frozen=True, slots=True)
class InsuranceTerms:
    """Limits and loss categories of the included insurance."""

    version: str
    name: Text
    per_device_liability: int
    per_device_expenses: int
    per_business_cap: int
    deductible: int
    categories: Mapping[str, LossCategory]

    def category(self, key: str) -> LossCategory:
        """The category ``key``: its id (``incident-response`` and ``Incident Response`` are
        accepted for ``incident_response``) or its Japanese or English name.

        Raises:
            ValidationError: for an unknown category; the message lists the known ones.
        """
        found = self.find_category(key)
        if found is None:
            known = ", ".join(self.categories)
            raise ValidationError(f"unknown loss category {key!r} (known: {known})")
        return found

    def find_category(self, key: object) -> LossCategory | None:
        """Like :meth:`category` but ``None`` when unknown."""
        if not isinstance(key, str):
            return None
        text = key.strip()
        norm = "_".join(text.lower().replace("-", " ").replace("_", " ").split())
        if norm in self.categories:
            return self.categories[norm]
        for category in self.categories.values():
            if text == category.name.ja or text.lower() == category.name.en.lower():
                return category
        return None

    def limits(self, devices: object) -> tuple[Limit, Limit]:
        """The per-event (and per-period) total and expenses limits for ``devices``.

        Raises:
            ValidationError: when ``devices`` is not a positive whole number.
        """
        count = check_devices(devices)
        cap = self.per_business_cap
        cap_name = Text(
            f"1事業者あたりの上限 {cap:,}円",
            f"cap of {cap:,} yen per business",
        )
        liability = count * self.per_device_liability
        if liability > cap:
            total = Limit(LIMIT_PER_BUSINESS_CAP, cap, cap_name)
        else:
            total = Limit(
                LIMIT_PER_DEVICE_LIABILITY,
                liability,
                Text(
                    f"賠償責任限度額 1台あたり{self.per_device_liability:,}円 × {count}台",
                    f"liability limit of {self.per_device_liability:,} yen per device x {count}",
                ),
            )
        expenses = count * self.per_device_expenses
        if expenses > cap:
            expense_limit = Limit(LIMIT_PER_BUSINESS_CAP, cap, cap_name)
        else:
            expense_limit = Limit(
                LIMIT_PER_DEVICE_EXPENSES,
                expenses,
                Text(
                    f"費用限度額 1台あたり{self.per_device_expenses:,}円 × {count}台"
                    "（賠償責任限度額の内枠）",
                    f"expenses limit of {self.per_device_expenses:,} yen per device x {count}"
                    " (inside the liability limit)",
                ),
            )
        return total, expense_limit


@dataclass(frozen=True, slots=True)
class LossItem:
    """One loss in a claim: a category and the amount lost, in yen."""

    category: str
    amount: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class Claim:
    """The losses of one event and what the period has already paid."""

    items: tuple[LossItem, ...]
    period_paid_before: int = 0
    expenses_paid_before: int = 0
    devices: int | None = None  # when the claim names them; must match the licences


@dataclass(frozen=True, slots=True)
class ItemPayout:
    """What one loss item is paid and what, if anything, reduced it."""

    index: int
    category: LossCategory
    description: str
    claimed: int
    covered: int  # after the payout rate, before limits
    paid: int
    limited_by: str | None

    def to_dict(self, lang: Lang = "ja") -> dict[str, Any]:
        return {
            "index": self.index,
            "category": self.category.key,
            "category_name": self.category.name.get(lang),
            "section": self.category.section,
            "description": self.description,
            "claimed": self.claimed,
            "rate_percent": self.category.rate_percent,
            "covered": self.covered,
            "paid": self.paid,
            "limited_by": self.limited_by,
        }


@dataclass(frozen=True, slots=True)
class ClaimPayout:
    """The result of a claim: per item (in the claim's order) and in total."""

    devices: int
    total_limit: Limit
    expenses_limit: Limit
    remaining_before: int
    expenses_remaining_before: int
    items: tuple[ItemPayout, ...]
    limits_applied: tuple[Limit, ...]

    @property
    def claimed_total(self) -> int:
        return sum(i.claimed for i in self.items)

    @property
    def covered_total(self) -> int:
        return sum(i.covered for i in self.items)

    @property
    def paid_total(self) -> int:
        return sum(i.paid for i in self.items)

    @property
    def liability_paid(self) -> int:
        return sum(i.paid for i in self.items if i.category.section == "liability")

    @property
    def expenses_paid(self) -> int:
        return sum(i.paid for i in self.items if i.category.section == "expenses")

    @property
    def bound_by(self) -> Limit | None:
        """The first limit that cut the claim, or ``None`` when no limit did."""
        return self.limits_applied[0] if self.limits_applied else None

    def to_dict(self, lang: Lang = "ja") -> dict[str, Any]:
        bound = self.bound_by
        return {
            "devices": self.devices,
            "total_limit": self.total_limit.to_dict(lang),
            "expenses_limit": self.expenses_limit.to_dict(lang),
            "remaining_before": self.remaining_before,
            "expenses_remaining_before": self.expenses_remaining_before,
            "items": [i.to_dict(lang) for i in self.items],
            "claimed_total": self.claimed_total,
            "covered_total": self.covered_total,
            "liability_paid": self.liability_paid,
            "expenses_paid": self.expenses_paid,
            "paid_total": self.paid_total,
            "bound_by": bound.code if bound else None,
            "bound_by_name": bound.name.get(lang) if bound else None,
            "limits_applied": [limit.to_dict(lang) for limit in self.limits_applied],
        }


def _whole_yen(value: Any, what: str, problems: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{what} must be a whole number of yen (got {value!r})")
        return 0
    if value < 0:
        problems.append(f"{what} must not be negative (got {value})")
        return 0
    return value


_ITEM_KEYS = {"category", "amount", "description", "note"}
_CLAIM_KEYS = ("period_paid_before", "expenses_paid_before", "devices")
# free text about the event: kept out of the calculation, allowed so a claim can say what happened
_NOTE_KEYS = ("description", "event", "note", "title", "date", "occurred_on")


def parse_claim(data: Any, terms: InsuranceTerms | None = None) -> Claim:
    """Read a claim from JSON data.

    Accepted forms: ``{"items": [{"category": ..., "amount": ..., "description": ...}],
    "period_paid_before": 0, "expenses_paid_before": 0}`` (``losses`` is accepted for
    ``items``), just the list of items, or the short form
    ``{"damages": 300000, "incident_response": 50000}`` (category -> amount). Categories may
    be given by id, hyphenated id, or Japanese/English name. A ``devices`` field, when
    present, must agree with the licensed devices the claim is calculated for; free-text
    fields (``description``, ``event``, ``note``, ``title``, ``date``) are allowed and ignored.

    Raises:
        ValidationError: naming every problem: unknown categories, negative or non-integer
            amounts, unknown keys, no items.
    """
    known = terms or load_insurance_terms()
    problems: list[str] = []
    if isinstance(data, list):
        data = {"items": data}
    if not isinstance(data, Mapping):
        raise ValidationError("a claim must be a JSON object with 'items' or a list of items")
    data = dict(data)
    if "losses" in data and "items" not in data:
        data["items"] = data.pop("losses")
    fixed = {"items", *_CLAIM_KEYS, *_NOTE_KEYS}
    if "items" not in data and any(k not in fixed for k in data):
        # the short form: {"damages": 300000, "incident_response": 50000, ...}
        data = {
            "items": [{"category": k, "amount": v} for k, v in data.items() if k not in fixed],
            **{k: v for k, v in data.items() if k in fixed},
        }
    extra = set(data) - fixed
    if extra:
        problems.append(f"unknown claim field(s): {', '.join(sorted(map(str, extra)))}")
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        problems.append("a claim needs a non-empty list of loss items")
        raw_items = []
    items: list[LossItem] = []
    for n, raw in enumerate(raw_items, start=1):
        what = f"item {n}"
        if not isinstance(raw, Mapping):
            problems.append(f"{what} must be an object with category and amount")
            continue
        unknown = set(raw) - _ITEM_KEYS
        if unknown:
            problems.append(f"{what}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        category = known.find_category(raw.get("category"))
        if category is None:
            problems.append(
                f"{what}: unknown loss category {raw.get('category')!r} "
                f"(known: {', '.join(known.categories)})"
            )
        amount = _whole_yen(raw.get("amount"), f"{what}: amount", problems)
        description = raw.get("description", raw.get("note", ""))
        if not isinstance(description, str):
            problems.append(f"{what}: description must be text")
            description = ""
        items.append(LossItem(category.key if category else "", amount, description))
    paid_before = _whole_yen(data.get("period_paid_before", 0), "period_paid_before", problems)
    exp_before = _whole_yen(data.get("expenses_paid_before", 0), "expenses_paid_before", problems)
    if exp_before > paid_before:
        problems.append("expenses_paid_before cannot exceed period_paid_before")
    devices = data.get("devices")
    if devices is not None and (
        isinstance(devices, bool) or not isinstance(devices, int) or devices < 1
    ):
        problems.append(f"devices must be a whole number of at least 1 (got {devices!r})")
    if problems:
        raise ValidationError("invalid claim: " + "; ".join(problems))
    return Claim(tuple(items), paid_before, exp_before, devices)


def load_claim_file(path: Path, terms: InsuranceTerms | None = None) -> Claim:
    """Read a claim from a JSON file.

    Raises:
        ValidationError: when the file is missing, not JSON, or not a valid claim.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read claim file {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"claim file {path} is not valid JSON: {exc}") from exc
    return parse_claim(data, terms)


@dataclass
class _Pool:
    remaining: int
    limit: Limit


def calculate_claim(
    devices: object, claim: Claim | Sequence[LossItem], terms: InsuranceTerms | None = None
) -> ClaimPayout:
    """Pay a claim under the terms for ``devices`` licensed devices (see module docstring).

    Raises:
        ValidationError: for a bad device count, unknown categories, negative amounts,
            or prior payments larger than the limits allow.
    """
    known = terms or load_insurance_terms()
    if not isinstance(claim, Claim):
        claim = Claim(tuple(claim))
    total_limit, expenses_limit = known.limits(devices)
    count = check_devices(devices)
    if claim.devices is not None and claim.devices != count:
        raise ValidationError(
            f"the claim is for {claim.devices} devices but {count} licensed devices were given"
        )
    for n, item in enumerate(claim.items, start=1):
        known.category(item.category)
        if isinstance(item.amount, bool) or not isinstance(item.amount, int) or item.amount < 0:
            raise ValidationError(f"item {n}: amount must be a non-negative whole number of yen")
    problems: list[str] = []
    _whole_yen(claim.period_paid_before, "period_paid_before", problems)
    _whole_yen(claim.expenses_paid_before, "expenses_paid_before", problems)
    if problems:
        raise ValidationError("; ".join(problems))
    if claim.expenses_paid_before > claim.period_paid_before:
        raise ValidationError("expenses_paid_before cannot exceed period_paid_before")
    period_name = Text(
        "保険期間中の支払限度額の残額（既払分控除後）",
        "what remains of the period's limit after earlier payments",
    )
    total = _Pool(total_limit.amount, total_limit)
    if claim.period_paid_before:
        total = _Pool(
            max(0, total_limit.amount - claim.period_paid_before),
            Limit(LIMIT_PERIOD_AGGREGATE, total_limit.amount, period_name),
        )
    expenses = _Pool(expenses_limit.amount, expenses_limit)
    if claim.expenses_paid_before:
        expenses = _Pool(
            max(0, expenses.remaining - claim.expenses_paid_before),
            Limit(LIMIT_PERIOD_AGGREGATE, expenses_limit.amount, period_name),
        )
    remaining_before = total.remaining
    exp_remaining_before = min(expenses.remaining, total.remaining)

    order = sorted(
        range(len(claim.items)),
        key=lambda i: SECTIONS.index(known.category(claim.items[i].category).section),
    )
    payouts: dict[int, ItemPayout] = {}
    applied: list[Limit] = []
    for i in order:
        item = claim.items[i]
        category = known.category(item.category)
        covered = item.amount * category.rate_percent // 100
        binding = total
        if category.section == "expenses" and expenses.remaining <= total.remaining:
            binding = expenses  # the tighter pool binds; on a tie the (more specific) sublimit
        paid = min(covered, binding.remaining)
        limited_by: str | None = None
        if paid < covered:
            limited_by = binding.limit.code
            if binding.limit not in applied:
                applied.append(binding.limit)
        elif covered < item.amount:
            limited_by = LIMITED_BY_RATE
        total.remaining -= paid
        if category.section == "expenses":
            expenses.remaining -= paid
        payouts[i] = ItemPayout(
            index=i + 1,
            category=category,
            description=item.description,
            claimed=item.amount,
            covered=covered,
            paid=paid,
            limited_by=limited_by,
        )
    return ClaimPayout(
        devices=count,
        total_limit=total_limit,
        expenses_limit=expenses_limit,
        remaining_before=remaining_before,
        expenses_remaining_before=exp_remaining_before,
        items=tuple(payouts[i] for i in range(len(claim.items))),
        limits_applied=tuple(applied),
    )


def parse_insurance_terms(document: Any, where: str = "<insurance terms>") -> InsuranceTerms:
    """Build :class:`InsuranceTerms` from a parsed YAML document.

    Raises:
        ServiceDataError: listing every problem when the document does not validate.
    """
    reader = DataReader(where)
    top = reader.mapping(document, "insurance terms")
    categories: dict[str, LossCategory] = {}
    for key, raw in reader.mapping(top.get("categories"), "categories").items():
        what = f"categories.{key}"
        data = reader.mapping(raw, what)
        section = data.get("section")
        if section not in SECTIONS:
            reader.error(f"{what}.section must be liability or expenses (got {section!r})")
            section = "expenses"
        rate = reader.integer(data, "rate_percent", what, minimum=1)
        if rate > 100:
            reader.error(f"{what}.rate_percent must be at most 100")
        categories[str(key)] = LossCategory(
            key=str(key),
            section="liability" if section == "liability" else "expenses",
            rate_percent=rate,
            name=reader.text(data, "", what),
        )
    if not categories:
        reader.error("categories: at least one loss category is needed")
    deductible = reader.integer(top, "deductible", "insurance terms")
    if deductible:
        reader.error("deductible: only 0 (no deductible) is supported")
    terms = InsuranceTerms(
        version=reader.string(top, "version", "insurance terms"),
        name=reader.text(top, "name_", "insurance terms"),
        per_device_liability=reader.integer(top, "per_device_liability", "terms", minimum=1),
        per_device_expenses=reader.integer(top, "per_device_expenses", "terms", minimum=1),
        per_business_cap=reader.integer(top, "per_business_cap", "terms", minimum=1),
        deductible=deductible,
        categories=categories,
    )
    reader.raise_if_errors()
    return terms


def load_insurance_terms(path: Path | None = None) -> InsuranceTerms:
    """The bundled insurance terms, or the ones at ``path``.

    Raises:
        ServiceDataError: when the file is missing, not YAML, or does not validate.
    """
    return load_data("insurance.yaml", parse_insurance_terms, path)


__all__ = [
    "LIMITED_BY_RATE",
    "LIMIT_PERIOD_AGGREGATE",
    "LIMIT_PER_BUSINESS_CAP",
    "LIMIT_PER_DEVICE_EXPENSES",
    "LIMIT_PER_DEVICE_LIABILITY",
    "SECTIONS",
    "Claim",
    "ClaimPayout",
    "InsuranceTerms",
    "ItemPayout",
    "Limit",
    "LossCategory",
    "LossItem",
    "calculate_claim",
    "load_claim_file",
    "load_insurance_terms",
    "parse_claim",
    "parse_insurance_terms",
]
