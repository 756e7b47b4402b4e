"""Fixtures and helpers for the service area's tests."""

from __future__ import annotations

import pytest

from mamori.service.catalog import PriceBook, load_price_book
from mamori.service.insurance import InsuranceTerms, load_insurance_terms
from mamori.service.subsidy import SubsidyRules, load_subsidy_rules


@pytest.fixture(scope="session")
def book() -> PriceBook:
    return load_price_book()


@pytest.fixture(scope="session")
def rules() -> SubsidyRules:
    return load_subsidy_rules()


@pytest.fixture(scope="session")
def terms() -> InsuranceTerms:
    return load_insurance_terms()
