"""Course recommendation for a proposal: from device count, network size and guideline gaps.

Rules (the gap mapping is data, ``data/recommend.yaml``):

* A network course is wanted when the customer has an office network to protect
  (``network_size`` ``small`` or ``large``) or when an open guideline item is one the UTM
  addresses (router/firewall hardening, segmentation, web filtering, gateway malware checks,
  intrusion detection, C2 blocking). Otherwise the endpoint course fits.
* Among network courses the small one is chosen for a ``small`` network within its device
  range (1-15); a ``large`` network, or more devices, gets the network course.
* When a network course is wanted but the devices exceed every network course's range, the
  endpoint course is recommended and the reasons say the network needs a custom design.
* Gaps are JAMA/JAPIA guideline item numbers still open (from an assessment, when one
  exists); the result lists which of them the course helps close and which remain.

Network sizes: ``none`` (no on-site network to guard: remote or cloud-only work), ``small``
(one site, one internet line, a simple LAN), ``large`` (several sites or segments, servers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from mamori.errors import ValidationError
from mamori.service._data import DataReader, load_data
from mamori.service.catalog import Course, PriceBook, check_devices, load_price_book
from mamori.service.text import Lang, Text

_ITEM_NUMBER = re.compile(r"^\s*(?:No\.?\s*)?(\d+)\s*$", re.IGNORECASE)


class NetworkSize(StrEnum):
    NONE = "none"
    SMALL = "small"
    LARGE = "large"

    @classmethod
    def parse(cls, value: object) -> NetworkSize:
        """Raises ValidationError for anything but none/small/large."""
        if isinstance(value, NetworkSize):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValidationError(
                f"unknown network size {value!r} (expected none, small or large)"
            ) from None


@dataclass(frozen=True, slots=True)
class GapCoverage:
    """Which guideline items the network and endpoint parts of a course address."""

    version: str
    item_count: int
    network_items: frozenset[int]
    endpoint_items: frozenset[int]


@dataclass(frozen=True, slots=True)
class Recommendation:
    course: Course
    devices: int
    network_size: NetworkSize
    reasons: tuple[Text, ...]
    addressed_gaps: tuple[int, ...]
    remaining_gaps: tuple[int, ...]

    def to_dict(self, lang: Lang = "ja") -> dict[str, Any]:
        return {
            "course": self.course.id,
            "course_name": self.course.name.get(lang),
            "devices": self.devices,
            "network_size": self.network_size.value,
            "reasons": [r.get(lang) for r in self.reasons],
            "addressed_gaps": list(self.addressed_gaps),
            "remaining_gaps": list(self.remaining_gaps),
        }


def parse_gaps(gaps: Iterable[object] | None, item_count: int) -> tuple[int, ...]:
    """Open item numbers as sorted unique integers (``"103"`` and ``"No.103"`` are accepted).

    Raises:
        ValidationError: for anything that is not an item number between 1 and item_count.
    """
    if gaps is None:
        return ()
    if isinstance(gaps, str | bytes):
        raise ValidationError("gaps must be a list of item numbers, not one string")
    out: set[int] = set()
    bad: list[str] = []
    for gap in gaps:
        number: int | None = None
        if isinstance(gap, int) and not isinstance(gap, bool):
            number = gap
        elif isinstance(gap, str) and (match := _ITEM_NUMBER.match(gap)):
            number = int(match.group(1))
        if number is None or not 1 <= number <= item_count:
            bad.append(repr(gap))
        else:
            out.add(number)
    if bad:
        raise ValidationError(f"not guideline item numbers (1-{item_count}): {', '.join(bad)}")
    return tuple(sorted(out))


def recommend_course(
    devices: object,
    network_size: object = NetworkSize.NONE,
    gaps: Iterable[object] | None = None,
    *,
    price_book: PriceBook | None = None,
    coverage: GapCoverage | None = None,
) -> Recommendation:
    """Recommend a course (see the module docstring for the rules).

    Raises:
        ValidationError: for a bad device count, network size or gap list, or more devices
            than any course takes.
    """
    book = price_book or load_price_book()
    cover = coverage or load_gap_coverage()
    count = check_devices(devices)
    size = NetworkSize.parse(network_size)
    open_items = parse_gaps(gaps, cover.item_count)
    network_gaps = [g for g in open_items if g in cover.network_items]
    reasons: list[Text] = []
    wants_network = size is not NetworkSize.NONE or bool(network_gaps)
    if size is not NetworkSize.NONE:
        reasons.append(
            Text(
                f"社内ネットワーク（規模: {_SIZE_JA[size]}）をUTMで監視します",
                f"the office network ({size.value}) is monitored with a UTM",
            )
        )
    if network_gaps:
        listed = ", ".join(str(g) for g in network_gaps)
        reasons.append(
            Text(
                f"未対応のネットワーク関連項目（No.{listed}）をUTMで改善できます",
                f"open network items (No. {listed}) are addressed by the UTM",
            )
        )
    network_courses = sorted(
        (c for c in book.courses.values() if c.monitors_network), key=lambda c: c.max_devices
    )
    endpoint_courses = [c for c in book.courses.values() if not c.monitors_network]
    chosen: Course | None = None
    if wants_network:
        for course in network_courses:
            if course.min_devices <= count <= course.max_devices and not (
                size is NetworkSize.LARGE and course is not network_courses[-1]
            ):
                chosen = course
                break
        if chosen is not None:
            reasons.append(
                Text(
                    f"{count}台は{chosen.name.ja}の対象範囲（{chosen.min_devices}〜"
                    f"{chosen.max_devices}台）です",
                    f"{count} devices fit {chosen.name.en} "
                    f"({chosen.min_devices}-{chosen.max_devices} devices)",
                )
            )
        else:
            widest = max((c.max_devices for c in network_courses), default=0)
            reasons.append(
                Text(
                    f"{count}台はネットワークコースの上限（{widest}台）を超えるため、"
                    "ネットワークは個別設計・個別見積となります",
                    f"{count} devices exceed the network courses (up to {widest}); "
                    "the network needs a custom design and quote",
                )
            )
    if chosen is None:
        for course in endpoint_courses:
            if course.min_devices <= count <= course.max_devices:
                chosen = course
                break
        if chosen is None:
            widest = max(c.max_devices for c in book.courses.values())
            raise ValidationError(
                f"{count} devices is over the range of every course (up to {widest}); "
                "ask for a custom quote"
            )
        if not wants_network:
            reasons.append(
                Text(
                    "守るべき社内ネットワークがないため端末監視のみで対応します",
                    "no office network to guard: endpoint monitoring is enough",
                )
            )
    addressed_items = set(cover.endpoint_items)
    if chosen.monitors_network:
        addressed_items |= cover.network_items
    addressed = tuple(g for g in open_items if g in addressed_items)
    remaining = tuple(g for g in open_items if g not in addressed_items)
    if addressed:
        reasons.append(
            Text(
                f"未対応項目のうち{len(addressed)}件（No.{', '.join(map(str, addressed))}）の"
                "改善に役立ちます",
                f"helps close {len(addressed)} open item(s): No. {', '.join(map(str, addressed))}",
            )
        )
    return Recommendation(
        course=chosen,
        devices=count,
        network_size=size,
        reasons=tuple(reasons),
        addressed_gaps=addressed,
        remaining_gaps=remaining,
    )


_SIZE_JA = {NetworkSize.NONE: "なし", NetworkSize.SMALL: "小規模", NetworkSize.LARGE: "大規模"}


def parse_gap_coverage(document: Any, where: str = "<gap coverage>") -> GapCoverage:
    """Raises ServiceDataError listing every problem when the document does not validate."""
    reader = DataReader(where)
    top = reader.mapping(document, "gap coverage")
    item_count = reader.integer(top, "item_count", "gap coverage", minimum=1)
    network = reader.int_list(top, "network_items", "gap coverage")
    endpoint = reader.int_list(top, "endpoint_items", "gap coverage")
    for item in (*network, *endpoint):
        if not 1 <= item <= item_count:
            reader.error(f"item {item} is outside 1-{item_count}")
    coverage = GapCoverage(
        version=reader.string(top, "version", "gap coverage"),
        item_count=item_count,
        network_items=frozenset(network),
        endpoint_items=frozenset(endpoint),
    )
    reader.raise_if_errors()
    return coverage


def load_gap_coverage(path: Path | None = None) -> GapCoverage:
    """The bundled gap mapping, or the one at ``path``."""
    return load_data("recommend.yaml", parse_gap_coverage, path)


__all__ = [
    "GapCoverage",
    "NetworkSize",
    "Recommendation",
    "load_gap_coverage",
    "parse_gap_coverage",
    "parse_gaps",
    "recommend_course",
]
