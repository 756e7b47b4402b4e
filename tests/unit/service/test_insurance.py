"""Insurance claim calculator: payout rates, limits per device, per business, per period."""

from __future__ import annotations

import json

import pytest

from mamori.errors import ValidationError
from mamori.service.insurance import (
    LIMIT_PER_BUSINESS_CAP,
    LIMIT_PER_DEVICE_EXPENSES,
    LIMIT_PER_DEVICE_LIABILITY,
    LIMIT_PERIOD_AGGREGATE,
    LIMITED_BY_RATE,
    Claim,
    LossItem,
    calculate_claim,
    load_claim_file,
    parse_claim,
)

RATES = {
    "damages": 100,
    "litigation": 100,
    "rights_preservation": 100,
    "claim_handling": 100,
    "incident_response": 100,
    "investigation": 100,
    "public_relations": 100,
    "legal_advice": 100,
    "consulting": 100,
    "apology_gifts": 100,
    "credit_monitoring": 100,
    "official_investigation": 100,
    "system_restoration": 100,
    "damage_spread_prevention": 90,
    "recurrence_prevention": 90,
    "cyber_attack_investigation": 80,
}
LIABILITY = {"damages", "litigation", "rights_preservation", "claim_handling"}


def test_terms_match_the_issue(terms):
    assert terms.per_device_liability == 500_000
    assert terms.per_device_expenses == 500_000
    assert terms.per_business_cap == 5_000_000
    assert terms.deductible == 0
    assert {k: c.rate_percent for k, c in terms.categories.items()} == RATES
    assert {k for k, c in terms.categories.items() if c.section == "liability"} == LIABILITY


@pytest.mark.parametrize(
    ("category", "paid"),
    [(k, 123_457 if r == 100 else {90: 111_111, 80: 98_765}[r]) for k, r in RATES.items()],
)
def test_each_payout_rate(category, paid):
    result = calculate_claim(1, [LossItem(category, 123_457)])
    (item,) = result.items
    assert item.covered == paid
    assert item.paid == paid
    assert result.paid_total == paid
    assert item.limited_by == (None if RATES[category] == 100 else LIMITED_BY_RATE)
    assert result.bound_by is None


def test_no_deductible_pays_from_the_first_yen():
    result = calculate_claim(1, [LossItem("damages", 1), LossItem("cyber_attack_investigation", 1)])
    assert [i.paid for i in result.items] == [1, 0]  # 80% of 1 yen rounds down to 0


def test_liability_limit_per_device_binds():
    result = calculate_claim(1, [LossItem("damages", 600_000)])
    assert result.paid_total == 500_000
    assert result.items[0].limited_by == LIMIT_PER_DEVICE_LIABILITY
    assert result.bound_by is not None and result.bound_by.code == LIMIT_PER_DEVICE_LIABILITY
    assert result.bound_by.amount == 500_000

    three = calculate_claim(3, [LossItem("damages", 2_000_000)])
    assert three.paid_total == 1_500_000
    assert three.total_limit.amount == 1_500_000
    assert "3台" in three.total_limit.name.ja


def test_expenses_sublimit_per_device_binds():
    result = calculate_claim(
        1, [LossItem("incident_response", 300_000), LossItem("system_restoration", 300_000)]
    )
    assert [i.paid for i in result.items] == [300_000, 200_000]
    assert [i.limited_by for i in result.items] == [None, LIMIT_PER_DEVICE_EXPENSES]
    assert result.bound_by is not None and result.bound_by.code == LIMIT_PER_DEVICE_EXPENSES


def test_expenses_are_inside_the_liability_limit():
    # 1 device: 500,000 in total for liability and expenses together
    result = calculate_claim(
        1,
        [
            LossItem("investigation", 200_000),
            LossItem("damages", 400_000),
            LossItem("cyber_attack_investigation", 123_457),
        ],
    )
    # liability is paid first, then expenses in the claim's order; items stay in that order
    assert [i.category.key for i in result.items] == [
        "investigation",
        "damages",
        "cyber_attack_investigation",
    ]
    assert [i.paid for i in result.items] == [100_000, 400_000, 0]
    assert result.items[0].limited_by == LIMIT_PER_DEVICE_LIABILITY
    assert result.items[2].covered == 98_765
    assert result.items[2].limited_by == LIMIT_PER_DEVICE_LIABILITY
    assert (result.liability_paid, result.expenses_paid, result.paid_total) == (
        400_000,
        100_000,
        500_000,
    )
    assert result.claimed_total == 723_457
    assert result.covered_total == 698_765


