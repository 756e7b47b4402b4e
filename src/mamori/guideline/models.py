"""The catalogue vocabulary: frameworks, labels, levels and items, with their provenance.

A :class:`Framework` is one version of one guideline (JAMA/JAPIA 2.3, METI SCS ...). Items are
identified by a string id (``"143"`` for JAMA No.143, ``"4-4-3-1"`` for a METI criterion); the id
is the join key between a catalogue, an imported check sheet and an assessment. Levels are
cumulative: an item of level 1 belongs to levels 1, 2 and 3, and the top level holds every item,
so an item whose level is not known still belongs to the top level.

Every item says how much is known about it (:class:`ProvenanceStatus`): ``verified`` when its
text came from the official check sheet, ``derived`` when it was reconstructed from public
sources (with the source named), ``unknown`` when only the slot (number, maybe label) is known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from mamori.errors import SourceLocation


class ProvenanceStatus(StrEnum):
    """How much of an item is known, and from where."""

    VERIFIED = "verified"
    DERIVED = "derived"
    UNKNOWN = "unknown"


class LabelSource(StrEnum):
    """How an item's label was established."""

    SHEET = "sheet"  # read from the official check sheet
    SOURCE = "source"  # taken from the derived source (with its confidence)
    CONTIGUITY = "contiguity"  # proven: the nearest items before and after share the label


CONFIDENCES = ("high", "medium", "low")


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where an item's content and label come from."""

    status: ProvenanceStatus
    source: str = ""
    label_source: LabelSource | None = None
    label_confidence: str | None = None
    label_basis: str = ""


@dataclass(frozen=True, slots=True)
class Label:
    """A ラベル: a contiguous block of items with a short theme name."""

    no: int
    name_ja: str
    name_en: str = ""

    def name(self, lang: str = "ja") -> str:
        return self.name_en if lang == "en" and self.name_en else self.name_ja


@dataclass(frozen=True, slots=True)
class LevelDef:
    """One level; ``count`` is how many items this level adds to the one below (if known)."""

    level: int
    count: int | None = None
    name_ja: str = ""
    name_en: str = ""
    description_ja: str = ""
    description_en: str = ""


@dataclass(frozen=True, slots=True)
class Item:
    """One check item (or one item slot whose content is not known)."""

    id: str
    label: int | None
    level: int | None
    provenance: Provenance
    summary_ja: str = ""
    summary_en: str = ""
    requirement: str = ""  # 要求事項, official wording (only from an imported sheet)
    condition: str = ""  # 達成条件, official wording (only from an imported sheet)
    label_candidates: tuple[int, ...] = ()
    level_candidates: tuple[int, ...] = ()
    refs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    location: SourceLocation | None = field(default=None, compare=False)

    @property
    def number(self) -> int | None:
        """The item number when the id is a plain integer (JAMA ``No.``)."""
        return int(self.id) if self.id.isdigit() else None

    @property
    def display_id(self) -> str:
        return f"No.{self.id}" if self.id.isdigit() else self.id

    @property
    def max_level(self) -> int | None:
        """The highest level the item can have, or ``None`` when nothing is known."""
        if self.level is not None:
            return self.level
        if self.level_candidates:
            return max(self.level_candidates)
        return None

    def text(self, lang: str = "ja") -> str:
        """The best text available: official requirement, else own summary, else empty."""
        if self.requirement:
            return self.requirement
        if lang == "en" and self.summary_en:
            return self.summary_en
        return self.summary_ja or self.summary_en


@dataclass(frozen=True, slots=True)
class ProvenanceCounts:
    verified: int
    derived: int
    unknown: int
    level_unknown: int  # items whose level is not definite

    @property
    def total(self) -> int:
        return self.verified + self.derived + self.unknown


@dataclass(frozen=True, slots=True)
class Framework:
    """One version of a guideline with all its items, in catalogue order."""

    id: str
    version: str
    name_ja: str
    name_en: str
    levels: tuple[LevelDef, ...]
    labels: tuple[Label, ...]
    items: tuple[Item, ...]
    labels_contiguous: bool = False
    item_count: int | None = None
    source: str = ""
    notes_ja: str = ""
    notes_en: str = ""
    _by_id: dict[str, Item] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {item.id: item for item in self.items})

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def level_numbers(self) -> tuple[int, ...]:
        return tuple(sorted(lv.level for lv in self.levels))

    @property
    def top_level(self) -> int:
        return max(self.level_numbers)

    def item(self, item_id: str | int) -> Item:
        """The item with this id; raises ``KeyError`` when there is none."""
        return self._index()[str(item_id)]

    def has_item(self, item_id: str | int) -> bool:
        return str(item_id) in self._index()

    def label(self, no: int) -> Label:
        for label in self.labels:
            if label.no == no:
                return label
        raise KeyError(no)

    def _index(self) -> dict[str, Item]:
        return self._by_id

    def items_by_id(self) -> dict[str, Item]:
        return dict(self._by_id)

    def items_in_label(self, no: int) -> list[Item]:
        return [item for item in self.items if item.label == no]

    def items_within_level(self, level: int) -> list[Item]:
        """Items that certainly belong to cumulative ``level`` (all items at the top level)."""
        if level >= self.top_level:
            return list(self.items)
        return [i for i in self.items if i.max_level is not None and i.max_level <= level]

    def items_of_uncertain_level(self, level: int) -> list[Item]:
        """Items that might belong to ``level`` but whose level is not known well enough."""
        if level >= self.top_level:
            return []
        out = []
        for item in self.items:
            if item.max_level is not None and item.max_level <= level:
                continue
            candidates = item.level_candidates or (() if item.level is not None else None)
            if candidates is None or any(c <= level for c in candidates):
                out.append(item)
        return out

    def provenance_counts(self) -> ProvenanceCounts:
        def count(status: ProvenanceStatus) -> int:
            return sum(1 for i in self.items if i.provenance.status is status)

        return ProvenanceCounts(
            verified=count(ProvenanceStatus.VERIFIED),
            derived=count(ProvenanceStatus.DERIVED),
            unknown=count(ProvenanceStatus.UNKNOWN),
            level_unknown=sum(1 for i in self.items if i.level is None),
        )

    def level_gaps(self) -> dict[int, tuple[int, int]]:
        """Per level with a declared count: how many of its items the catalogue has not placed
        yet, as (fewest, most) — items whose level is "1 or 2" may fill either."""
        out: dict[int, tuple[int, int]] = {}
        for lv in self.levels:
            if lv.count is None:
                continue
            definite = sum(1 for i in self.items if i.level == lv.level)
            possible = sum(
                1 for i in self.items if i.level is None and lv.level in i.level_candidates
            )
            most = lv.count - definite
            out[lv.level] = (max(0, most - possible), most)
        return out

    def with_items(self, items: Iterable[Item], **changes: object) -> Framework:
        """A copy with other items (and optionally other fields)."""
        from dataclasses import replace

        return replace(self, items=tuple(items), **changes)  # type: ignore[arg-type]


__all__ = [
    "CONFIDENCES",
    "Framework",
    "Item",
    "Label",
    "LabelSource",
    "LevelDef",
    "Provenance",
    "ProvenanceCounts",
    "ProvenanceStatus",
]
