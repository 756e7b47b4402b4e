"""お助け隊 type-1 conformance: price caps and required elements, with how each is met."""

from __future__ import annotations

import copy

import pytest

from mamori.service._data import load_yaml
from mamori.service.catalog import parse_price_book
from mamori.service.errors import UnknownCourseError
from mamori.service.otasuketai import CAP_ENDPOINT, CAP_NETWORK, check_otasuketai


@pytest.mark.parametrize(
    ("course", "network", "per_device"),
    [("endpoint", None, 1_800), ("small-network", 7_800, 1_800), ("network", 9_800, 1_800)],
)
def test_every_course_conforms(course, network, per_device):
    report = check_otasuketai(course)
    assert report.conforms
    prices = {p.key: p for p in report.prices}
    assert prices[CAP_NETWORK].cap == 10_000
    assert prices[CAP_NETWORK].actual == network
    assert prices[CAP_NETWORK].applicable is (network is not None)
    assert prices[CAP_ENDPOINT].cap == 2_000
    assert prices[CAP_ENDPOINT].actual == per_device
    assert [e.element.key for e in report.elements] == [
        "consultation_desk",
        "monitoring_24h",
        "onsite_response",
        "simple_cyber_insurance",
    ]
    assert all(e.met and e.element.how.ja and e.element.how.en for e in report.elements)


def test_campaign_price_is_checked():
    report = check_otasuketai("endpoint", campaign=True)
    assert {p.key: p.actual for p in report.prices}[CAP_ENDPOINT] == 1_080
    assert report.conforms


def _book(change) -> object:
    document, _ = load_yaml("courses.yaml")
    document = copy.deepcopy(document)
    change(document)
    return parse_price_book(document)


def test_price_over_a_cap_does_not_conform():
    def dearer(doc):
        doc["courses"]["network"]["network_monthly"] = 10_001

    report = check_otasuketai("network", price_book=_book(dearer))
    assert not report.conforms
    failing = [p.key for p in report.prices if not p.ok]
    assert failing == [CAP_NETWORK]

    def device_price(doc):
        for course in doc["courses"].values():
            course["per_device_monthly"] = 2_500
        doc["campaign"]["per_device_monthly"] = 1_500

    report = check_otasuketai("endpoint", price_book=_book(device_price))
    assert [p.key for p in report.prices if not p.ok] == [CAP_ENDPOINT]
    # exactly the cap is fine
    assert check_otasuketai("endpoint", campaign=True, price_book=_book(device_price)).conforms


def test_missing_element_is_named():
    def no_insurance(doc):
        doc["courses"]["endpoint"]["contents"].remove("cyber_insurance")
        doc["pack_services"].remove("onsite_response_on_request")

    report = check_otasuketai("endpoint", price_book=_book(no_insurance))
    assert not report.conforms
    missing = {e.element.key: e.missing for e in report.elements if not e.met}
    assert missing == {
        "simple_cyber_insurance": ("cyber_insurance",),
        "onsite_response": ("onsite_response_on_request",),
    }


def test_monitoring_needs_something_to_monitor():
    def nothing(doc):
        doc["courses"]["endpoint"]["contents"] = ["mdr_licence", "cyber_insurance"]

    report = check_otasuketai("endpoint", price_book=_book(nothing))
    bad = {e.element.key: e.missing for e in report.elements if not e.met}
    assert bad == {"monitoring_24h": ("network_monitoring | endpoint_protection",)}


def test_report_as_dict_and_unknown_course():
    data = check_otasuketai("small-network").to_dict("en")
    assert data["conforms"] is True and data["type"] == 1
    assert data["initial_fee"] == 110_000
    assert data["elements"][0]["how"].startswith("One desk")
    with pytest.raises(UnknownCourseError):
        check_otasuketai("platinum")
