"""Invariants of the yen arithmetic over many inputs (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.service.catalog import load_price_book
from mamori.service.insurance import Claim, LossItem, calculate_claim, load_insurance_terms
from mamori.service.quote import build_quote
from mamori.service.subsidy import SubsidyRequest

BOOK = load_price_book()
TERMS = load_insurance_terms()


@st.composite
def quotes(draw):
    course = draw(st.sampled_from(list(BOOK.courses.values())))
    devices = draw(st.integers(course.min_devices, course.max_devices))
    months = draw(st.integers(1, 60))
    campaign = draw(st.booleans())
    year = draw(st.sampled_from([None, 2024, 2025]))
    request = None
    if year is not None:
        request = SubsidyRequest(
            year, small_business=draw(st.booleans()), security_action=draw(st.booleans())
        )
    return course, devices, months, campaign, request


@settings(max_examples=300, deadline=None)
@given(quotes())
def test_quote_invariants(args):
    course, devices, months, campaign, request = args
    quote = build_quote(course.id, devices, months, campaign=campaign, subsidy=request)
    unit = 1_080 if campaign else course.per_device_monthly
    expected = course.initial_fee + months * (course.network_monthly + devices * unit)
    assert quote.fees_total == sum(i.amount for i in quote.line_items) == expected
    assert quote.tax == expected * 10 // 100
    assert quote.tax_included_total == expected + quote.tax
    subsidy = quote.subsidy
    assert quote.customer_pays_tax_included == quote.tax_included_total - subsidy.amount
    assert 0 <= subsidy.amount <= quote.fees_total
    if request is None or campaign:
        assert subsidy.amount == 0 and subsidy.reasons
    else:
        base = course.initial_fee + min(months, 24) * (course.network_monthly + devices * unit)
        assert subsidy.eligible_fees == base
        num, den = (2, 3) if request.fiscal_year == 2025 and request.small_business else (1, 2)
        assert subsidy.computed == base * num // den
        cap = 1_000_000 if request.fiscal_year == 2024 else 1_500_000
        blocked = (request.fiscal_year == 2025 and not request.security_action) or (
            subsidy.computed < 50_000
        )
        assert subsidy.amount == (0 if blocked else min(subsidy.computed, cap))
        assert bool(subsidy.reasons) is blocked


@settings(max_examples=300, deadline=None)
@given(
    devices=st.integers(1, 30),
    items=st.lists(
        st.tuples(st.sampled_from(sorted(TERMS.categories)), st.integers(0, 3_000_000)),
        min_size=1,
        max_size=8,
    ),
    paid_before=st.integers(0, 6_000_000),
)
def test_claim_invariants(devices, items, paid_before):
    claim = Claim(tuple(LossItem(c, a) for c, a in items), period_paid_before=paid_before)
    result = calculate_claim(devices, claim)
    limit = min(devices * 500_000, 5_000_000)
    assert result.total_limit.amount == limit
    for item in result.items:
        assert 0 <= item.paid <= item.covered <= item.claimed
        assert item.covered == item.claimed * item.category.rate_percent // 100
        assert (item.limited_by is None) is (item.paid == item.claimed)
    assert result.paid_total <= max(0, limit - paid_before)
    assert result.expenses_paid <= limit
    # a limit bound the claim exactly when something covered was not paid
    assert (result.bound_by is None) is (result.paid_total == result.covered_total)
    if result.bound_by is not None:
        assert result.paid_total == max(0, limit - paid_before) or result.expenses_paid == limit
