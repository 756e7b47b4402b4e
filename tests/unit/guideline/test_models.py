from __future__ import annotations

from mamori.guideline.models import Item, Provenance, ProvenanceStatus


def _item(**kw):
    return Item(
        id=kw.pop("id", "5"),
        label=kw.pop("label", 1),
        level=kw.pop("level", None),
        provenance=Provenance(ProvenanceStatus.UNKNOWN),
        **kw,
    )


def test_item_properties():
    item = _item(level_candidates=(1, 2))
    assert item.number == 5 and item.display_id == "No.5"
    assert item.max_level == 2
    assert _item().max_level is None
    assert _item(level=3).max_level == 3
    meti = _item(id="1-1-1-1")
    assert meti.number is None and meti.display_id == "1-1-1-1"


def test_item_text_prefers_official_wording():
    item = _item(summary_ja="要約", summary_en="summary", requirement="公式の要求事項")
    assert item.text() == "公式の要求事項" and item.text("en") == "公式の要求事項"
    item = _item(summary_ja="要約", summary_en="summary")
    assert item.text() == "要約" and item.text("en") == "summary"
    assert _item().text() == ""


def test_framework_lookups(tiny):
    assert tiny.item(1).id == "1" and tiny.has_item("6") and not tiny.has_item(7)
    assert [i.id for i in tiny.items_in_label(2)] == ["4", "5", "6"]
    assert tiny.top_level == 3 and tiny.level_numbers == (1, 2, 3)
    assert [i.id for i in tiny.items_within_level(1)] == ["1", "3", "4"]
    assert [i.id for i in tiny.items_of_uncertain_level(2)] == ["6"]
    assert tiny.items_of_uncertain_level(3) == []
    counts = tiny.provenance_counts()
    assert (counts.derived, counts.unknown, counts.total) == (5, 1, 6)
    assert tiny.label(2).name("en") == "Detection" and tiny.label(2).name() == "検知"
    assert tiny.items_by_id()["3"].summary_ja == "方針を周知する"
