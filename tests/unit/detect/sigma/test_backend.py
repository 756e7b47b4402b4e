"""Every Sigma value modifier and condition form, through pySigma and our backend."""

from __future__ import annotations

import base64

import pytest

from ..conftest import rule_yaml  # noqa: TID252 - shared test helpers


@pytest.mark.parametrize(
    ("detection", "fields", "expected"),
    [
        # plain equality is case-insensitive and whole-value
        (
            "sel:\n  Image: 'C:\\Windows\\cmd.exe'\ncondition: sel",
            {"Image": "c:\\windows\\CMD.EXE"},
            True,
        ),
        ("sel:\n  Image: 'cmd.exe'\ncondition: sel", {"Image": "c:\\windows\\cmd.exe"}, False),
        # contains / startswith / endswith
        (
            "sel:\n  CommandLine|contains: 'WHOAMI'\ncondition: sel",
            {"CommandLine": "x whoami /all"},
            True,
        ),
        (
            "sel:\n  CommandLine|startswith: 'net '\ncondition: sel",
            {"CommandLine": "NET user"},
            True,
        ),
        (
            "sel:\n  CommandLine|startswith: 'net '\ncondition: sel",
            {"CommandLine": "a net user"},
            False,
        ),
        ("sel:\n  Image|endswith: '\\net.exe'\ncondition: sel", {"Image": "C:\\x\\NET.exe"}, True),
        (
            "sel:\n  Image|endswith: '\\net.exe'\ncondition: sel",
            {"Image": "C:\\x\\net1.exe"},
            False,
        ),
        # lists are OR, |all is AND
        (
            "sel:\n  Image|endswith: ['\\a.exe', '\\b.exe']\ncondition: sel",
            {"Image": "c:\\b.exe"},
            True,
        ),
        (
            "sel:\n  CommandLine|contains|all: ['-a', '-b']\ncondition: sel",
            {"CommandLine": "x -a"},
            False,
        ),
        (
            "sel:\n  CommandLine|contains|all: ['-a', '-b']\ncondition: sel",
            {"CommandLine": "x -b -a"},
            True,
        ),
        # wildcards and escapes
        (
            "sel:\n  Image: 'C:\\\\*\\cmd.exe'\ncondition: sel",
            {"Image": "C:\\Windows\\System32\\cmd.exe"},
            True,
        ),
        ("sel:\n  Image: 'C:\\*\\cmd.exe'\ncondition: sel", {"Image": "C:*\\cmd.exe"}, True),
        (
            "sel:\n  Image: 'c:\\windows\\cm?.exe'\ncondition: sel",
            {"Image": "C:\\Windows\\cmd.exe"},
            True,
        ),
        (
            "sel:\n  Image: 'c:\\windows\\cm?.exe'\ncondition: sel",
            {"Image": "C:\\Windows\\cmdd.exe"},
            False,
        ),
        ("sel:\n  CommandLine: 'a\\*b'\ncondition: sel", {"CommandLine": "a*b"}, True),
        ("sel:\n  CommandLine: 'a\\*b'\ncondition: sel", {"CommandLine": "axxb"}, False),
        ("sel:\n  CommandLine: 'what\\?'\ncondition: sel", {"CommandLine": "what?"}, True),
        ("sel:\n  CommandLine: 'what\\?'\ncondition: sel", {"CommandLine": "whatx"}, False),
        # cased
        ("sel:\n  CommandLine|cased: 'Secret'\ncondition: sel", {"CommandLine": "Secret"}, True),
        ("sel:\n  CommandLine|cased: 'Secret'\ncondition: sel", {"CommandLine": "secret"}, False),
        (
            "sel:\n  CommandLine|contains|cased: 'AbC'\ncondition: sel",
            {"CommandLine": "xxabcxx"},
            False,
        ),
        # regular expressions and flags (case-sensitive unless |i)
        (
            "sel:\n  CommandLine|re: 'net\\s+user'\ncondition: sel",
            {"CommandLine": "x net  user"},
            True,
        ),
        ("sel:\n  CommandLine|re: 'NET'\ncondition: sel", {"CommandLine": "net"}, False),
        ("sel:\n  CommandLine|re|i: 'NET'\ncondition: sel", {"CommandLine": "net"}, True),
        ("sel:\n  CommandLine|re|m: '^b$'\ncondition: sel", {"CommandLine": "a\nb\nc"}, True),
        ("sel:\n  CommandLine|re: 'a.b'\ncondition: sel", {"CommandLine": "a\nb"}, False),
        ("sel:\n  CommandLine|re|s: 'a.b'\ncondition: sel", {"CommandLine": "a\nb"}, True),
        # base64 / base64offset
        (
            "sel:\n  CommandLine|base64: 'hello'\ncondition: sel",
            {"CommandLine": base64.b64encode(b"hello").decode()},
            True,
        ),
        (
            "sel:\n  CommandLine|base64offset|contains: 'http://'\ncondition: sel",
            {"CommandLine": "-e " + base64.b64encode(b"xx http://evil").decode()},
            True,
        ),
        # utf16le / wide / utf16be / utf16 combined with base64offset
        (
            "sel:\n  CommandLine|wide|base64offset|contains: 'ping'\ncondition: sel",
            {"CommandLine": base64.b64encode("a ping".encode("utf-16-le")).decode()},
            True,
        ),
        (
            "sel:\n  CommandLine|utf16le|base64offset|contains: 'ping'\ncondition: sel",
            {"CommandLine": base64.b64encode("ping".encode("utf-16-le")).decode()},
            True,
        ),
        (
            "sel:\n  CommandLine|utf16be|base64offset|contains: 'ping'\ncondition: sel",
            {"CommandLine": base64.b64encode("ping".encode("utf-16-be")).decode()},
            True,
        ),
        (
            "sel:\n  CommandLine|utf16|base64offset|contains: 'ping'\ncondition: sel",
            {"CommandLine": base64.b64encode("ping".encode("utf-16")).decode()},
            True,
        ),
        # windash: - / en dash / em dash / horizontal bar
        (
            "sel:\n  CommandLine|windash|contains: ' -enc '\ncondition: sel",
            {"CommandLine": "ps /enc x"},
            True,
        ),
        (
            "sel:\n  CommandLine|windash|contains: ' -enc '\ncondition: sel",
            {"CommandLine": "ps \u2013enc x"},
            True,
        ),
        # cidr
        (
            "sel:\n  DestinationIp|cidr: '10.0.0.0/8'\ncondition: sel",
            {"DestinationIp": "10.1.2.3"},
            True,
        ),
        (
            "sel:\n  DestinationIp|cidr: '10.0.0.0/8'\ncondition: sel",
            {"DestinationIp": "11.1.2.3"},
            False,
        ),
        (
            "sel:\n  DestinationIp|cidr: 'fe80::/10'\ncondition: sel",
            {"DestinationIp": "fe80::1"},
            True,
        ),
        (
            "sel:\n  DestinationIp|cidr: '10.0.0.0/8'\ncondition: sel",
            {"DestinationIp": "not-an-ip"},
            False,
        ),
        # exists
        ("sel:\n  ParentImage|exists: true\ncondition: sel", {"ParentImage": "x"}, True),
        ("sel:\n  ParentImage|exists: false\ncondition: sel", {"Image": "x"}, True),
        ("sel:\n  ParentImage|exists: false\ncondition: sel", {"ParentImage": "x"}, False),
        # numeric comparisons, numbers against text
        ("sel:\n  LogonType|gt: 3\ncondition: sel", {"LogonType": 10}, True),
        ("sel:\n  LogonType|gte: 3\ncondition: sel", {"LogonType": "3"}, True),
        ("sel:\n  LogonType|lt: 3\ncondition: sel", {"LogonType": 3}, False),
        ("sel:\n  LogonType|lte: 3\ncondition: sel", {"LogonType": 2}, True),
        ("sel:\n  LogonType|gt: 3\ncondition: sel", {"LogonType": "abc"}, False),
        ("sel:\n  LogonType: 3\ncondition: sel", {"LogonType": "3"}, True),
        ("sel:\n  LogonType: 3\ncondition: sel", {"LogonType": 3}, True),
        # fieldref (with startswith/endswith)
        (
            "sel:\n  Image|fieldref: ParentImage\ncondition: sel",
            {"Image": "A.exe", "ParentImage": "a.EXE"},
            True,
        ),
        (
            "sel:\n  Image|fieldref: ParentImage\ncondition: sel",
            {"Image": "a.exe", "ParentImage": "b.exe"},
            False,
        ),
        ("sel:\n  Image|fieldref: ParentImage\ncondition: sel", {"Image": "a.exe"}, False),
        (
            "sel:\n  Image|fieldref|endswith: ParentImage\ncondition: sel",
            {"Image": "c:\\a.exe", "ParentImage": "a.exe"},
            True,
        ),
        # null
        ("sel:\n  ParentImage: null\ncondition: sel", {"Image": "x"}, True),
        ("sel:\n  ParentImage: null\ncondition: sel", {"ParentImage": ""}, True),
        ("sel:\n  ParentImage: null\ncondition: sel", {"ParentImage": "x"}, False),
        # empty string
        ("sel:\n  ParentImage: ''\ncondition: sel", {"ParentImage": ""}, True),
        ("sel:\n  ParentImage: ''\ncondition: sel", {"ParentImage": "x"}, False),
        # booleans
        ("sel:\n  Elevated: true\ncondition: sel", {"Elevated": True}, True),
        ("sel:\n  Elevated: true\ncondition: sel", {"Elevated": "false"}, False),
    ],
)
def test_modifiers(matches, detection, fields, expected):
    assert matches(detection, fields) is expected