def test_rate_then_limit():
    result = calculate_claim(1, [LossItem("damage_spread_prevention", 600_000)])
    (item,) = result.items
    assert (item.covered, item.paid, item.limited_by) == (
        540_000,
        500_000,
        LIMIT_PER_DEVICE_EXPENSES,
    )


@pytest.mark.parametrize(
    ("devices", "limit_code", "paid"),
    [
        (9, LIMIT_PER_DEVICE_LIABILITY, 4_500_000),
        (10, LIMIT_PER_DEVICE_LIABILITY, 5_000_000),  # exactly at the cap: per-device binds
        (11, LIMIT_PER_BUSINESS_CAP, 5_000_000),
        (300, LIMIT_PER_BUSINESS_CAP, 5_000_000),
    ],
)
def test_per_business_cap(devices, limit_code, paid):
    result = calculate_claim(devices, [LossItem("damages", 6_000_000)])
    assert result.paid_total == paid
    assert result.items[0].limited_by == limit_code
    assert result.total_limit.code == limit_code


def test_per_business_cap_on_expenses():
    result = calculate_claim(20, [LossItem("system_restoration", 7_000_000)])
    assert result.paid_total == 5_000_000
    assert result.items[0].limited_by == LIMIT_PER_BUSINESS_CAP
    assert result.expenses_limit.code == LIMIT_PER_BUSINESS_CAP


def test_under_the_limits_nothing_binds():
    result = calculate_claim(4, [LossItem("damages", 1_000_000), LossItem("legal_advice", 500_000)])
    assert result.paid_total == 1_500_000
    assert result.bound_by is None
    assert result.limits_applied == ()


def test_period_aggregate_reduces_what_remains():
    result = calculate_claim(
        3, Claim((LossItem("damages", 1_000_000),), period_paid_before=800_000)
    )
    assert result.remaining_before == 700_000
    assert result.paid_total == 700_000
    assert result.items[0].limited_by == LIMIT_PERIOD_AGGREGATE

    spent = calculate_claim(1, Claim((LossItem("damages", 10),), period_paid_before=500_000))
    assert spent.paid_total == 0


def test_period_aggregate_for_expenses():
    claim = Claim(
        (LossItem("investigation", 200_000),),
        period_paid_before=900_000,
        expenses_paid_before=900_000,
    )
    result = calculate_claim(2, claim)
    assert result.expenses_remaining_before == 100_000
    assert result.paid_total == 100_000
    assert result.items[0].limited_by == LIMIT_PERIOD_AGGREGATE


def test_to_dict_names_the_binding_limit():
    data = calculate_claim(1, [LossItem("damages", 600_000, "取引先への賠償")]).to_dict()
    assert data["paid_total"] == 500_000
    assert data["bound_by"] == LIMIT_PER_DEVICE_LIABILITY
    assert "50" in data["bound_by_name"]
    assert data["items"][0]["description"] == "取引先への賠償"
    assert data["items"][0]["category_name"] == "損害賠償金"


# --- claim input ------------------------------------------------------------------------


