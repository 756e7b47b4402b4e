"""Conformance of a course with the IPA サイバーセキュリティお助け隊 service criteria (type 1).

The criteria are data (``data/otasuketai.yaml``): the type-1 price caps (network monitoring at
most 10,000 yen per month, endpoint monitoring at most 2,000 yen per device per month, both
tax-excluded) and the required elements (one consultation desk, 24-hour monitoring, on-site
response when requested, simple cyber insurance), each with how the pack meets it.

A price cap is checked only for what the course monitors (an endpoint-only course has no
network price to check). An element is met when every key in its ``provided_by`` list, and
at least one key of its ``any_of`` list if it has one, is among the course's contents or the
services the pack provides to every customer (``pack_services`` in the price book).
The initial fee is not part of the type-1 monthly caps and is reported, not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mamori.service._data import DataReader, load_data
from mamori.service.catalog import Course, PriceBook, load_price_book
from mamori.service.text import Lang, Text

CAP_NETWORK = "network_monthly"
CAP_ENDPOINT = "endpoint_per_device_monthly"


@dataclass(frozen=True, slots=True)
class Element:
    """A required element of the service criteria and how the pack meets it."""

    key: str
    name: Text
    provided_by: tuple[str, ...]
    any_of: tuple[str, ...]
    how: Text


@dataclass(frozen=True, slots=True)
class OtasuketaiCriteria:
    version: str
    type: int
    network_monthly_cap: int
    endpoint_per_device_cap: int
    elements: tuple[Element, ...]


@dataclass(frozen=True, slots=True)
class PriceCheck:
    """One price cap: ``actual`` is ``None`` when it does not apply to the course."""

    key: str
    name: Text
    cap: int
    actual: int | None

    @property
    def applicable(self) -> bool:
        return self.actual is not None

    @property
    def ok(self) -> bool:
        return self.actual is None or self.actual <= self.cap

    def to_dict(self, lang: Lang = "ja") -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name.get(lang),
            "cap": self.cap,
            "actual": self.actual,
            "applicable": self.applicable,
            "ok": self.ok,
        }


@dataclass(frozen=True, slots=True)
class ElementCheck:
    element: Element
    met: bool
    missing: tuple[str, ...]

    def to_dict(self, lang: Lang = "ja") -> dict[str, Any]:
        return {
            "key": self.element.key,
            "name": self.element.name.get(lang),
            "met": self.met,
            "how": self.element.how.get(lang),
            "missing": list(self.missing),
        }


@dataclass(frozen=True, slots=True)
class ConformanceReport:
    """Whether a course (at the given price) conforms with the type-1 criteria, and why."""

    course: Course
    campaign: bool
    criteria_type: int
    prices: tuple[PriceCheck, ...]
    elements: tuple[ElementCheck, ...]
    initial_fee: int

    @property
    def conforms(self) -> bool:
        return all(p.ok for p in self.prices) and all(e.met for e in self.elements)

    def to_dict(self, lang: Lang = "ja") -> dict[str, Any]:
        return {
            "course": self.course.id,
            "course_name": self.course.name.get(lang),
            "campaign": self.campaign,
            "type": self.criteria_type,
            "conforms": self.conforms,
            "initial_fee": self.initial_fee,
            "prices": [p.to_dict(lang) for p in self.prices],
            "elements": [e.to_dict(lang) for e in self.elements],
        }


def check_otasuketai(
    course: str | Course,
    *,
    campaign: bool = False,
    price_book: PriceBook | None = None,
    criteria: OtasuketaiCriteria | None = None,
) -> ConformanceReport:
    """Check ``course`` against the お助け隊 type-1 criteria.

    Raises:
        UnknownCourseError: for an unknown course name.
    """
    book = price_book or load_price_book()
    rules = criteria or load_otasuketai_criteria()
    chosen = course if isinstance(course, Course) else book.course(course)
    per_device = book.campaign.unit_price(chosen) if campaign else chosen.per_device_monthly
    prices = (
        PriceCheck(
            CAP_NETWORK,
            Text("ネットワーク監視の月額（税抜）", "network monitoring per month (tax-excluded)"),
            rules.network_monthly_cap,
            chosen.network_monthly if chosen.monitors_network else None,
        ),
        PriceCheck(
            CAP_ENDPOINT,
            Text("端末監視の1台あたり月額（税抜）", "endpoint monitoring per device per month"),
            rules.endpoint_per_device_cap,
            per_device if "endpoint" in chosen.monitors else None,
        ),
    )
    provided = set(chosen.contents) | set(book.pack_services)
    checks = []
    for element in rules.elements:
        missing = [key for key in element.provided_by if key not in provided]
        if element.any_of and not provided.intersection(element.any_of):
            missing.append(" | ".join(element.any_of))
        checks.append(ElementCheck(element, not missing, tuple(missing)))
    return ConformanceReport(
        course=chosen,
        campaign=campaign,
        criteria_type=rules.type,
        prices=prices,
        elements=tuple(checks),
        initial_fee=chosen.initial_fee,
    )


def parse_otasuketai_criteria(document: Any, where: str = "<criteria>") -> OtasuketaiCriteria:
    """Build :class:`OtasuketaiCriteria` from a parsed YAML document.

    Raises:
        ServiceDataError: listing every problem when the document does not validate.
    """
    reader = DataReader(where)
    top = reader.mapping(document, "criteria")
    caps: Mapping[str, Any] = reader.mapping(top.get("price_caps"), "price_caps")
    elements = []
    for key, raw in reader.mapping(top.get("elements"), "elements").items():
        what = f"elements.{key}"
        data = reader.mapping(raw, what)
        any_of: tuple[str, ...] = ()
        if data.get("any_of") is not None:
            any_of = reader.str_list(data, "any_of", what)
        elements.append(
            Element(
                key=str(key),
                name=reader.text(data, "", what),
                provided_by=reader.str_list(data, "provided_by", what),
                any_of=any_of,
                how=reader.text(data, "how_", what),
            )
        )
    if not elements:
        reader.error("elements: at least one required element is needed")
    criteria = OtasuketaiCriteria(
        version=reader.string(top, "version", "criteria"),
        type=reader.integer(top, "type", "criteria", minimum=1),
        network_monthly_cap=reader.integer(caps, CAP_NETWORK, "price_caps", minimum=1),
        endpoint_per_device_cap=reader.integer(caps, CAP_ENDPOINT, "price_caps", minimum=1),
        elements=tuple(elements),
    )
    reader.raise_if_errors()
    return criteria


def load_otasuketai_criteria(path: Path | None = None) -> OtasuketaiCriteria:
    """The bundled criteria, or the ones at ``path``.

    Raises:
        ServiceDataError: when the file is missing, not YAML, or does not validate.
    """
    return load_data("otasuketai.yaml", parse_otasuketai_criteria, path)


__all__ = [
    "CAP_ENDPOINT",
    "CAP_NETWORK",
    "ConformanceReport",
    "Element",
    "ElementCheck",
    "OtasuketaiCriteria",
    "PriceCheck",
    "check_otasuketai",
    "load_otasuketai_criteria",
    "parse_otasuketai_criteria",
]
