"""Quotes to the yen: line items, totals, tax, campaign, subsidy, bad input."""

from __future__ import annotations

from datetime import date

import pytest

from mamori.errors import ValidationError
from mamori.service._data import load_yaml
from mamori.service.catalog import parse_price_book
from mamori.service.errors import NoSubsidyRulesError, UnknownCourseError
from mamori.service.quote import (
    LINE_DEVICES,
    LINE_INITIAL,
    LINE_NETWORK,
    build_quote,
    consumption_tax,
    format_quote_number,
    issue_quote,
)
from mamori.service.subsidy import SubsidyRequest

# course, devices, months, campaign -> (line item amounts, fees_total, tax, tax_included_total)
CASES = [
    ("endpoint", 1, 12, False, [21_600], 21_600, 2_160, 23_760),
    ("endpoint", 10, 24, False, [432_000], 432_000, 43_200, 475_200),
    ("endpoint", 300, 12, False, [6_480_000], 6_480_000, 648_000, 7_128_000),
    ("endpoint", 10, 24, True, [259_200], 259_200, 25_920, 285_120),
    ("small-network", 1, 12, False, [110_000, 93_600, 21_600], 225_200, 22_520, 247_720),
    ("small-network", 5, 12, False, [110_000, 93_600, 108_000], 311_600, 31_160, 342_760),
    ("small-network", 10, 24, False, [110_000, 187_200, 432_000], 729_200, 72_920, 802_120),
    ("small-network", 15, 24, False, [110_000, 187_200, 648_000], 945_200, 94_520, 1_039_720),
    ("small-network", 15, 12, True, [110_000, 93_600, 194_400], 398_000, 39_800, 437_800),
    ("network", 1, 1, False, [140_000, 9_800, 1_800], 151_600, 15_160, 166_760),
    ("network", 20, 12, False, [140_000, 117_600, 432_000], 689_600, 68_960, 758_560),
    ("network", 38, 24, False, [140_000, 235_200, 1_641_600], 2_016_800, 201_680, 2_218_480),
    ("network", 100, 36, False, [140_000, 352_800, 6_480_000], 6_972_800, 697_280, 7_670_080),
    ("network", 20, 12, True, [140_000, 117_600, 259_200], 516_800, 51_680, 568_480),
]


@pytest.mark.parametrize(
    ("course", "devices", "months", "campaign", "amounts", "fees", "tax", "total"), CASES
)
def test_quote_to_the_yen(course, devices, months, campaign, amounts, fees, tax, total):
    quote = build_quote(course, devices, months, campaign=campaign)
    assert [item.amount for item in quote.line_items] == amounts
    assert quote.fees_total == fees
    assert quote.tax == tax
    assert quote.tax_included_total == total
    # without a subsidy year there is no subsidy and the customer pays the total
    assert quote.subsidy.amount == 0
    assert quote.customer_pays_tax_included == total
    assert quote.subsidy.reason_codes == ("not_requested",)


def test_line_items_carry_unit_price_quantity_and_months():
    quote = build_quote("small-network", 7, 18)
    initial, utm, devices = quote.line_items
    assert (initial.code, initial.unit_price, initial.quantity, initial.months) == (
        LINE_INITIAL,
        110_000,
        1,
        None,
    )
    assert (utm.code, utm.unit_price, utm.quantity, utm.months) == (LINE_NETWORK, 7_800, 1, 18)
    assert (devices.code, devices.unit_price, devices.quantity, devices.months) == (
        LINE_DEVICES,
        1_800,
        7,
        18,
    )
    assert initial.name.ja == "初期費用（UTM機器・小型モデル）"
    assert quote.initial_fees == 110_000
    assert quote.monthly_fees == 7_800 + 7 * 1_800


def test_endpoint_course_has_no_initial_or_network_line():
    quote = build_quote("endpoint", 4, 12)
    assert [item.code for item in quote.line_items] == [LINE_DEVICES]


def test_campaign_price_is_forty_percent_off():
    regular = build_quote("network", 10, 12)
    campaign = build_quote("network", 10, 12, campaign=True)
    assert regular.line_items[-1].unit_price == 1_800
    assert campaign.line_items[-1].unit_price == 1_080
    assert "キャンペーン" in campaign.line_items[-1].name.ja
    # the campaign changes only the device licences
    assert regular.fees_total - campaign.fees_total == 10 * 12 * 720


def test_default_months_is_24(book):
    assert book.default_quote_months == 24
    assert build_quote("endpoint", 1).months == 24
    assert build_quote("endpoint", 1).fees_total == 43_200


@pytest.mark.parametrize(
    ("amount", "tax"), [(0, 0), (9, 0), (10, 1), (19, 1), (12_345, 1_234), (999_999, 99_999)]
)
def test_consumption_tax_rounds_down(amount, tax):
    assert consumption_tax(amount) == tax
    assert consumption_tax(amount, 8) == amount * 8 // 100