def test_parse_claim_forms():
    listed = parse_claim([{"category": "damages", "amount": 5}])
    assert listed.items == (LossItem("damages", 5),)
    full = parse_claim(
        {
            "items": [{"category": "consulting", "amount": 7, "description": "x"}],
            "period_paid_before": 3,
        }
    )
    assert full.items == (LossItem("consulting", 7, "x"),)
    assert full.period_paid_before == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([{"category": "ransom", "amount": 1}], "unknown loss category 'ransom'"),
        ([{"category": "damages", "amount": -1}], "must not be negative"),
        ([{"category": "damages", "amount": 1.5}], "whole number of yen"),
        ([{"category": "damages", "amount": "1000"}], "whole number of yen"),
        ([{"category": "damages", "amount": True}], "whole number of yen"),
        ([{"category": "damages"}], "whole number of yen"),
        ([{"category": "damages", "amount": 1, "amout": 2}], "unknown field"),
        ([], "non-empty list"),
        ({"items": [{"category": "damages", "amount": 1}], "extra": 1}, "unknown claim field"),
        ({"items": [1]}, "must be an object"),
        ("damages", "must be a JSON object"),
        (
            {"items": [{"category": "damages", "amount": 1}], "period_paid_before": -5},
            "period_paid_before must not be negative",
        ),
        (
            {
                "items": [{"category": "damages", "amount": 1}],
                "period_paid_before": 1,
                "expenses_paid_before": 2,
            },
            "cannot exceed",
        ),
    ],
)
def test_bad_claims(data, message):
    with pytest.raises(ValidationError, match=message):
        parse_claim(data)


def test_every_problem_of_a_claim_is_reported():
    with pytest.raises(ValidationError) as info:
        parse_claim([{"category": "ransom", "amount": 1}, {"category": "damages", "amount": -3}])
    assert "item 1" in str(info.value) and "item 2" in str(info.value)


def test_calculate_claim_validates_items_too():
    with pytest.raises(ValidationError, match="unknown loss category"):
        calculate_claim(1, [LossItem("ransom", 1)])
    with pytest.raises(ValidationError, match="period_paid_before must not be negative"):
        calculate_claim(1, Claim((LossItem("damages", 1),), period_paid_before=-1))
    with pytest.raises(ValidationError, match="cannot exceed"):
        calculate_claim(1, Claim((LossItem("damages", 1),), 1, 2))
    with pytest.raises(ValidationError, match="non-negative"):
        calculate_claim(1, [LossItem("damages", -1)])


@pytest.mark.parametrize("devices", [0, -1, 2.5, "3"])
def test_bad_device_counts(devices):
    with pytest.raises(ValidationError, match="devices"):
        calculate_claim(devices, [LossItem("damages", 1)])


def test_claim_file(tmp_path):
    path = tmp_path / "claim.json"
    path.write_text(json.dumps({"items": [{"category": "damages", "amount": 9}]}), "utf-8")
    assert load_claim_file(path).items == (LossItem("damages", 9),)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", "utf-8")
    with pytest.raises(ValidationError, match="not valid JSON"):
        load_claim_file(bad)
    with pytest.raises(ValidationError, match="cannot read claim file"):
        load_claim_file(tmp_path / "missing.json")


def test_category_spellings_and_the_short_form():
    claim = parse_claim(
        {"損害賠償金": 100, "incident-response": 20, "Cyber-attack investigation": 10}
    )
    assert claim.items == (
        LossItem("damages", 100),
        LossItem("incident_response", 20),
        LossItem("cyber_attack_investigation", 10),
    )
    result = calculate_claim(1, claim)
    assert [i.paid for i in result.items] == [100, 20, 8]
    short = parse_claim({"damages": 5, "period_paid_before": 1})
    assert short.items == (LossItem("damages", 5),) and short.period_paid_before == 1
    with pytest.raises(ValidationError, match="unknown loss category 'ransom'"):
        parse_claim({"ransom": 5})
    with pytest.raises(ValidationError, match="must not be negative"):
        parse_claim({"damages": -5})


def test_claim_with_devices_and_free_text():
    claim = parse_claim(
        {
            "event": "ランサムウェア感染",
            "date": "2026-04-01",
            "devices": 3,
            "losses": [{"category": "damages", "amount": 2_000_000, "note": "取引先"}],
        }
    )
    assert claim.devices == 3
    assert claim.items == (LossItem("damages", 2_000_000, "取引先"),)
    assert calculate_claim(3, claim).paid_total == 1_500_000
    with pytest.raises(ValidationError, match="claim is for 3 devices but 4"):
        calculate_claim(4, claim)
    with pytest.raises(ValidationError, match="devices must be a whole number of at least 1"):
        parse_claim({"devices": 0, "damages": 1})
    with pytest.raises(ValidationError, match="devices"):
        parse_claim({"devices": -1, "damages": 1})
    short = parse_claim({"description": "x", "damages": 1})
    assert short.items == (LossItem("damages", 1),)
