"""The price book: bundled data as the issue states it, validation of the data file."""

from __future__ import annotations

import copy

import pytest

from mamori.errors import ValidationError
from mamori.service._data import load_yaml
from mamori.service.catalog import check_devices, check_months, load_price_book, parse_price_book
from mamori.service.errors import ServiceDataError, UnknownCourseError


def test_courses_as_the_issue_states(book):
    assert list(book.courses) == ["endpoint", "small-network", "network"]
    endpoint, small, network = (book.course(c) for c in book.courses)
    assert (endpoint.initial_fee, endpoint.network_monthly, endpoint.per_device_monthly) == (
        0,
        0,
        1_800,
    )
    assert (small.initial_fee, small.network_monthly, small.per_device_monthly) == (
        110_000,
        7_800,
        1_800,
    )
    assert (network.initial_fee, network.network_monthly, network.per_device_monthly) == (
        140_000,
        9_800,
        1_800,
    )
    assert endpoint.name.ja == "端末監視コース"
    assert small.name.ja == "小規模ネットワーク&端末監視コース"
    assert network.name.ja == "ネットワーク&端末監視コース"
    assert set(endpoint.contents) == {
        "endpoint_protection",
        "xdr_licence",
        "mdr_licence",
        "setup_consulting",
        "cyber_insurance",
    }
    assert book.tax_percent == 10
    assert book.contract_term_months == 12
    assert book.version


def test_device_ranges(book):
    ranges = {c.id: (c.min_devices, c.max_devices) for c in book.courses.values()}
    assert ranges == {"endpoint": (1, 300), "small-network": (1, 15), "network": (1, 300)}


def test_campaign_price(book):
    assert book.campaign.discount_percent == 40
    assert book.campaign.per_device_monthly == 1_080
    assert book.campaign.unit_price(book.course("network")) == 1_080
    assert book.campaign.active_from is None and book.campaign.active_until is None


def test_unknown_course_lists_the_known_ones(book):
    with pytest.raises(UnknownCourseError) as info:
        book.course("gold")
    assert str(info.value) == "unknown course 'gold' (known: endpoint, small-network, network)"
    assert isinstance(info.value, ValidationError)


@pytest.mark.parametrize(("value", "ok"), [(1, True), (5000, True), (0, False), (-2, False)])
def test_check_devices(value, ok):
    if ok:
        assert check_devices(value) == value
    else:
        with pytest.raises(ValidationError, match="at least 1"):
            check_devices(value)


@pytest.mark.parametrize("value", [0, -1, 2.0, "12", None, False])
def test_check_months_rejects(value):
    with pytest.raises(ValidationError, match="months must be a positive whole number"):
        check_months(value)


def test_devices_below_a_course_minimum():
    document, _ = load_yaml("courses.yaml")
    document = copy.deepcopy(document)
    document["courses"]["network"]["min_devices"] = 16
    book = parse_price_book(document)
    with pytest.raises(ValidationError, match="at least 16 devices"):
        book.course("network").check_devices(3)


def _broken() -> dict:
    document, _ = load_yaml("courses.yaml")
    return copy.deepcopy(document)


def test_bad_price_book_reports_every_problem():
    document = _broken()
    document["courses"]["endpoint"]["per_device_monthly"] = "1800 yen"
    document["courses"]["small-network"]["max_devices"] = 0
    document["courses"]["network"]["contents"].append("free_lunch")
    document["campaign"]["per_device_monthly"] = 1_000
    with pytest.raises(ServiceDataError) as info:
        parse_price_book(document, "courses.yaml")
    message = str(info.value)
    assert "courses.endpoint.per_device_monthly must be an integer" in message
    assert "courses.small-network.max_devices must be at least 1" in message
    assert "'free_lunch' has no entry in content_names" in message
    assert "campaign.per_device_monthly 1000 is not 60%" in message


def test_network_course_needs_its_monthly_fee():
    document = _broken()
    document["courses"]["network"]["network_monthly"] = 0
    with pytest.raises(ServiceDataError, match="network course needs network_monthly"):
        parse_price_book(document)


def test_price_book_from_a_file(tmp_path):
    path = tmp_path / "courses.yaml"
    path.write_text("courses: 3\n", encoding="utf-8")
    with pytest.raises(ServiceDataError) as info:
        load_price_book(path)
    assert str(info.value).startswith(str(path))
    assert "courses must be a mapping" in str(info.value)


SPELLINGS = [
    "small-network",
    "small_network",
    " Small Network ",
    "小規模ネットワーク&端末監視コース",
]


@pytest.mark.parametrize("name", SPELLINGS)
def test_course_spellings(book, name):
    assert book.course(name).id == "small-network"