@pytest.mark.parametrize("bad", [-1, 1.5, "100", True])
def test_consumption_tax_rejects_bad_amounts(bad):
    with pytest.raises(ValidationError):
        consumption_tax(bad)


# --- subsidy on quotes -------------------------------------------------------------------

SUBSIDY_CASES = [
    # course, devices, months, request, subsidy, customer pays (tax included)
    ("endpoint", 10, 24, SubsidyRequest(2024), 216_000, 259_200),
    ("endpoint", 3, 24, SubsidyRequest(2024), 64_800, 77_760),
    ("endpoint", 5, 12, SubsidyRequest(2024), 54_000, 64_800),
    ("small-network", 5, 12, SubsidyRequest(2024), 155_800, 186_960),
    ("small-network", 10, 24, SubsidyRequest(2025, security_action=True), 364_600, 437_520),
    (
        "small-network",
        10,
        24,
        SubsidyRequest(2025, small_business=True, security_action=True),
        486_133,
        315_987,
    ),
    # 2024 has no small-business rate: the flag changes nothing
    ("small-network", 10, 24, SubsidyRequest(2024, small_business=True), 364_600, 437_520),
    # cap 1,000,000 in 2024 (1/2 of 2,016,800 = 1,008,400)
    ("network", 38, 24, SubsidyRequest(2024), 1_000_000, 1_218_480),
    # the same quote is under the 2025 cap of 1,500,000
    ("network", 38, 24, SubsidyRequest(2025, security_action=True), 1_008_400, 1_210_080),
    # 2/3 of 24 months (4,695,200) = 3,130,133 -> cap 1,500,000
    (
        "network",
        100,
        36,
        SubsidyRequest(2025, small_business=True, security_action=True),
        1_500_000,
        6_170_080,
    ),
]


@pytest.mark.parametrize(
    ("course", "devices", "months", "request_", "subsidy", "pays"), SUBSIDY_CASES
)
def test_quote_with_subsidy_to_the_yen(course, devices, months, request_, subsidy, pays):
    quote = build_quote(course, devices, months, subsidy=request_)
    assert quote.subsidy.amount == subsidy
    assert quote.customer_pays_tax_included == pays
    # tax is charged on the amount before the subsidy
    assert quote.customer_pays_tax_included == quote.tax_included_total - subsidy
    assert quote.tax == quote.fees_total // 10
    assert quote.subsidy.eligible


def test_subsidy_counts_at_most_24_months_plus_initial_fee():
    quote = build_quote("small-network", 10, 36, subsidy=SubsidyRequest(2024))
    assert quote.fees_total == 110_000 + 36 * (7_800 + 18_000)
    assert quote.subsidy.eligible_months == 24
    assert quote.subsidy.eligible_fees == 110_000 + 24 * (7_800 + 18_000) == 729_200
    assert quote.subsidy.amount == 364_600
    assert quote.fees_total == 1_038_800
    assert quote.tax_included_total == 1_142_680
    assert quote.customer_pays_tax_included == 778_080


def test_endpoint_below_minimum_is_not_eligible():
    quote = build_quote("endpoint", 2, 24, subsidy=SubsidyRequest(2024))
    assert quote.subsidy.computed == 43_200
    assert quote.subsidy.amount == 0
    assert quote.subsidy.reason_codes == ("below_minimum",)
    assert quote.customer_pays_tax_included == quote.tax_included_total == 95_040
    data = quote.to_dict()
    assert data["subsidy"] == 0
    assert "50,000" in data["subsidy_reason"]


def test_campaign_quote_is_never_subsidised():
    quote = build_quote("network", 20, 12, campaign=True, subsidy=SubsidyRequest(2024))
    assert quote.subsidy.computed == 258_400  # would be above the minimum
    assert quote.subsidy.amount == 0
    assert quote.subsidy.reason_codes == ("campaign_price",)
    assert "キャンペーン" in quote.to_dict()["subsidy_reason"]
    assert quote.customer_pays_tax_included == 568_480


def test_2025_requires_security_action_2024_does_not():
    request = SubsidyRequest(2025, security_action=False)
    without = build_quote("network", 10, 24, subsidy=request)
    assert without.subsidy.amount == 0
    assert without.subsidy.reason_codes == ("security_action_missing",)
    reason = without.subsidy.reason
    assert reason is not None and "SECURITY ACTION" in reason.en
    no_declaration_2024 = SubsidyRequest(2024, security_action=False)
    assert build_quote("network", 10, 24, subsidy=no_declaration_2024).subsidy.amount > 0
    # the default assumes the declaration
    assert build_quote("network", 10, 24, subsidy=SubsidyRequest(2025)).subsidy.amount == 403_600


def test_contract_before_grant_decision_is_not_eligible():
    before = SubsidyRequest(
        2024, contract_date=date(2025, 5, 1), grant_decision_date=date(2025, 5, 2)
    )
    quote = build_quote("network", 10, 24, subsidy=before)
    assert quote.subsidy.amount == 0
    assert quote.subsidy.reason_codes == ("contract_before_grant_decision",)


