"""The price book: courses, their prices and device ranges, the campaign price.

Prices are package data (``data/courses.yaml``), versioned; this module turns the file into
frozen values and validates it, reporting every problem of the file at once.

Device ranges chosen from the issue (and recorded in the data file):

* ``endpoint`` (端末監視コース): 1-300 devices. No network appliance limits it; 300 is the
  pack's SME focus (a manufacturer with up to 300 employees is an SME in Japanese law).
* ``small-network`` (小規模ネットワーク&端末監視コース): 1-15 devices, the issue's "about 1-15"
  for the small UTM model.
* ``network`` (ネットワーク&端末監視コース): 1-300 devices behind the larger UTM model, the
  same SME bound; more needs a custom network design and quote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from mamori.errors import ValidationError
from mamori.service._data import DataReader, load_data
from mamori.service.errors import UnknownCourseError
from mamori.service.text import Lang, Text

MONITOR_KINDS = ("network", "endpoint")


@dataclass(frozen=True, slots=True)
class Course:
    """One course of the pack (a 1-year contract, one licence per device).

    ``network_monthly`` is the monthly UTM licence and maintenance fee (0 when the course
    monitors endpoints only); ``per_device_monthly`` the regular per-device monthly price.
    """

    id: str
    name: Text
    initial_fee: int
    initial_fee_label: Text
    network_monthly: int
    network_monthly_label: Text | None
    per_device_monthly: int
    min_devices: int
    max_devices: int
    monitors: tuple[str, ...]
    contents: tuple[str, ...]

    @property
    def monitors_network(self) -> bool:
        return "network" in self.monitors

    def to_dict(self, lang: Lang = "ja") -> dict[str, Any]:
        """The course for JSON and pages (prices tax-excluded, in yen)."""
        return {
            "course": self.id,
            "name": self.name.get(lang),
            "initial_fee": self.initial_fee,
            "network_monthly": self.network_monthly,
            "per_device_monthly": self.per_device_monthly,
            "min_devices": self.min_devices,
            "max_devices": self.max_devices,
            "monitors": list(self.monitors),
            "contents": list(self.contents),
        }

    def check_devices(self, devices: object) -> int:
        """Validate a device count for this course and return it.

        Raises:
            ValidationError: when ``devices`` is not an integer, is below 1, or is outside
                the course's device range.
        """
        count = check_devices(devices)
        if count < self.min_devices:
            raise ValidationError(
                f"course {self.id!r} needs at least {self.min_devices} devices (got {count})"
            )
        if count > self.max_devices:
            raise ValidationError(
                f"{count} devices is over the range of course {self.id!r} "
                f"({self.min_devices}-{self.max_devices} devices); "
                "choose a larger course or ask for a custom quote"
            )
        return count


@dataclass(frozen=True, slots=True)
class Campaign:
    """The campaign price per device, switched on per quote, optionally for a period."""

    name: Text
    discount_percent: int
    per_device_monthly: int
    active_from: date | None = None
    active_until: date | None = None

    def is_active(self, on: date) -> bool:
        """Whether a quote dated ``on`` may use the campaign price (bounds inclusive)."""
        if self.active_from is not None and on < self.active_from:
            return False
        return not (self.active_until is not None and on > self.active_until)

    def unit_price(self, course: Course) -> int:
        """The campaign per-device monthly price for ``course``."""
        return course.per_device_monthly * (100 - self.discount_percent) // 100


@dataclass(frozen=True, slots=True)
class PriceBook:
    """All courses and pricing parameters of one price-book version."""

    version: str
    effective_from: date | None
    tax_percent: int
    contract_term_months: int
    default_quote_months: int
    quote_valid_days: int
    campaign: Campaign
    pack_services: tuple[str, ...]
    courses: Mapping[str, Course]
    content_names: Mapping[str, Text]

    def course(self, name: str) -> Course:
        """The course called ``name``: its id (``small_network`` and ``Small Network`` are
        accepted for ``small-network``) or its Japanese or English name.

        Raises:
            UnknownCourseError: when there is no such course; the message names the known ones.
        """
        text = str(name).strip()
        key = "-".join(text.lower().replace("_", " ").replace("-", " ").split())
        if key in self.courses:
            return self.courses[key]
        for course in self.courses.values():
            if text in (course.name.ja, course.name.en):
                return course
        known = ", ".join(self.courses)
        raise UnknownCourseError(f"unknown course {name!r} (known: {known})")

    def content_name(self, key: str) -> Text:
        return self.content_names.get(key, Text(key, key))


def check_devices(devices: object) -> int:
    """Validate a device count independent of any course: a positive integer.

    Raises:
        ValidationError: for booleans, non-integers, zero and negative numbers.
    """
    if isinstance(devices, bool) or not isinstance(devices, int):
        raise ValidationError(f"devices must be a whole number (got {devices!r})")
    if devices < 1:
        raise ValidationError(f"devices must be at least 1 (got {devices})")
    return devices


def check_months(months: object) -> int:
    """Validate a number of months: a positive integer.

    Raises:
        ValidationError: for booleans, non-integers, zero and negative numbers.
    """
    if isinstance(months, bool) or not isinstance(months, int):
        raise ValidationError(f"months must be a positive whole number (got {months!r})")
    if months < 1:
        raise ValidationError(f"months must be a positive whole number (got {months})")
    return months


def _read_course(reader: DataReader, key: str, raw: Any, contents_known: set[str]) -> Course:
    what = f"courses.{key}"
    data = reader.mapping(raw, what)
    monitors = reader.str_list(data, "monitors", what)
    for kind in monitors:
        if kind not in MONITOR_KINDS:
            reader.error(f"{what}.monitors: unknown kind {kind!r} (known: network, endpoint)")
    contents = reader.str_list(data, "contents", what)
    for item in contents:
        if item not in contents_known:
            reader.error(f"{what}.contents: {item!r} has no entry in content_names")
    network_monthly = reader.integer(data, "network_monthly", what)
    label: Text | None = None
    if data.get("network_monthly_label_ja") is not None:
        label = reader.text(data, "network_monthly_label_", what)
    if "network" in monitors and (network_monthly <= 0 or label is None):
        reader.error(f"{what}: a network course needs network_monthly > 0 and its label")
    if "network" not in monitors and network_monthly:
        reader.error(f"{what}: network_monthly is set but the course monitors no network")
    min_devices = reader.integer(data, "min_devices", what, minimum=1)
    max_devices = reader.integer(data, "max_devices", what, minimum=1)
    if 0 < max_devices < min_devices:  # only when both were read (0 marks an error)
        reader.error(f"{what}: max_devices is below min_devices")
    return Course(
        id=key,
        name=reader.text(data, "name_", what),
        initial_fee=reader.integer(data, "initial_fee", what),
        initial_fee_label=reader.text(data, "initial_fee_label_", what),
        network_monthly=network_monthly,
        network_monthly_label=label,
        per_device_monthly=reader.integer(data, "per_device_monthly", what, minimum=1),
        min_devices=min_devices,
        max_devices=max_devices,
        monitors=monitors,
        contents=contents,
    )


def parse_price_book(document: Any, where: str = "<price book>") -> PriceBook:
    """Build a :class:`PriceBook` from a parsed YAML document.

    Raises:
        ServiceDataError: listing every problem when the document does not validate.
    """
    reader = DataReader(where)
    top = reader.mapping(document, "price book")
    names_raw = reader.mapping(top.get("content_names"), "content_names")
    content_names: dict[str, Text] = {}
    for key, raw in names_raw.items():
        entry = reader.mapping(raw, f"content_names.{key}")
        content_names[str(key)] = reader.text(entry, "", f"content_names.{key}")
    courses: dict[str, Course] = {}
    courses_raw = reader.mapping(top.get("courses"), "courses")
    if not courses_raw:
        reader.error("courses: at least one course is needed")
    for key, raw in courses_raw.items():
        courses[str(key)] = _read_course(reader, str(key), raw, set(content_names))
    camp = reader.mapping(top.get("campaign"), "campaign")
    discount = reader.integer(camp, "discount_percent", "campaign", minimum=1)
    if discount >= 100:
        reader.error("campaign.discount_percent must be below 100")
    campaign = Campaign(
        name=reader.text(camp, "name_", "campaign"),
        discount_percent=discount,
        per_device_monthly=reader.integer(camp, "per_device_monthly", "campaign", minimum=1),
        active_from=reader.optional_date(camp, "active_from", "campaign"),
        active_until=reader.optional_date(camp, "active_until", "campaign"),
    )
    if (
        campaign.active_from is not None
        and campaign.active_until is not None
        and campaign.active_until < campaign.active_from
    ):
        reader.error("campaign: active_until is before active_from")
    for course in courses.values():
        exact, remainder = divmod(course.per_device_monthly * (100 - discount), 100)
        if remainder or exact != campaign.per_device_monthly:
            reader.error(
                f"campaign.per_device_monthly {campaign.per_device_monthly} is not "
                f"{100 - discount}% of course {course.id!r}'s {course.per_device_monthly}"
            )
    pack_services = reader.str_list(top, "pack_services", "price book")
    for item in pack_services:
        if item not in content_names:
            reader.error(f"pack_services: {item!r} has no entry in content_names")
    tax = reader.integer(top, "consumption_tax_percent", "price book")
    book = PriceBook(
        version=str(reader.string(top, "version", "price book")),
        effective_from=reader.optional_date(top, "effective_from", "price book"),
        tax_percent=tax,
        contract_term_months=reader.integer(top, "contract_term_months", "price book", minimum=1),
        default_quote_months=reader.integer(top, "default_quote_months", "price book", minimum=1),
        quote_valid_days=reader.integer(top, "quote_valid_days", "price book", minimum=1),
        campaign=campaign,
        pack_services=pack_services,
        courses=courses,
        content_names=content_names,
    )
    reader.raise_if_errors()
    return book


def load_price_book(path: Path | None = None) -> PriceBook:
    """The bundled price book, or the one at ``path``.

    Raises:
        ServiceDataError: when the file is missing, not YAML, or does not validate.
    """
    return load_data("courses.yaml", parse_price_book, path)


__all__ = [
    "Campaign",
    "Course",
    "PriceBook",
    "check_devices",
    "check_months",
    "load_price_book",
    "parse_price_book",
]
