from __future__ import annotations

import pytest

from mamori.errors import CatalogueError
from mamori.guideline.loader import (
    CatalogueValidationError,
    dump_catalogue,
    load_catalogue,
    parse_catalogue,
    resolve_framework,
)
from mamori.guideline.models import LabelSource, ProvenanceStatus

LABELS = [
    "方針",
    "機密情報を扱うルール",
    "法令順守",
    "体制(平時)",
    "体制(事故時)",
    "事故時の手順",
    "日常の教育",
    "他社との情報セキュリティ要件",
    "アクセス権",
    "情報資産の管理(情報)",
    "情報資産の管理(機器)",
    "リスク対応",
    "取引内容・手段の把握",
    "外部への接続状況の把握",
    "社内接続ルール",
    "物理セキュリティ",
    "通信制御",
    "認証・認可",
    "パッチやアップデート適用",
    "データ保護",
    "オフィスツール関連",
    "マルウェア対策",
    "不正アクセスの検知",
    "バックアップ・復元",
]


def test_builtin_has_all_labels_and_slots(jama):
    assert [lb.name_ja for lb in jama.labels] == LABELS
    assert [lb.no for lb in jama.labels] == list(range(1, 25))
    assert [i.number for i in jama.items] == list(range(1, 154))
    counts = jama.provenance_counts()
    assert (counts.verified, counts.derived, counts.unknown) == (0, 100, 53)


def test_builtin_known_and_unknown_items(jama, shared_data):
    import csv

    rows = {
        int(r["jama_no"]): r
        for r in csv.DictReader((shared_data / "guideline/jama-items-known.csv").open())
    }
    for item in jama.items:
        row = rows.get(item.number or 0)
        if row is None:
            assert item.provenance.status is ProvenanceStatus.UNKNOWN
            assert item.level is None and not item.summary_ja and not item.summary_en
            assert not item.requirement
        else:
            assert item.provenance.status is ProvenanceStatus.DERIVED
            assert item.provenance.source
            assert item.summary_ja and item.summary_en
            # own words: never the CSV's English paraphrase verbatim
            assert item.summary_en != row["topic_paraphrase_en"]
            if row["level"].isdigit():
                assert item.level == int(row["level"])
            else:
                assert item.level is None
                assert item.level_candidates == tuple(int(x) for x in row["level"].split("-or-"))


def test_builtin_contiguity_reasoning(jama):
    # No.31 lies between No.30 and No.33, both label 7: proven.
    item = jama.item(31)
    assert item.label == 7
    assert item.provenance.label_source is LabelSource.CONTIGUITY
    assert "No.30" in item.provenance.label_basis and "No.33" in item.provenance.label_basis
    # No.8 lies between label 2 and label 3: not provable, candidates kept.
    item = jama.item(8)
    assert item.label is None and item.label_candidates == (2, 3)
    # No.100 ("17 or 20" in the source) is pinned to 17 by its neighbours No.98 and No.101.
    assert jama.item(100).label == 17
    assert jama.item(100).provenance.label_source is LabelSource.CONTIGUITY
    # label 21 only has candidates, but it is possible somewhere in No.130–136
    assert any(21 in jama.item(n).label_candidates for n in range(130, 137))


def test_levels_are_cumulative(jama):
    lv1 = jama.items_within_level(1)
    assert all(i.level == 1 for i in lv1)
    assert len(jama.items_within_level(3)) == 153
    lv2 = {i.id for i in jama.items_within_level(2)}
    assert "36" in lv2  # level "1 or 2" is certainly within level 2
    assert "36" not in {i.id for i in lv1}
    assert "36" in {i.id for i in jama.items_of_uncertain_level(1)}


def test_dump_roundtrip(jama):
    again = parse_catalogue(dump_catalogue(jama), path="again.yaml")
    assert again.items == jama.items
    assert again.labels == jama.labels
    assert again.levels == jama.levels


def _problems(text: str) -> list[str]:
    with pytest.raises(CatalogueValidationError) as info:
        parse_catalogue(text, path="bad.yaml")
    return [str(p) for p in info.value.problems]


