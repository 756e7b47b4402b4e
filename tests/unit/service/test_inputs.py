from __future__ import annotations

from datetime import date

import pytest

from mamori.errors import ValidationError
from mamori.service.inputs import QuoteInputs


def test_form_strings_are_parsed_and_round_trip():
    inputs = QuoteInputs.parse(
        {
            "course": "small-network",
            "devices": "10",
            "months": "",
            "campaign": "off",
            "subsidy_year": "2025",
            "small_business": "on",
            "security_action": "true",
            "contract_date": "2026-05-01",
            "grant_decision_date": "",
        }
    )
    assert inputs == QuoteInputs(
        "small-network",
        10,
        None,
        False,
        2025,
        small_business=True,
        security_action=True,
        contract_date=date(2026, 5, 1),
    )
    assert QuoteInputs.parse(inputs.to_dict()) == inputs


def test_build_gives_the_cli_figures():
    quote = QuoteInputs("small-network", 10, 24, subsidy_year=2024).build(date(2026, 5, 1))
    assert (quote.fees_total, quote.subsidy.amount, quote.customer_pays_tax_included) == (
        729200,
        364600,
        437520,
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"devices": "3"}, "course is required"),
        ({"course": "endpoint"}, "devices is required"),
        ({"course": "endpoint", "devices": "three"}, "whole number"),
        ({"course": "endpoint", "devices": True}, "whole number"),
        ({"course": "endpoint", "devices": 1, "months": "1.5"}, "whole number"),
        ({"course": "endpoint", "devices": 1, "campaign": "maybe"}, "true or false"),
        ({"course": "endpoint", "devices": 1, "contract_date": "5/1"}, "YYYY-MM-DD"),
        ({"course": "endpoint", "devices": 1, "colour": "red"}, "unknown quote field"),
    ],
)
def test_bad_fields_are_clear_errors(data, message):
    with pytest.raises(ValidationError, match=message):
        QuoteInputs.parse(data)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (QuoteInputs("endpoint", 0), "at least 1"),
        (QuoteInputs("endpoint", -1), "at least 1"),
        (QuoteInputs("small-network", 20), "over the range"),
        (QuoteInputs("endpoint", 1, months=-2), "months"),
        (QuoteInputs("nope", 1), "unknown course"),
        (QuoteInputs("endpoint", 1, subsidy_year=2031), "no IT subsidy rules"),
    ],
)
def test_build_refuses_bad_values(inputs, message):
    with pytest.raises(ValidationError, match=message):
        inputs.build(date(2026, 5, 1))
