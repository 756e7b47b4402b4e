"""Roadmap: the open items of the target level, Lv1 first, each tied to what closes it.

The link from items to mamori capabilities and pack services is data
(``catalogue/capabilities.yaml``, validated on load with file and line). Each entry carries an
effort estimate: the assessment's own estimate when given, else the capability's default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from mamori.errors import CatalogueError, SourceLocation
from mamori.guideline.assessment import Assessment, Status
from mamori.guideline.loader import CatalogueValidationError, _parse_yaml
from mamori.guideline.models import Framework, Item
from mamori.guideline.scoring import contradicted

CAPABILITY_KINDS = ("mamori", "service")


@dataclass(frozen=True, slots=True)
class Capability:
    id: str
    kind: str  # mamori | service
    area: str
    name_ja: str
    name_en: str
    items: tuple[str, ...]
    effort_days: float | None = None


@dataclass(frozen=True, slots=True)
class CapabilityMap:
    framework: str
    capabilities: tuple[Capability, ...]

    def for_item(self, item_id: str) -> list[Capability]:
        return [c for c in self.capabilities if item_id in c.items]


@dataclass(frozen=True, slots=True)
class RoadmapEntry:
    item: Item
    status: Status | None
    contradicted: bool
    capabilities: tuple[Capability, ...]
    effort_days: float | None
    owner: str
    due: date | None
    level_uncertain: bool = False

    def to_dict(self, lang: str = "ja") -> dict[str, Any]:
        return {
            "item": self.item.id,
            "level": self.item.level,
            "label": self.item.label,
            "text": self.item.text(lang),
            "provenance": self.item.provenance.status.value,
            "status": self.status.value if self.status else None,
            "contradicted": self.contradicted,
            "capabilities": [
                {
                    "id": c.id,
                    "kind": c.kind,
                    "area": c.area,
                    "name": c.name_en if lang == "en" else c.name_ja,
                }
                for c in self.capabilities
            ],
            "effort_days": self.effort_days,
            "owner": self.owner,
            "due": self.due.isoformat() if self.due else None,
            "level_uncertain": self.level_uncertain,
        }


@dataclass(frozen=True, slots=True)
class Roadmap:
    target_level: int
    entries: tuple[RoadmapEntry, ...]  # items certainly in the target level
    uncertain: tuple[RoadmapEntry, ...]  # open items whose level is not known

    @property
    def total_effort_days(self) -> float:
        return sum(e.effort_days or 0 for e in self.entries)

    def to_dict(self, lang: str = "ja") -> dict[str, Any]:
        return {
            "target_level": self.target_level,
            "open_items": len(self.entries),
            "total_effort_days": self.total_effort_days,
            "entries": [e.to_dict(lang) for e in self.entries],
            "level_uncertain": [e.to_dict(lang) for e in self.uncertain],
        }


def parse_capabilities(
    text: str, *, path: str, framework: Framework | None = None
) -> CapabilityMap:
    """Read a capability map, reporting every problem with its line.

    Raises:
        CatalogueValidationError: unknown keys or kinds, missing names, unknown item numbers.
    """
    data, duplicates = _parse_yaml(text, path)
    problems: list[CatalogueError] = [
        CatalogueError(f"duplicate key {k!r}", location=SourceLocation(path, line))
        for line, k in duplicates
    ]

    def bad(obj: Any, message: str) -> None:
        problems.append(
            CatalogueError(message, location=SourceLocation(path, getattr(obj, "line", None)))
        )

    caps: list[Capability] = []
    if not isinstance(data, dict) or not isinstance(data.get("capabilities"), list):
        bad(data, "expected a mapping with a 'capabilities' list")
        raise CatalogueValidationError(problems, path=path)
    seen: set[str] = set()
    for entry in data["capabilities"]:
        if not isinstance(entry, dict):
            bad(data["capabilities"], f"a capability must be a mapping, not {entry!r}")
            continue
        unknown = set(entry) - {"id", "kind", "area", "name_ja", "name_en", "items", "effort_days"}
        for key in sorted(unknown):
            bad(entry, f"unknown key {key!r} in a capability")
        cid = str(entry.get("id") or "")
        if not cid:
            bad(entry, "capability without id")
        elif cid in seen:
            bad(entry, f"duplicate capability {cid!r}")
        seen.add(cid)
        kind = str(entry.get("kind") or "")
        if kind not in CAPABILITY_KINDS:
            bad(entry, f"capability {cid}: kind must be one of {', '.join(CAPABILITY_KINDS)}")
        if not entry.get("name_ja"):
            bad(entry, f"capability {cid}: name_ja is required")
        items = entry.get("items")
        if not isinstance(items, list) or not items:
            bad(entry, f"capability {cid}: items must be a non-empty list")
            items = []
        ids = tuple(str(i) for i in items)
        if framework is not None:
            for i in ids:
                if not framework.has_item(i):
                    bad(entry, f"capability {cid}: item {i} is not in {framework.key}")
        effort = entry.get("effort_days")
        if effort is not None and (not isinstance(effort, int | float) or effort < 0):
            bad(entry, f"capability {cid}: effort_days must be a number ≥ 0")
            effort = None
        caps.append(
            Capability(
                id=cid,
                kind=kind,
                area=str(entry.get("area") or ""),
                name_ja=str(entry.get("name_ja") or ""),
                name_en=str(entry.get("name_en") or ""),
                items=ids,
                effort_days=float(effort) if effort is not None else None,
            )
        )
    if problems:
        raise CatalogueValidationError(problems, path=path)
    return CapabilityMap(framework=str(data.get("framework") or ""), capabilities=tuple(caps))


def load_capabilities(
    path: str | Path | None = None, *, framework: Framework | None = None
) -> CapabilityMap:
    """The built-in capability map, or one from ``path``."""
    if path is None:
        ref = resources.files("mamori.guideline.catalogue").joinpath("capabilities.yaml")
        return parse_capabilities(
            ref.read_text(encoding="utf-8"), path="<builtin>/capabilities.yaml", framework=framework
        )
    p = Path(path)
    return parse_capabilities(p.read_text(encoding="utf-8"), path=str(p), framework=framework)


def build_roadmap(
    framework: Framework,
    assessment: Assessment,
    *,
    target_level: int | None = None,
    capabilities: CapabilityMap | None = None,
) -> Roadmap:
    """Open items (not 対策完了, not 対象外, or contradicted) of the target level, Lv1 first."""
    level = target_level or assessment.target_level or min(framework.level_numbers)
    caps = capabilities
    if caps is None:
        caps = (
            load_capabilities() if framework.id == "jama-japia" else CapabilityMap(framework.id, ())
        )
    against = contradicted(assessment)

    def entry(item: Item, uncertain: bool) -> RoadmapEntry | None:
        answer = assessment.answer(item.id)
        is_contra = item.id in against
        if answer.status is Status.NOT_APPLICABLE or (
            answer.status is Status.DONE and not is_contra
        ):
            return None
        found = tuple(caps.for_item(item.id))
        defaults = [c.effort_days for c in found if c.effort_days is not None]
        effort = (
            answer.effort_days
            if answer.effort_days is not None
            else (max(defaults) if defaults else None)
        )
        return RoadmapEntry(
            item=item,
            status=answer.status,
            contradicted=is_contra,
            capabilities=found,
            effort_days=effort,
            owner=answer.owner,
            due=answer.due,
            level_uncertain=uncertain,
        )

    def order(e: RoadmapEntry) -> tuple[int, int, int, str]:
        lv = e.item.max_level if e.item.max_level is not None else 99
        n = e.item.number if e.item.number is not None else 10**9
        return (lv, 0 if e.contradicted else 1, n, e.item.id)

    certain = [e for i in framework.items_within_level(level) if (e := entry(i, False))]
    uncertain = [e for i in framework.items_of_uncertain_level(level) if (e := entry(i, True))]
    return Roadmap(
        target_level=level,
        entries=tuple(sorted(certain, key=order)),
        uncertain=tuple(sorted(uncertain, key=order)),
    )


def capability_ids(entries: Sequence[RoadmapEntry]) -> list[str]:
    """The capabilities a roadmap needs, most-needed first."""
    counts: dict[str, int] = {}
    for e in entries:
        for c in e.capabilities:
            counts[c.id] = counts.get(c.id, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))


__all__ = [
    "Capability",
    "CapabilityMap",
    "Roadmap",
    "RoadmapEntry",
    "build_roadmap",
    "capability_ids",
    "load_capabilities",
    "parse_capabilities",
]
