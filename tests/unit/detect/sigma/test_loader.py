"""Loading rule folders: every broken rule reported with file and reason, the rest kept."""

from __future__ import annotations

import json

from mamori.detect.engine import SigmaEngine
from mamori.detect.sigma.loader import RuleLoader, bundled_rules_dir, load_rules

from ..conftest import rule_yaml, sysmon_event  # noqa: TID252 - shared test helpers

GOOD = rule_yaml("sel:\n  Image|endswith: '\\good.exe'\ncondition: sel", title="Good")


def _reasons(ruleset):
    return {p.path.rsplit("/", 1)[-1]: p.reason for p in ruleset.problems}


def test_broken_rules_are_reported_and_skipped(tmp_path):
    (tmp_path / "good.yml").write_text(GOOD)
    (tmp_path / "bad_yaml.yml").write_text("title: x\ndetection: [unclosed\n")
    (tmp_path / "bad_modifier.yml").write_text(
        rule_yaml("sel:\n  Image|nosuchmodifier: x\ncondition: sel")
    )
    (tmp_path / "missing_selection.yml").write_text(
        rule_yaml("sel:\n  Image: x\ncondition: sel and other")
    )
    (tmp_path / "bad_regex.yml").write_text(
        rule_yaml("sel:\n  Image|re: '(unclosed'\ncondition: sel")
    )
    (tmp_path / "evil_regex.yml").write_text(
        rule_yaml("sel:\n  Image|re: '(a+)+$'\ncondition: sel")
    )
    (tmp_path / "unmapped.yml").write_text(
        rule_yaml(
            "sel:\n  Image: x\ncondition: sel",
            logsource="product: windows\n  category: file_access",
        )
    )
    (tmp_path / "not_a_rule.yml").write_text("- just\n- a list\n")
    ruleset = load_rules([tmp_path])
    assert [r.title for r in ruleset.rules] == ["Good"]
    reasons = _reasons(ruleset)
    assert "invalid YAML" in reasons["bad_yaml.yml"]
    assert "nosuchmodifier" in reasons["bad_modifier.yml"]
    assert "other" in reasons["missing_selection.yml"]
    assert "invalid" in reasons["bad_regex.yml"] or "does not compile" in reasons["bad_regex.yml"]
    assert "catastrophic" in reasons["evil_regex.yml"]
    assert "cannot be mapped" in reasons["unmapped.yml"]
    assert "file_access" in reasons["unmapped.yml"]
    assert "not a mapping" in reasons["not_a_rule.yml"]
    assert len(ruleset.problems) == 7


def test_unmapped_rule_never_runs(tmp_path):
    (tmp_path / "r.yml").write_text(
        rule_yaml(
            "sel:\n  Image: x\ncondition: sel", logsource="product: windows\n  category: nothing"
        )
    )
    engine = SigmaEngine(load_rules([tmp_path]))
    assert engine.match(sysmon_event({"Image": "x"})) == []


def test_cache_is_json_and_second_load_uses_it(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yml").write_text(GOOD)
    cache = tmp_path / "cache"
    first = RuleLoader(cache_dir=cache).load([rules])
    assert not first.from_cache
    files = list(cache.glob("sigma-*.json"))
    assert len(files) == 1
    json.loads(files[0].read_text())  # plain JSON, never a pickle
    second = RuleLoader(cache_dir=cache).load([rules])
    assert second.from_cache
    assert [r.to_json() for r in second.rules] == [r.to_json() for r in first.rules]
    engine = SigmaEngine(second)
    assert engine.match(sysmon_event({"Image": "C:\\good.exe"}))
    # a changed rule changes the key
    (rules / "good.yml").write_text(GOOD.replace("good.exe", "better.exe"))
    third = RuleLoader(cache_dir=cache).load([rules])
    assert not third.from_cache


def test_corrupt_cache_is_ignored(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yml").write_text(GOOD)
    cache = tmp_path / "cache"
    RuleLoader(cache_dir=cache).load([rules])
    for path in cache.glob("sigma-*.json"):
        path.write_text("{not json")
    again = RuleLoader(cache_dir=cache).load([rules])
    assert not again.from_cache and len(again.rules) == 1


def test_bundled_rules_load_cleanly():
    ruleset = load_rules([bundled_rules_dir()])
    assert not ruleset.problems, [str(p) for p in ruleset.problems]
    assert len(ruleset.rules) >= 10
    assert {c.type for c in ruleset.correlations} >= {"event_count", "value_count"}
    for rule in ruleset.rules:
        assert rule.tags and any(t.startswith("attack.t") for t in rule.tags)


def test_filter_rule_applies(tmp_path):
    (tmp_path / "rule.yml").write_text(
        "title: Whoami\nid: 0e0f0000-0000-4000-8000-000000000002\nname: whoami_rule\n"
        "logsource:\n  product: windows\n  category: process_creation\n"
        "detection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\nlevel: low\n"
    )
    (tmp_path / "filter.yml").write_text(
        "title: Ignore admin box\nid: 0e0f0000-0000-4000-8000-000000000003\n"
        "logsource:\n  product: windows\n  category: process_creation\n"
        "filter:\n  rules:\n    - whoami_rule\n  selection:\n    Computer: admin-box\n"
        "  condition: not selection\n"
    )
    ruleset = load_rules([tmp_path])
    assert not ruleset.problems, [str(p) for p in ruleset.problems]
    engine = SigmaEngine(ruleset)
    assert engine.match(sysmon_event({"Image": "c:\\whoami.exe", "Computer": "pc-1"}))
    assert not engine.match(sysmon_event({"Image": "c:\\whoami.exe", "Computer": "admin-box"}))


def test_correlation_with_unknown_rule_is_reported(tmp_path):
    (tmp_path / "corr.yml").write_text(
        "title: C\nid: 0e0f0000-0000-4000-8000-000000000004\n"
        "correlation:\n  type: event_count\n  rules: [no_such_rule]\n  group-by: [User]\n"
        "  timespan: 5m\n  condition:\n    gte: 3\nlevel: high\n"
    )
    ruleset = load_rules([tmp_path])
    assert not ruleset.correlations
    assert ruleset.problems and "no_such_rule" in ruleset.problems[0].reason