@pytest.mark.parametrize(
    ("condition", "fields", "expected"),
    [
        ("a and b", {"Image": "x.exe", "User": "bob"}, True),
        ("a and b", {"Image": "x.exe"}, False),
        ("a or b", {"User": "bob"}, True),
        ("a and not b", {"Image": "x.exe", "User": "bob"}, False),
        ("a and not b", {"Image": "x.exe", "User": "eve"}, True),
        ("not a", {"Image": "y.exe"}, True),
        ("(a or b) and c", {"User": "bob", "CommandLine": "go"}, True),
        ("(a or b) and c", {"User": "bob"}, False),
        ("1 of sel_*", {"CommandLine": "two"}, True),
        ("all of sel_*", {"CommandLine": "one two"}, True),
        ("all of sel_*", {"CommandLine": "one"}, False),
        ("1 of them", {"User": "bob"}, True),
        ("all of them", {"Image": "x.exe", "User": "bob", "CommandLine": "go one two"}, True),
        ("all of them", {"Image": "x.exe", "User": "bob"}, False),
        ("a and not 1 of sel_*", {"Image": "x.exe", "CommandLine": "zzz"}, True),
    ],
)
def test_condition_forms(matches, condition, fields, expected):
    detection = f"""
    a:
      Image|endswith: 'x.exe'
    b:
      User: bob
    c:
      CommandLine|contains: go
    sel_1:
      CommandLine|contains: one
    sel_2:
      CommandLine|contains: two
    condition: {condition}
    """
    assert matches(detection, fields) is expected


