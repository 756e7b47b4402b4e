"""Placeholder values (``%name%`` with the ``expand`` modifier): parsing, files, merging."""

from __future__ import annotations

import pytest

from mamori.detect.engine import SigmaEngine
from mamori.detect.sigma.loader import load_rules
from mamori.detect.sigma.placeholders import (
    MAX_FILE_BYTES,
    from_assignments,
    from_mapping,
    load_placeholder_file,
    merge_placeholders,
    parse_assignment,
    placeholder_name,
)
from mamori.errors import ConfigError

from ..conftest import rule_yaml, sysmon_event  # noqa: TID252 - shared test helpers


def test_names_with_or_without_percent_signs():
    assert placeholder_name("admins") == "admins"
    assert placeholder_name(" %Admins_Workstations% ") == "Admins_Workstations"
    for bad in ("", "%%", "a b", "x;y", "%"):
        with pytest.raises(ConfigError, match="invalid placeholder name"):
            placeholder_name(bad)


def test_assignment_splits_at_the_first_equals_sign():
    assert parse_assignment("admins=root") == ("admins", "root")
    assert parse_assignment("%q%=a=b") == ("q", "a=b")
    assert parse_assignment("empty=") == ("empty", "")
    with pytest.raises(ConfigError, match="not NAME=VALUE"):
        parse_assignment("admins")
    with pytest.raises(ConfigError, match="invalid placeholder name"):
        parse_assignment("=root")


def test_repeated_assignments_collect_values_in_order():
    assert from_assignments(["a=1", "b=x", "a=2"]) == {"a": ["1", "2"], "b": ["x"]}
    assert from_assignments([]) == {}


def test_mapping_takes_scalars_and_lists():
    data = {"admins": ["root", "Administrator"], "%port%": 445, "flag": True, "one": "x"}
    assert from_mapping(data) == {
        "admins": ["root", "Administrator"],
        "port": ["445"],
        "flag": ["true"],
        "one": ["x"],
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a": None}, "no value"),
        ({"a": {"nested": 1}}, "must be text or a number"),
        ({"a": [["x"]]}, "must be text or a number"),
        ({"bad name": "x"}, "invalid placeholder name"),
    ],
)
def test_mapping_refuses_bad_values(data, message):
    with pytest.raises(ConfigError, match=message):
        from_mapping(data)


def test_file_is_read(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text("admins: [root, Administrator]\ndomain_controllers:\n  - DC01\n")
    assert load_placeholder_file(path) == {
        "admins": ["root", "Administrator"],
        "domain_controllers": ["DC01"],
    }
    empty = tmp_path / "empty.yml"
    empty.write_text("")
    assert load_placeholder_file(empty) == {}


def test_file_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.yml"
    with pytest.raises(ConfigError, match="cannot read") as info:
        load_placeholder_file(missing)
    assert str(missing) in str(info.value)

    broken = tmp_path / "broken.yml"
    broken.write_text("admins: [root\nother: x\n")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_placeholder_file(broken)
    assert info.value.location is not None and info.value.location.line is not None

    listing = tmp_path / "list.yml"
    listing.write_text("- root\n- admin\n")
    with pytest.raises(ConfigError, match="must map names to values"):
        load_placeholder_file(listing)

    binary = tmp_path / "bin.yml"
    binary.write_bytes(b"\xff\xfe\x00a")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_placeholder_file(binary)

    huge = tmp_path / "huge.yml"
    huge.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ConfigError, match="too large"):
        load_placeholder_file(huge)


def test_later_sources_replace_a_name():
    merged = merge_placeholders({"a": ["1"], "b": ["2"]}, {"%a%": ["3", "4"]})
    assert merged == {"a": ["3", "4"], "b": ["2"]}


def test_values_reach_the_rule_and_other_placeholders_stay_refused(tmp_path):
    (tmp_path / "users.yml").write_text(
        rule_yaml("sel:\n  User|expand: '%admins%'\ncondition: sel", title="Admins")
    )
    (tmp_path / "hosts.yml").write_text(
        rule_yaml("sel:\n  Computer|expand: '%servers%'\ncondition: sel", title="Servers")
    )
    ruleset = load_rules([tmp_path], placeholders={"admins": ["root", "Admin*"]})
    assert [rule.title for rule in ruleset.rules] == ["Admins"]
    assert len(ruleset.problems) == 1
    reason = ruleset.problems[0].reason
    assert "%servers% has no value" in reason
    assert "--placeholder" in reason
    engine = SigmaEngine(ruleset)
    assert engine.match(sysmon_event({"User": "ROOT"}))
    assert engine.match(sysmon_event({"User": "administrator"}))  # a value is a Sigma string
    assert not engine.match(sysmon_event({"User": "bob"}))


def test_placeholder_values_are_part_of_the_cache_key(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(rule_yaml("sel:\n  User|expand: '%admins%'\ncondition: sel"))
    cache = tmp_path / "cache"
    first = load_rules([rules], cache_dir=cache, placeholders={"admins": ["root"]})
    second = load_rules([rules], cache_dir=cache, placeholders={"admins": ["alice"]})
    assert not second.from_cache or first.digest != second.digest
    engine = SigmaEngine(second)
    assert engine.match(sysmon_event({"User": "alice"}))
    assert not engine.match(sysmon_event({"User": "root"}))
    refused = load_rules([rules], cache_dir=cache)
    assert not refused.rules and "has no value" in refused.problems[0].reason
