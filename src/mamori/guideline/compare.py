"""Compare two assessments of the same framework: what improved, what regressed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mamori.errors import ValidationError
from mamori.guideline.assessment import Assessment, Status
from mamori.guideline.models import Framework
from mamori.guideline.scoring import score


@dataclass(frozen=True, slots=True)
class Change:
    item_id: str
    before: Status | None
    after: Status | None


@dataclass(frozen=True, slots=True)
class Comparison:
    improved: tuple[Change, ...]  # 未対策 → 一部対策 → 対策完了 (or unanswered → answered better)
    regressed: tuple[Change, ...]
    changed: tuple[Change, ...]  # to or from 対象外, or answered → unanswered
    unchanged: int
    level_deltas: dict[int, float | None]
    label_deltas: dict[int, float | None]

    def to_dict(self) -> dict[str, Any]:
        def ch(c: Change) -> dict[str, Any]:
            return {
                "item": c.item_id,
                "before": c.before.value if c.before else None,
                "after": c.after.value if c.after else None,
            }

        return {
            "improved": [ch(c) for c in self.improved],
            "regressed": [ch(c) for c in self.regressed],
            "changed": [ch(c) for c in self.changed],
            "unchanged": self.unchanged,
            "rate_deltas_by_level": {str(k): v for k, v in sorted(self.level_deltas.items())},
            "rate_deltas_by_label": {str(k): v for k, v in sorted(self.label_deltas.items())},
        }


def _classify(before: Status | None, after: Status | None) -> str:
    if before == after:
        return "unchanged"
    if Status.NOT_APPLICABLE in (before, after) or after is None:
        return "changed"
    if before is None:
        return "improved" if after in (Status.DONE, Status.PARTIAL) else "changed"
    return "improved" if after.rank > before.rank else "regressed"


def compare(
    framework_a: Framework, a: Assessment, framework_b: Framework, b: Assessment
) -> Comparison:
    """What changed from ``a`` (earlier) to ``b`` (later).

    Raises:
        ValidationError: the assessments are of different frameworks or tenants.
    """
    if a.framework_id != b.framework_id:
        raise ValidationError(
            f"cannot compare {a.framework_key} with {b.framework_key}: different frameworks"
        )
    if a.tenant != b.tenant:
        raise ValidationError("cannot compare assessments of different tenants")
    ids = [i.id for i in framework_b.items]
    ids += [i.id for i in framework_a.items if not framework_b.has_item(i.id)]
    buckets: dict[str, list[Change]] = {"improved": [], "regressed": [], "changed": []}
    unchanged = 0
    for item_id in ids:
        before, after = a.status(item_id), b.status(item_id)
        kind = _classify(before, after)
        if kind == "unchanged":
            unchanged += 1
        else:
            buckets[kind].append(Change(item_id, before, after))
    sa, sb = score(framework_a, a), score(framework_b, b)

    def delta(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None else y - x

    return Comparison(
        improved=tuple(buckets["improved"]),
        regressed=tuple(buckets["regressed"]),
        changed=tuple(buckets["changed"]),
        unchanged=unchanged,
        level_deltas={
            lv: delta(sa.levels[lv].rate, sb.levels[lv].rate) for lv in sb.levels if lv in sa.levels
        },
        label_deltas={
            lb: delta(sa.labels[lb].rate, sb.labels[lb].rate) for lb in sb.labels if lb in sa.labels
        },
    )


__all__ = ["Change", "Comparison", "compare"]
