from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mamori.guideline.assessment import CheckRecord, new_assessment, set_answer
from mamori.guideline.loader import CatalogueValidationError
from mamori.guideline.roadmap import (
    build_roadmap,
    capability_ids,
    load_capabilities,
    parse_capabilities,
)


def test_builtin_capability_map_is_valid(jama):
    caps = load_capabilities(framework=jama)
    ids = {c.id for c in caps.capabilities}
    assert {"scan-gateways", "detection-logs", "asset-ledger", "training-course"} <= ids
    assert {c.kind for c in caps.capabilities} == {"mamori", "service"}
    for n in range(137, 142):
        assert any(
            c.id == "scan-gateways" or c.id == "endpoint-agent" for c in caps.for_item(str(n))
        )
    for n in (142, 143, 144, 145):
        assert any(c.id == "detection-logs" for c in caps.for_item(str(n)))
    assert any(c.id == "asset-ledger" for c in caps.for_item("60"))


def test_roadmap_order_and_links(jama):
    a = new_assessment(jama, tenant="acme", target_level=2)
    set_answer(a, jama, 1, "対策完了")
    set_answer(a, jama, 5, "対象外", reason="該当者なし")
    set_answer(a, jama, 143, "一部対策", effort_days=4, owner="情シス")
    set_answer(a, jama, 60, "対策完了")
    a.checks["60"] = CheckRecord("60", "inventory", False, datetime.now(UTC))
    r = build_roadmap(jama, a)
    ids = [e.item.id for e in r.entries]
    assert "1" not in ids and "5" not in ids
    levels = [e.item.level or 0 for e in r.entries if e.item.level]
    assert levels == sorted(levels)  # Lv1 first
    assert r.entries[0].item.level == 1
    first_lv1 = [e for e in r.entries if e.item.level == 1]
    assert first_lv1[0].item.id == "60" and first_lv1[0].contradicted  # contradicted first
    e143 = next(e for e in r.entries if e.item.id == "143")
    assert e143.effort_days == 4 and e143.owner == "情シス"
    assert [c.id for c in e143.capabilities] == ["detection-logs"]
    e139 = next(e for e in r.entries if e.item.id == "139")
    assert e139.effort_days == 2  # default from the capability map
    assert not any(e.item.level == 3 for e in r.entries)
    assert len(r.uncertain) == 53  # unknown-level open items listed apart
    assert all(e.level_uncertain for e in r.uncertain)
    assert capability_ids(r.entries)[0] == "policy-consulting"
    d = r.to_dict()
    assert d["target_level"] == 2 and d["entries"][0]["item"] == "60"


def test_roadmap_default_level(tiny):
    a = new_assessment(tiny, tenant="t")
    r = build_roadmap(tiny, a)
    assert r.target_level == 1 and [e.item.id for e in r.entries] == ["1", "3", "4"]


def test_capability_map_errors(jama):
    text = """\
framework: jama-japia
capabilities:
  - id: x
    kind: magic
    items: [999]
    colour: red
  - id: x
    kind: mamori
    name_ja: 重複
    items: []
"""
    with pytest.raises(CatalogueValidationError) as info:
        parse_capabilities(text, path="caps.yaml", framework=jama)
    msgs = "\n".join(str(p) for p in info.value.problems)
    for needle in (
        "kind must be one of",
        "item 999 is not in",
        "unknown key 'colour'",
        "duplicate capability",
        "non-empty",
        "name_ja",
    ):
        assert needle in msgs
    assert "caps.yaml:3" in msgs
