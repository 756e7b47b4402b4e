"""Every bundled data file loads, carries a version and agrees with the others."""

from __future__ import annotations

from importlib import resources

import pytest

from mamori.service._data import load_yaml
from mamori.service.catalog import load_price_book
from mamori.service.errors import ServiceDataError
from mamori.service.insurance import load_insurance_terms
from mamori.service.otasuketai import load_otasuketai_criteria
from mamori.service.recommend import load_gap_coverage
from mamori.service.subsidy import load_subsidy_rules, parse_subsidy_rules

LOADERS = [
    load_price_book,
    load_subsidy_rules,
    load_insurance_terms,
    load_otasuketai_criteria,
    load_gap_coverage,
]


@pytest.mark.parametrize("loader", LOADERS)
def test_bundled_data_loads_with_a_version(loader):
    data = loader()
    assert data.version
    assert loader() is data  # read once


def test_every_data_file_is_used():
    files = {
        p.name
        for p in resources.files("mamori.service").joinpath("data").iterdir()
        if p.name.endswith(".yaml")
    }
    assert files == {
        "courses.yaml",
        "subsidy.yaml",
        "insurance.yaml",
        "otasuketai.yaml",
        "recommend.yaml",
    }


def _man(yen: int) -> str:
    return f"{yen // 10_000}万円"


def test_otasuketai_insurance_text_matches_the_insurance_terms():
    terms = load_insurance_terms()
    element = next(
        e for e in load_otasuketai_criteria().elements if e.key == "simple_cyber_insurance"
    )
    assert f"賠償{_man(terms.per_device_liability)}" in element.how.ja
    assert f"費用{_man(terms.per_device_expenses)}" in element.how.ja
    assert f"上限{_man(terms.per_business_cap)}" in element.how.ja
    assert f"{terms.per_business_cap:,} yen" in element.how.en


def test_recommendation_items_are_guideline_items():
    coverage = load_gap_coverage()
    assert coverage.item_count == 153
    assert not coverage.network_items & coverage.endpoint_items


def test_a_missing_section_is_reported():
    with pytest.raises(ServiceDataError, match="years must be a mapping"):
        parse_subsidy_rules({"version": "x", "programme_ja": "a", "programme_en": "b"})


def test_load_yaml_names_the_line_of_a_syntax_error(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\nb: [\n", encoding="utf-8")
    with pytest.raises(ServiceDataError) as info:
        load_yaml("x.yaml", path)
    assert info.value.location is not None and info.value.location.line is not None
