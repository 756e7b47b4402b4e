"""Course recommendation from devices, network size and open guideline items."""

from __future__ import annotations

import copy

import pytest

from mamori.errors import ValidationError
from mamori.service._data import load_yaml
from mamori.service.catalog import parse_price_book
from mamori.service.recommend import NetworkSize, parse_gaps, recommend_course


@pytest.mark.parametrize(
    ("devices", "network", "gaps", "course"),
    [
        (5, "none", None, "endpoint"),
        (300, "none", [], "endpoint"),
        (5, "none", [136, 138], "endpoint"),  # endpoint gaps only
        (5, "none", [142], "small-network"),  # a network gap asks for a UTM
        (1, "small", None, "small-network"),
        (15, "small", None, "small-network"),
        (16, "small", None, "network"),  # over the small model's range
        (5, "large", None, "network"),
        (100, "large", None, "network"),
        (101, "small", None, "network"),
        (300, "large", [142], "network"),
        (40, NetworkSize.SMALL, ["103"], "network"),
    ],
)
def test_recommended_course(devices, network, gaps, course):
    assert recommend_course(devices, network, gaps).course.id == course


def test_gaps_addressed_and_remaining():
    result = recommend_course(10, "small", [1, 103, 138, 148, 146])
    assert result.course.id == "small-network"
    assert result.addressed_gaps == (103, 138, 146)
    assert result.remaining_gaps == (1, 148)
    assert any("No.103, 138, 146" in r.ja for r in result.reasons)


def test_endpoint_course_leaves_network_gaps_open():
    # with network courses for at most 100 devices, 150 devices fall back to endpoint only
    document, _ = load_yaml("courses.yaml")
    document = copy.deepcopy(document)
    document["courses"]["network"]["max_devices"] = 100
    book = parse_price_book(document)
    result = recommend_course(150, "small", [142, 143], price_book=book)
    assert result.course.id == "endpoint"
    assert result.addressed_gaps == (143,)
    assert result.remaining_gaps == (142,)
    assert any("個別設計" in r.ja for r in result.reasons)
    assert any("custom design" in r.en for r in result.reasons)


def test_reasons_are_bilingual_and_serialisable():
    data = recommend_course(5, "none").to_dict("en")
    assert data == {
        "course": "endpoint",
        "course_name": "Endpoint monitoring",
        "devices": 5,
        "network_size": "none",
        "reasons": ["no office network to guard: endpoint monitoring is enough"],
        "addressed_gaps": [],
        "remaining_gaps": [],
        "network_gaps": [],
        "gaps": [],
    }


@pytest.mark.parametrize("devices", [0, -3, 1.5])
def test_bad_devices(devices):
    with pytest.raises(ValidationError, match="devices"):
        recommend_course(devices, "none")


def test_more_devices_than_any_course():
    with pytest.raises(ValidationError, match="over the range of every course"):
        recommend_course(301, "none")


def test_bad_network_size():
    with pytest.raises(ValidationError, match="expected none, small or large"):
        recommend_course(3, "huge")


@pytest.mark.parametrize("gaps", [[0], [154], ["abc"], [True], "103", [1.5]])
def test_bad_gaps(gaps):
    with pytest.raises(ValidationError):
        recommend_course(3, "none", gaps)


def test_parse_gaps_sorts_and_deduplicates():
    assert parse_gaps([5, "3", 5, " 7 ", "No.9", "no 11"], 153) == (3, 5, 7, 9, 11)
    assert parse_gaps(None, 153) == ()
