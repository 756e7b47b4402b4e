"""IT subsidy rules per fiscal year: ratios, minimum and cap boundaries, eligibility reasons."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from mamori.errors import ValidationError
from mamori.service._data import load_yaml
from mamori.service.errors import NoSubsidyRulesError, ServiceDataError
from mamori.service.subsidy import (
    REASON_BELOW_MINIMUM,
    REASON_CAMPAIGN,
    REASON_CONTRACT_BEFORE_DECISION,
    REASON_NO_SECURITY_ACTION,
    SubsidyRequest,
    assess_subsidy,
    eligible_fees,
    load_subsidy_rules,
    parse_subsidy_rules,
    subsidy_for_fees,
)

BELOW = REASON_BELOW_MINIMUM


def test_rules_match_the_issue(rules):
    y2024, y2025 = rules.for_year(2024), rules.for_year(2025)
    assert (y2024.ratio, y2024.small_business_ratio) == ((1, 2), None)
    assert (y2024.minimum, y2024.maximum) == (50_000, 1_000_000)
    assert not y2024.security_action_required
    assert (y2025.ratio, y2025.small_business_ratio) == ((1, 2), (2, 3))
    assert (y2025.minimum, y2025.maximum) == (50_000, 1_500_000)
    assert y2025.security_action_required
    for rule in (y2024, y2025):
        assert rule.max_months == 24 and rule.includes_initial_fee
        assert not rule.campaign_price_eligible
        assert not rule.contract_before_decision_eligible


def _assess(rules, year, fees, **facts):
    request = SubsidyRequest(year, **facts)
    return assess_subsidy(
        rules.for_year(year), request, initial_fees=fees, monthly_fees=0, months=1, campaign=False
    )


@pytest.mark.parametrize(
    ("year", "facts", "fees", "amount", "codes"),
    [
        # exactly the minimum is eligible, a yen less is not (the ratio rounds down)
        (2024, {}, 100_000, 50_000, ()),
        (2024, {}, 100_001, 50_000, ()),
        (2024, {}, 99_999, 0, (REASON_BELOW_MINIMUM,)),
        (2024, {}, 99_998, 0, (REASON_BELOW_MINIMUM,)),
        (2025, {"security_action": True}, 100_000, 50_000, ()),
        (2025, {"security_action": True}, 99_999, 0, (REASON_BELOW_MINIMUM,)),
        (2025, {"security_action": True, "small_business": True}, 75_000, 50_000, ()),
        (
            2025,
            {"security_action": True, "small_business": True},
            74_999,
            0,
            (REASON_BELOW_MINIMUM,),
        ),
        # the cap: exactly at it, and just above it
        (2024, {}, 2_000_000, 1_000_000, ()),
        (2024, {}, 2_000_002, 1_000_000, ()),
        (2024, {}, 9_999_999, 1_000_000, ()),
        (2025, {"security_action": True}, 3_000_000, 1_500_000, ()),
        (2025, {"security_action": True}, 3_000_002, 1_500_000, ()),
        (2025, {"security_action": True, "small_business": True}, 2_250_000, 1_500_000, ()),
        (2025, {"security_action": True, "small_business": True}, 2_250_003, 1_500_000, ()),
        # 2/3 rounds down to the yen
        (2025, {"security_action": True, "small_business": True}, 100_000, 66_666, ()),
        (2025, {"security_action": True, "small_business": True}, 100_001, 66_667, ()),
        (2024, {}, 123_457, 61_728, ()),
    ],
)
def test_boundaries(rules, year, facts, fees, amount, codes):
    result = _assess(rules, year, fees, **facts)
    assert result.amount == amount
    assert result.reason_codes == codes
    assert result.eligible is (not codes)


def test_capped_flag(rules):
    assert not _assess(rules, 2024, 2_000_000).capped
    capped = _assess(rules, 2024, 2_000_002)
    assert capped.capped and capped.computed == 1_000_001 and capped.amount == 1_000_000


def test_below_minimum_reason_text(rules):
    result = _assess(rules, 2024, 99_999)
    assert result.computed == 49_999
    assert result.reason is not None
    assert "49,999円" in result.reason.ja and "50,000円" in result.reason.ja
    assert "below the minimum" in result.reason.en


def test_eligible_fees_count_two_years_and_the_initial_fee(rules):
    rule = rules.for_year(2024)
    assert eligible_fees(rule, initial_fees=110_000, monthly_fees=10_000, months=12) == 230_000
    assert eligible_fees(rule, initial_fees=110_000, monthly_fees=10_000, months=24) == 350_000
    assert eligible_fees(rule, initial_fees=110_000, monthly_fees=10_000, months=60) == 350_000


def test_subsidy_for_fees_validates(rules):
    rule = rules.for_year(2024)
    assert subsidy_for_fees(rule, 3) == 1
    with pytest.raises(ValidationError):
        subsidy_for_fees(rule, -1)


@pytest.mark.parametrize(
    ("contract", "decision", "eligible"),
    [
        (date(2025, 5, 1), date(2025, 5, 2), False),  # signed the day before the decision
        (date(2025, 5, 2), date(2025, 5, 2), True),  # signed on the decision day
        (date(2025, 6, 1), date(2025, 5, 2), True),  # signed after
        (date(2025, 5, 1), None, False),  # signed, no decision yet
        (None, None, True),  # not signed yet
    ],
)
def test_contract_before_grant_decision(rules, contract, decision, eligible):
    result = _assess(rules, 2024, 500_000, contract_date=contract, grant_decision_date=decision)
    assert result.eligible is eligible
    assert (REASON_CONTRACT_BEFORE_DECISION in result.reason_codes) is (not eligible)
    assert result.amount == (250_000 if eligible else 0)


def test_campaign_and_every_other_reason_are_all_listed(rules):
    request = SubsidyRequest(2025, security_action=False, contract_date=date(2025, 1, 1))
    result = assess_subsidy(
        rules.for_year(2025), request, initial_fees=0, monthly_fees=1_080, months=24, campaign=True
    )
    assert result.reason_codes == (
        REASON_CAMPAIGN,
        REASON_CONTRACT_BEFORE_DECISION,
        REASON_NO_SECURITY_ACTION,
        REASON_BELOW_MINIMUM,
    )
    assert result.amount == 0
    assert result.reason is not None
    assert result.reason.ja.count("。") == 4


def test_unknown_year_is_a_clear_error(rules):
    with pytest.raises(NoSubsidyRulesError, match=r"fiscal year 2026 \(known: 2024, 2025\)"):
        rules.for_year(2026)
    with pytest.raises(ValidationError, match="year like 2025"):
        rules.for_year("2025")


def test_rules_are_data_a_new_year_is_one_entry():
    document, _ = load_yaml("subsidy.yaml")
    document = copy.deepcopy(document)
    document["years"][2026] = dict(document["years"][2025], max=2_000_000, ratio="3/4")
    rules = parse_subsidy_rules(document)
    result = assess_subsidy(
        rules.for_year(2026),
        SubsidyRequest(2026, security_action=True),
        initial_fees=4_000_000,
        monthly_fees=0,
        months=1,
        campaign=False,
    )
    assert result.amount == 2_000_000 and result.computed == 3_000_000


def test_bad_rules_report_every_problem():
    document, _ = load_yaml("subsidy.yaml")
    document = copy.deepcopy(document)
    document["years"][2024]["ratio"] = "3/2"
    document["years"][2024]["min"] = -5
    document["years"][2025]["max"] = "lots"
    document["years"][2025]["security_action_required"] = "yes"
    with pytest.raises(ServiceDataError) as info:
        parse_subsidy_rules(document, "subsidy.yaml")
    message = str(info.value)
    assert message.startswith("subsidy.yaml: 4 problem(s)")
    for part in (
        "years.2024.ratio",
        "years.2024.min",
        "years.2025.max",
        "security_action_required",
    ):
        assert part in message


def test_rules_file_that_is_not_yaml(tmp_path):
    path = tmp_path / "subsidy.yaml"
    path.write_text("years: [unclosed\n", encoding="utf-8")
    with pytest.raises(ServiceDataError, match="not valid YAML"):
        load_subsidy_rules(path)
    with pytest.raises(ServiceDataError, match="cannot read"):
        load_subsidy_rules(tmp_path / "missing.yaml")
