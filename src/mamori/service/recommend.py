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
* Gaps are JAMA/JAPIA guideline items still open: plain item numbers typed in the meeting,
  or :class:`~mamori.service.gaps.Gap` values from a stored assessment or an uploaded check
  sheet, which carry the item's label (ラベル), level (Lv1-Lv3) and status. An item counts as
  a network gap when it is listed in ``network_items``, or when it is in neither list and its
  label is one of ``network_labels`` (communication control, external connections); likewise
  for the endpoint part. The result lists which gaps the course helps close and which remain,
  and the reasons (Japanese, English available) name the labels and levels behind the choice.

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
from mamori.service.gaps import Gap
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
    network_labels: frozenset[int] = frozenset()
    endpoint_labels: frozenset[int] = frozenset()

    def is_network(self, gap: Gap) -> bool:
        """The UTM (network part) addresses this gap."""
        if gap.item in self.network_items:
            return True
        if gap.item in self.endpoint_items:
            return False
        return gap.label is not None and gap.label in self.network_labels

    def is_endpoint(self, gap: Gap) -> bool:
        """The endpoint part (protection, XDR, MDR) addresses this gap."""
        if gap.item in self.endpoint_items:
            return True
        if gap.item in self.network_items:
            return False
        return gap.label is not None and gap.label in self.endpoint_labels


@dataclass(frozen=True, slots=True)
class Recommendation:
    course: Course
    devices: int
    network_size: NetworkSize
    reasons: tuple[Text, ...]
    addressed_gaps: tuple[int, ...]
    remaining_gaps: tuple[int, ...]
    gaps: tuple[Gap, ...] = ()
    network_gaps: tuple[int, ...] = ()

    def to_dict(self, lang: Lang = "ja") -> dict[str, Any]:
        return {
            "course": self.course.id,
            "course_name": self.course.name.get(lang),
            "devices": self.devices,
            "network_size": self.network_size.value,
            "reasons": [r.get(lang) for r in self.reasons],
            "addressed_gaps": list(self.addressed_gaps),
            "remaining_gaps": list(self.remaining_gaps),
            "network_gaps": list(self.network_gaps),
            "gaps": [{**g.to_dict(), "description": g.describe(lang)} for g in self.gaps],
        }


def parse_gaps(gaps: Iterable[object] | None, item_count: int) -> tuple[int, ...]:
    """Open item numbers as sorted unique integers (``"103"`` and ``"No.103"`` are accepted).

    Raises:
        ValidationError: for anything that is not an item number between 1 and item_count.
    """
    return tuple(g.item for g in normalise_gaps(gaps, item_count))


def normalise_gaps(gaps: Iterable[object] | None, item_count: int) -> tuple[Gap, ...]:
    """Open items as :class:`Gap` values sorted by item, one per item (details kept).

    Item numbers (``103``, ``"No.103"``) become gaps without label or level; a number given
    both plain and as a :class:`Gap` keeps the details.

    Raises:
        ValidationError: for anything that is not an item number between 1 and item_count.
    """
    if gaps is None:
        return ()
    if isinstance(gaps, str | bytes):
        raise ValidationError("gaps must be a list of item numbers, not one string")
    out: dict[int, Gap] = {}
    bad: list[str] = []
    for gap in gaps:
        found: Gap | None = None
        if isinstance(gap, Gap):
            found = gap
        elif isinstance(gap, int) and not isinstance(gap, bool):
            found = Gap(gap)
        elif isinstance(gap, str) and (match := _ITEM_NUMBER.match(gap)):
            found = Gap(int(match.group(1)))
        if found is None or not 1 <= found.item <= item_count:
            bad.append(repr(gap.item if isinstance(gap, Gap) else gap))
        elif found.item not in out or out[found.item].label_name is None:
            out[found.item] = found
    if bad:
        raise ValidationError(f"not guideline item numbers (1-{item_count}): {', '.join(bad)}")
    return tuple(out[k] for k in sorted(out))


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
    open_gaps = normalise_gaps(gaps, cover.item_count)
    open_items = tuple(g.item for g in open_gaps)
    network_gap_list = [g for g in open_gaps if cover.is_network(g)]
    network_gaps = [g.item for g in network_gap_list]
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
        reasons.append(_network_gap_reason(network_gap_list))
    level_reason = _level_reason(open_gaps)
    if level_reason is not None:
        reasons.append(level_reason)
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
    addressed = tuple(
        g.item
        for g in open_gaps
        if cover.is_endpoint(g) or (chosen.monitors_network and cover.is_network(g))
    )
    remaining = tuple(g for g in open_items if g not in addressed)
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
        gaps=open_gaps,
        network_gaps=tuple(network_gaps),
    )


def _network_gap_reason(gaps: list[Gap]) -> Text:
    """Name the open network items, grouped by label when the labels are known."""
    by_label: dict[str, tuple[Text | None, list[Gap]]] = {}
    for gap in gaps:
        key = gap.label_name.ja if gap.label_name else ""
        by_label.setdefault(key, (gap.label_name, []))[1].append(gap)
    parts_ja: list[str] = []
    parts_en: list[str] = []
    for name, members in by_label.values():
        numbers = ", ".join(
            f"No.{g.item}" + (f" Lv{g.level}" if g.level is not None else "") for g in members
        )
        parts_ja.append(f"「{name.ja}」{numbers}" if name else numbers)
        parts_en.append(f"{name.en}: {numbers}" if name else numbers)
    return Text(
        f"未対応のネットワーク関連項目（{'、'.join(parts_ja)}）をUTMで改善できます",
        f"open network items ({'; '.join(parts_en)}) are addressed by the UTM",
    )


def _level_reason(gaps: tuple[Gap, ...]) -> Text | None:
    """How many open items per level, when the levels are known (from an assessment)."""
    counts: dict[int, int] = {}
    for gap in gaps:
        if gap.level is not None:
            counts[gap.level] = counts.get(gap.level, 0) + 1
    if not counts:
        return None
    ja = "、".join(f"Lv{lv} {n}件" for lv, n in sorted(counts.items()))
    en = ", ".join(f"Lv{lv}: {n}" for lv, n in sorted(counts.items()))
    lowest = min(counts)
    urgent_ja = "（Lv1は全社が満たすべき基本項目です）" if lowest == 1 else ""
    urgent_en = " (Lv1 is the baseline every company must meet)" if lowest == 1 else ""
    return Text(
        f"自己評価の未対応項目: {ja}{urgent_ja}", f"open items in the assessment: {en}{urgent_en}"
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
    for item in set(network) & set(endpoint):
        reader.error(f"item {item} is listed as both a network and an endpoint item")
    labels: dict[str, tuple[int, ...]] = {}
    for key in ("network_labels", "endpoint_labels"):
        labels[key] = reader.int_list(top, key, "gap coverage") if key in top else ()
        for label in labels[key]:
            if label < 1:
                reader.error(f"{key}: label {label} is not a label number")
    coverage = GapCoverage(
        version=reader.string(top, "version", "gap coverage"),
        item_count=item_count,
        network_items=frozenset(network),
        endpoint_items=frozenset(endpoint),
        network_labels=frozenset(labels["network_labels"]),
        endpoint_labels=frozenset(labels["endpoint_labels"]),
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
    "normalise_gaps",
    "parse_gap_coverage",
    "parse_gaps",
    "recommend_course",
]