def test_missing_label_reported_with_line(tiny_text):
    text = tiny_text.replace("  - {no: 2, name_ja: 検知, name_en: Detection}\n", "")
    problems = _problems(text)
    assert any("missing label 2" in p and p.startswith("bad.yaml:") for p in problems)
    # the items that use label 2 are reported too, each at its own line
    assert any("label 2 is not defined" in p for p in problems)
    lines = [p.split(":")[1] for p in problems if "label 2 is not defined" in p]
    assert len(set(lines)) == len(lines) == 3


def test_duplicate_number_reported_with_line(tiny_text):
    text = tiny_text.replace("  - no: 5\n", "  - no: 4\n")
    problems = _problems(text)
    dup = [p for p in problems if "duplicate item number 4" in p]
    assert len(dup) == 1
    line = int(dup[0].split(":")[1])
    assert tiny_text.splitlines()[line - 1].strip() == "- no: 5"
    assert any("missing item numbers: 5" in p for p in problems)


def test_every_problem_is_reported(tiny_text):
    text = (
        tiny_text.replace("  - {no: 2, name_ja: 検知, name_en: Detection}\n", "")
        .replace("  - no: 5\n", "  - no: 4\n")
        .replace("status: unknown}", "status: unknown, source: x}\n    summary_ja: 創作")
        .replace('version: "1"', 'version: ""')
    )
    problems = _problems(text)
    joined = "\n".join(problems)
    for needle in (
        "missing label 2",
        "duplicate item number 4",
        "unknown item must not carry text",
        "framework.version is required",
    ):
        assert needle in joined
    assert len(problems) >= 5


def test_contiguity_violation(tiny_text):
    text = tiny_text.replace(
        "label: 1\n    level: 1\n    summary_ja: 方針を周知する",
        "label: 2\n    level: 1\n    summary_ja: 方針を周知する",
    )
    text = text.replace(
        "label: 2\n    level: 1\n    summary_ja: ログを取る",
        "label: 1\n    level: 1\n    summary_ja: ログを取る",
    )
    problems = _problems(text)
    assert any("contiguous" in p for p in problems)


def test_bad_contiguity_claim(tiny_text):
    text = tiny_text.replace(
        "  - no: 6\n    label: 2\n    provenance: {status: unknown}",
        "  - no: 6\n    label: 1\n    provenance: {status: unknown, label_source: contiguity}",
    )
    problems = _problems(text)
    assert any("proven by contiguity" in p for p in problems)


def test_level_count_exceeded(tiny_text):
    text = tiny_text.replace("{level: 3, count: 1}", "{level: 3, count: 1}").replace(
        "{level: 2, count: 2}", "{level: 2, count: 1}"
    )
    assert any("more than the 1 declared" in p for p in _problems(text))


def test_yaml_syntax_error_has_line():
    with pytest.raises(CatalogueValidationError) as info:
        parse_catalogue("framework:\n  id: x\n  bad: [1, 2\n", path="s.yaml")
    assert str(info.value.problems[0]).startswith("s.yaml:")


def test_duplicate_key_and_unknown_key(tiny_text):
    text = tiny_text.replace(
        "  name_en: Tiny\n", "  name_en: Tiny\n  name_en: Tiny2\n  colour: red\n"
    )
    problems = _problems(text)
    assert any("duplicate key 'name_en'" in p for p in problems)
    assert any("unknown key 'colour'" in p for p in problems)


def test_not_a_mapping():
    assert _problems("- 1\n- 2\n")


def test_load_catalogue_file(tmp_path, tiny_text):
    path = tmp_path / "c.yaml"
    path.write_text(tiny_text, encoding="utf-8")
    fw = load_catalogue(path)
    assert fw.key == "tiny@1"
    assert resolve_framework(str(path)).key == "tiny@1"
    with pytest.raises(CatalogueError):
        load_catalogue(tmp_path / "missing.yaml")
    with pytest.raises(CatalogueError):
        resolve_framework("jama-japia@9.9")