def test_selection_list_of_maps_is_or(matches):
    detection = """
    sel:
      - Image|endswith: a.exe
      - CommandLine|contains: zz
    condition: sel
    """
    assert matches(detection, {"CommandLine": "zz"})
    assert matches(detection, {"Image": "c:\\a.exe"})
    assert not matches(detection, {"Image": "c:\\b.exe"})


def test_keywords_search_every_field(matches):
    detection = """
    keywords:
      - 'mimikatz'
      - 'sekurlsa*logonpasswords'
    condition: keywords
    """
    assert matches(detection, {"CommandLine": "run MIMIKATZ now"})
    assert matches(detection, {"Other": "x sekurlsa::logonpasswords y"})
    assert not matches(detection, {"CommandLine": "benign"})


def test_keywords_with_field_selection(matches):
    detection = """
    keywords:
      - 'evil'
    sel:
      Image|endswith: 'x.exe'
    condition: keywords and sel
    """
    assert matches(detection, {"Image": "x.exe", "CommandLine": "an evil thing"})
    assert not matches(detection, {"Image": "y.exe", "CommandLine": "an evil thing"})


def test_expand_placeholder_without_value_is_refused(load_text):
    text = rule_yaml("sel:\n  User|expand: '%admins%'\ncondition: sel")
    ruleset = load_text(text)
    assert not ruleset.rules
    assert "placeholder" in ruleset.problems[0].reason


def test_expand_placeholder_with_values(tmp_path):
    from mamori.detect.engine import SigmaEngine
    from mamori.detect.sigma.loader import load_rules

    from ..conftest import sysmon_event  # noqa: TID252 - shared test helpers

    (tmp_path / "r.yml").write_text(rule_yaml("sel:\n  User|expand: '%admins%'\ncondition: sel"))
    ruleset = load_rules([tmp_path], placeholders={"admins": ["root", "Administrator"]})
    assert not ruleset.problems
    engine = SigmaEngine(ruleset)
    assert engine.match(sysmon_event({"User": "administrator"}))
    assert not engine.match(sysmon_event({"User": "bob"}))


def test_timestamp_part_modifier(engine_for):
    from ..conftest import T0, sysmon_event  # noqa: TID252 - shared test helpers

    engine = engine_for(rule_yaml("sel:\n  Image: x\n  '@timestamp|hour': 12\ncondition: sel"))
    assert engine.match(sysmon_event({"Image": "x"}, ts=T0))
    assert not engine.match(sysmon_event({"Image": "x"}, ts=T0.replace(hour=3)))
