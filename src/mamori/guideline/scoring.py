"""Scoring: achievement rate per level (cumulative) and per label.

rate = achieved ÷ applicable, where *applicable* = items in scope minus 対象外 and *achieved* =
対策完了 answers that no automatic check contradicts. 一部対策, 未対策 and unanswered items are
counted separately and never as achieved; a 対策完了 contradicted by a failing check is counted
as ``contradicted`` (also not achieved). ``declared_rate`` is the rate as self-declared.

Level scope follows the catalogue's knowledge: level *n* holds the items whose level is known to
be ≤ *n* (the top level holds every item). Items that *might* belong to a lower level but whose
level is not known are reported as ``level_uncertain`` so nobody mistakes the rate for complete.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from mamori.guideline.assessment import Assessment, Status
from mamori.guideline.models import Framework, Item


@dataclass(frozen=True, slots=True)
class Rate:
    """Counts for one scope (a level or a label)."""

    total: int
    achieved: int
    partial: int
    not_done: int
    unanswered: int
    not_applicable: int
    contradicted: int
    level_uncertain: int = 0

    @property
    def applicable(self) -> int:
        return self.total - self.not_applicable

    @property
    def rate(self) -> float | None:
        """achieved ÷ applicable, or ``None`` when nothing is applicable."""
        return self.achieved / self.applicable if self.applicable else None

    @property
    def declared_rate(self) -> float | None:
        if not self.applicable:
            return None
        return (self.achieved + self.contradicted) / self.applicable

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(applicable=self.applicable, rate=self.rate, declared_rate=self.declared_rate)
        return out


@dataclass(frozen=True, slots=True)
class Score:
    """Rates by level and by label, plus what the catalogue does not know."""

    framework: str
    levels: dict[int, Rate]
    labels: dict[int, Rate]
    unlabelled: Rate  # items whose label is not known (derived catalogue only)
    overall: Rate
    contradicted_items: tuple[str, ...]
    verified: int
    derived: int
    unknown: int
    level_unknown: int
    target_level: int | None = None

    def to_dict(self, framework: Framework | None = None) -> dict[str, Any]:
        labels = {lb.no: lb for lb in framework.labels} if framework else {}
        return {
            "framework": self.framework,
            "target_level": self.target_level,
            "rates_by_level": {str(k): v.rate for k, v in sorted(self.levels.items())},
            "rates_by_label": {str(k): v.rate for k, v in sorted(self.labels.items())},
            "levels": {str(k): v.to_dict() for k, v in sorted(self.levels.items())},
            "labels": {
                str(k): {
                    **v.to_dict(),
                    **(
                        {"name_ja": labels[k].name_ja, "name_en": labels[k].name_en}
                        if k in labels
                        else {}
                    ),
                }
                for k, v in sorted(self.labels.items())
            },
            "unlabelled": self.unlabelled.to_dict(),
            "overall": self.overall.to_dict(),
            "contradicted_items": list(self.contradicted_items),
            "catalogue": {
                "verified": self.verified,
                "derived": self.derived,
                "unknown": self.unknown,
                "level_unknown": self.level_unknown,
                "level_gaps": {
                    str(k): {"fewest": lo, "most": hi}
                    for k, (lo, hi) in (framework.level_gaps() if framework else {}).items()
                },
            },
        }


def contradicted(assessment: Assessment) -> set[str]:
    """Items declared 対策完了 whose automatic check failed."""
    return {
        item_id
        for item_id, record in assessment.checks.items()
        if record.passed is False and assessment.status(item_id) is Status.DONE
    }


def _rate(
    items: Iterable[Item], assessment: Assessment, against: set[str], uncertain: int = 0
) -> Rate:
    counts = dict.fromkeys(("achieved", "partial", "not_done", "unanswered", "na", "contra"), 0)
    total = 0
    for item in items:
        total += 1
        status = assessment.status(item.id)
        if status is Status.DONE:
            counts["contra" if item.id in against else "achieved"] += 1
        elif status is Status.PARTIAL:
            counts["partial"] += 1
        elif status is Status.NOT_DONE:
            counts["not_done"] += 1
        elif status is Status.NOT_APPLICABLE:
            counts["na"] += 1
        else:
            counts["unanswered"] += 1
    return Rate(
        total=total,
        achieved=counts["achieved"],
        partial=counts["partial"],
        not_done=counts["not_done"],
        unanswered=counts["unanswered"],
        not_applicable=counts["na"],
        contradicted=counts["contra"],
        level_uncertain=uncertain,
    )


def score(framework: Framework, assessment: Assessment) -> Score:
    """Score ``assessment`` against ``framework``."""
    against = contradicted(assessment)
    levels = {
        lv: _rate(
            framework.items_within_level(lv),
            assessment,
            against,
            uncertain=len(framework.items_of_uncertain_level(lv)),
        )
        for lv in framework.level_numbers
    }
    labels = {
        lb.no: _rate(framework.items_in_label(lb.no), assessment, against)
        for lb in framework.labels
    }
    unlabelled = _rate((i for i in framework.items if i.label is None), assessment, against)
    counts = framework.provenance_counts()
    return Score(
        framework=framework.key,
        levels=levels,
        labels=labels,
        unlabelled=unlabelled,
        overall=_rate(framework.items, assessment, against),
        contradicted_items=tuple(sorted(against, key=_num)),
        verified=counts.verified,
        derived=counts.derived,
        unknown=counts.unknown,
        level_unknown=counts.level_unknown,
        target_level=assessment.target_level,
    )


def _num(item_id: str) -> tuple[int, str]:
    return (int(item_id), "") if item_id.isdigit() else (10**9, item_id)


def catalogue_notice(framework: Framework, lang: str = "ja") -> str:
    """The plain statement of what the catalogue does not know, and how to fix it."""
    c = framework.provenance_counts()
    if c.derived == 0 and c.unknown == 0:
        if lang == "en":
            return f"All {c.total} items come from the official check sheet."
        return f"全{c.total}項目が公式チェックシート由来です。"
    gaps = {k: v for k, v in framework.level_gaps().items() if v[1] > 0}

    def span(lo: int, hi: int) -> str:
        return str(hi) if lo == hi else f"{lo}–{hi}"

    if lang == "en":
        missing = ", ".join(f"Lv{k}: {span(*v)}" for k, v in gaps.items())
        return (
            f"Of {c.total} items, {c.verified} are verified from the official check sheet, "
            f"{c.derived} are only derived from public sources and {c.unknown} are unknown "
            f"(slot only); {c.level_unknown} have no confirmed level"
            + (f" (not yet placed: {missing})" if missing else "")
            + ". Import the official check sheet (Excel) with `mamori assess import SHEET.xlsx` "
            "to replace them."
        )
    missing = "、".join(f"Lv{k}が{span(*v)}項目" for k, v in gaps.items())
    return (
        f"全{c.total}項目のうち、公式チェックシートで確認済みは{c.verified}項目、"
        f"公開情報からの推定のみが{c.derived}項目、内容不明（枠のみ）が{c.unknown}項目です。"
        f"レベル未確定は{c.level_unknown}項目です"
        + (f"（未確定の内訳：{missing}）" if missing else "")
        + "。公式チェックシート（Excel）を`mamori assess import シート.xlsx` で"
        "取り込むと確定します。"
    )


__all__ = ["Rate", "Score", "catalogue_notice", "contradicted", "score"]