def test_to_dict_has_the_contract_field_names():
    quote = build_quote("network", 10, 24, subsidy=SubsidyRequest(2024))
    data = quote.to_dict()
    for key in ("fees_total", "tax_included_total", "subsidy", "customer_pays_tax_included"):
        assert isinstance(data[key], int)
    assert "subsidy_reason" not in data
    assert data["fees_total"] == 140_000 + 24 * 9_800 + 24 * 18_000
    english = quote.to_dict("en")
    assert english["course_name"] == "Network + endpoint monitoring"


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("devices", [0, -1, -100])
def test_zero_or_negative_devices(devices):
    with pytest.raises(ValidationError, match="at least 1"):
        build_quote("endpoint", devices, 12)


@pytest.mark.parametrize("devices", [1.5, "3", True, None])
def test_devices_must_be_whole_numbers(devices):
    with pytest.raises(ValidationError, match="whole number"):
        build_quote("endpoint", devices, 12)


@pytest.mark.parametrize(
    ("course", "devices", "limit"),
    [("small-network", 16, "1-15"), ("network", 301, "1-300"), ("endpoint", 301, "1-300")],
)
def test_devices_over_the_course_range(course, devices, limit):
    with pytest.raises(ValidationError) as info:
        build_quote(course, devices, 12)
    message = str(info.value)
    assert f"{devices} devices is over the range of course {course!r} ({limit} devices)" in message


def test_course_range_edges_are_accepted():
    assert build_quote("small-network", 15, 12).devices == 15
    assert build_quote("network", 300, 12).devices == 300
    assert build_quote("endpoint", 300, 12).devices == 300


@pytest.mark.parametrize("course", ["premium", "", "endpoints"])
def test_unknown_course(course):
    with pytest.raises(UnknownCourseError, match="known: endpoint, small-network, network"):
        build_quote(course, 1, 12)


def test_course_name_spelling_variants():
    assert build_quote("Small_Network", 1, 12).course.id == "small-network"


@pytest.mark.parametrize("months", [0, -12, 1.5, "24", True])
def test_months_must_be_a_positive_integer(months):
    with pytest.raises(ValidationError, match="months must be a positive whole number"):
        build_quote("endpoint", 1, months)


@pytest.mark.parametrize("year", [2023, 2026, 1999])
def test_subsidy_year_without_rules(year):
    with pytest.raises(NoSubsidyRulesError, match=f"no IT subsidy rules for fiscal year {year}"):
        build_quote("endpoint", 10, 24, subsidy=SubsidyRequest(year))


def test_campaign_period_is_enforced():
    document, _ = load_yaml("courses.yaml")
    document["campaign"]["active_from"] = "2026-04-01"
    document["campaign"]["active_until"] = "2026-06-30"
    book = parse_price_book(document)
    inside = build_quote(
        "endpoint", 5, 12, campaign=True, quote_date=date(2026, 6, 30), price_book=book
    )
    assert inside.line_items[0].unit_price == 1_080
    with pytest.raises(ValidationError, match="not available on 2026-07-01"):
        build_quote("endpoint", 5, 12, campaign=True, quote_date=date(2026, 7, 1), price_book=book)
    with pytest.raises(ValidationError, match="quote date is needed"):
        build_quote("endpoint", 5, 12, campaign=True, price_book=book)
    # the regular price is unaffected by the period
    assert build_quote("endpoint", 5, 12, quote_date=date(2026, 7, 1), price_book=book).fees_total


# --- issued documents --------------------------------------------------------------------


def test_issue_quote_numbers_dates_and_notes():
    quote = build_quote("endpoint", 3, 24, subsidy=SubsidyRequest(2024))
    document = issue_quote(
        quote, number=format_quote_number(2026, 42), issue_date=date(2026, 4, 1), customer=" ACME "
    )
    assert document.number == "Q-2026-00042"
    assert document.valid_until == date(2026, 5, 1)  # 30 days by default
    assert document.customer == "ACME"
    assert any("別途" in note.ja for note in document.notes)
    assert any("交付決定" in note.ja for note in document.notes)
    data = document.to_dict()
    assert data["number"] == "Q-2026-00042" and data["valid_until"] == "2026-05-01"
    assert data["customer_pays_tax_included"] == 77_760


def test_issue_quote_rejects_bad_values():
    quote = build_quote("endpoint", 3, 24)
    day = date(2026, 4, 1)
    with pytest.raises(ValidationError, match="quote number"):
        issue_quote(quote, number="42", issue_date=day, customer="ACME")
    with pytest.raises(ValidationError, match="customer"):
        issue_quote(quote, number="Q-2026-00001", issue_date=day, customer="  ")
    with pytest.raises(ValidationError, match="validity"):
        issue_quote(quote, number="Q-2026-00001", issue_date=day, customer="A", valid_days=0)
    with pytest.raises(ValidationError):
        format_quote_number(2026, 0)
    with pytest.raises(ValidationError):
        format_quote_number(123, 1)
