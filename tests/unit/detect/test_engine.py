# ruff: noqa: E501  (tables of rule snippets and events read best on one line)
"""Engine: routing, prefilter (never loses a match), alerts, streaming and batch."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.detect.engine import SigmaEngine
from mamori.detect.sigma.matcher import compile_predicate, prepare
from mamori.model import Severity
from mamori.testing import FakeSink, make_event

from .conftest import T0, rule_yaml, sysmon_event

RULES = [
    rule_yaml(
        "sel:\n  Image|endswith: '\\cmd.exe'\n  CommandLine|contains: '/c'\ncondition: sel",
        title="A",
    ),
    rule_yaml(
        "sel:\n  CommandLine|contains:\n    - 'whoami'\n    - 'net user'\ncondition: sel", title="B"
    ),
    rule_yaml("sel:\n  Image: '*\\p?wershell.exe'\ncondition: sel", title="C"),
    rule_yaml(
        "sel:\n  Image|endswith: '.exe'\nfilter:\n  Image|contains: 'windows'\ncondition: sel and not filter",
        title="D",
    ),
    rule_yaml("sel:\n  IntegrityLevel: High\ncondition: sel", title="E"),
    rule_yaml("kw:\n  - 'mimi'\ncondition: kw", title="F"),
    rule_yaml("sel:\n  CommandLine|re: 'net\\s+user'\ncondition: sel", title="G"),
    rule_yaml("sel:\n  CommandLine|re|i: '(WHOAMI|cmd\\.exe) /c'\ncondition: sel", title="H"),
]


def test_alert_contents(engine_for):
    engine = engine_for(
        rule_yaml(
            "sel:\n  Image|endswith: '\\cmd.exe'\n  CommandLine|contains: '/c'\ncondition: sel",
            extra="tags:\n  - attack.execution\n  - attack.t1059.003\n",
        )
    )
    event = sysmon_event({"Image": "C:\\cmd.exe", "CommandLine": "cmd /c dir", "User": "x"})
    [alert] = engine.match(event, source_file="a.evtx")
    assert alert.rule_id == "6f0a3e4e-0000-4000-8000-000000000001"
    assert alert.rule_title == "Test rule"
    assert alert.level is Severity.HIGH
    assert alert.tags == ("attack.execution", "attack.t1059.003")
    assert alert.attack_ids == ("T1059.003",)
    assert alert.matched == {"Image": "C:\\cmd.exe", "CommandLine": "cmd /c dir"}
    assert alert.event["CommandLine"] == "cmd /c dir"
    assert alert.source_file == "a.evtx"
    assert alert.host == "pc-01"
    sink = FakeSink()
    assert engine.process(event, sink) == 1 and sink.alerts


def test_min_level(engine_for):
    engine = engine_for(rule_yaml("sel:\n  Image: x\ncondition: sel"), min_level="critical")
    assert engine.match(sysmon_event({"Image": "x"})) == []


def _brute_force(engine: SigmaEngine, event) -> set[str]:
    lowered, hay = prepare(event.fields)
    out = set()
    for rule in engine.ruleset.rules:
        for route, ir in rule.variants:
            if (
                "win",
                event.fields["Channel"].lower(),
                event.fields["EventID"],
            ) not in route.route_keys():
                continue
            if compile_predicate(ir)(event.fields, lowered, hay, event.timestamp):
                out.add(rule.title)
    return out


WORDS = [
    "cmd.exe",
    "/c",
    "whoami",
    "net user",
    "powershell.exe",
    "pwershell.exe",
    "windows",
    "High",
    "high",
    "mimi",
    "\\",
    "C:",
    " ",
    "x.exe",
]


@settings(max_examples=150, deadline=None)
@given(
    image=st.lists(st.sampled_from(WORDS), max_size=4).map("".join),
    cmd=st.lists(st.sampled_from(WORDS), max_size=5).map(" ".join),
    level=st.sampled_from(["High", "Low", "", None]),
)
def test_prefilter_never_loses_a_match(tmp_path_factory, image, cmd, level):
    engine = _shared_engine(tmp_path_factory)
    fields = {"Image": image, "CommandLine": cmd}
    if level is not None:
        fields["IntegrityLevel"] = level
    event = sysmon_event(fields)
    got = {a.rule_title for a in engine.match(event)}
    assert got == _brute_force(engine, event)


_ENGINE: dict[str, SigmaEngine] = {}


def _shared_engine(tmp_path_factory) -> SigmaEngine:
    if "e" not in _ENGINE:
        from mamori.detect.sigma.loader import load_rules

        folder = tmp_path_factory.mktemp("engine_rules")
        for i, text in enumerate(RULES):
            (folder / f"r{i}.yml").write_text(text.replace("000000000001", f"00000000010{i}"))
        _ENGINE["e"] = SigmaEngine(load_rules([folder]))
    return _ENGINE["e"]


def test_event_with_odd_values_does_not_break(engine_for):
    engine = engine_for(
        *[t.replace("000000000001", f"00000000020{i}") for i, t in enumerate(RULES)]
    )
    odd = [None, 5, 2.5, True, ["cmd.exe", 1], {"a": {"b": "whoami"}}, b"\x00\xff"]
    rng = random.Random(7)
    for _ in range(50):
        fields = {k: rng.choice(odd) for k in ("Image", "CommandLine", "IntegrityLevel")}
        engine.match(sysmon_event(fields))
    assert engine.stats.errors == 0
    assert "F" in {a.rule_title for a in engine.match(sysmon_event({"X": {"deep": "mimikatz"}}))}


def test_ten_megabyte_field(engine_for):
    engine = engine_for(
        *[t.replace("000000000001", f"00000000030{i}") for i, t in enumerate(RULES)]
    )
    big = "a" * (10 * 1024 * 1024)
    alerts = engine.match(sysmon_event({"Image": "C:\\cmd.exe", "CommandLine": big + " /c"}))
    assert "A" in {a.rule_title for a in alerts}


def test_event_without_channel_uses_data_type(engine_for):
    engine = engine_for(rule_yaml("sel:\n  Image: x\ncondition: sel", logsource="product: windows"))
    from mamori.testing import make_event

    assert engine.match(make_event({"Image": "x"}, data_type="windows:json"))
    assert not engine.match(make_event({"Image": "x"}, data_type="web:apache:access"))
    assert engine.match(make_event({"Image": "x", "Channel": "Anything", "EventID": "12"}))


def test_same_engine_streaming_and_batch(engine_for):
    text = (
        rule_yaml(
            "sel:\n  EventID: 4625\ncondition: sel",
            logsource="product: windows\n  service: security",
            extra="name: failed\n",
        )
        + "---\n"
        "title: Many failures\nid: 6f0a3e4e-0000-4000-8000-0000000000ff\n"
        "correlation:\n  type: event_count\n  rules: [failed]\n  group-by: [IpAddress]\n"
        "  timespan: 5m\n  condition:\n    gte: 3\nlevel: high\n"
    )
    from datetime import timedelta

    from mamori.testing import make_event

    events = [
        make_event(
            {"Channel": "Security", "EventID": 4625, "IpAddress": "10.0.0.9"},
            timestamp=T0 + timedelta(seconds=s),
        )
        for s in (50, 0, 20)  # out of order
    ]
    stream = engine_for(text)
    streamed = [a for e in events for a in stream.match(e)] + stream.flush()
    batch = engine_for(text, defer_correlation=True)
    batched = [a for e in events for a in batch.match(e)]
    assert batched == []  # deferred until flush
    batched += batch.flush()
    assert [a.rule_title for a in streamed] == ["Many failures"]
    assert [a.rule_title for a in batched] == ["Many failures"]
    assert batched[0].matched["count"] == 3


def test_broken_rule_is_disabled_and_reported():
    from mamori.detect.sigma.loader import DetectionRule, RuleSet
    from mamori.detect.sigma.pipelines import Route

    route = Route("windows", channels=("microsoft-windows-sysmon/operational",), event_ids=(1,))
    good = DetectionRule(
        id="good",
        title="Good",
        level="high",
        path="g.yml",
        variants=[(route, ["str", "eq", "Image", "x", False])],
    )
    bad = DetectionRule(
        id="bad", title="Bad", level="high", path="b.yml", variants=[(route, ["bogus"])]
    )
    engine = SigmaEngine(RuleSet(rules=[bad, good]))
    assert [a.rule_id for a in engine.match(sysmon_event({"Image": "x"}))] == ["good"]
    assert [a.rule_id for a in engine.match(sysmon_event({"Image": "x"}))] == ["good"]
    assert engine.stats.errors == 1
    assert any(p.rule_id == "bad" and "disabled" in p.reason for p in engine.problems)


def test_eventid_in_detection_narrows_the_route(engine_for):
    engine = engine_for(
        rule_yaml(
            "sel:\n  EventID:\n    - 4624\n    - 4625\n  LogonType: 3\ncondition: sel",
            logsource="product: windows\n  service: security",
        )
    )
    from mamori.testing import make_event

    keys = {k for k, ids in engine._by_key.items() if ids}
    assert keys == {("win", "security", 4624), ("win", "security", 4625)}
    assert engine.match(make_event({"Channel": "Security", "EventID": "4625", "LogonType": 3}))
    assert not engine.match(make_event({"Channel": "Security", "EventID": 4634, "LogonType": 3}))


def test_a_second_engine_reuses_bytecode_and_analysis_from_the_cache(tmp_path) -> None:
    from mamori.detect.sigma.loader import bundled_rules_dir, load_rules

    ruleset = load_rules([bundled_rules_dir()], cache_dir=tmp_path)
    events = [
        make_event(
            {
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "EventID": 1,
                "Image": "C:\\Windows\\System32\\rundll32.exe",
                "CommandLine": "rundll32 comsvcs.dll, MiniDump 600 out.dmp full",
            },
            data_type="windows:evtx",
        ),
        make_event({"Channel": "Security", "EventID": 1102}, data_type="windows:evtx"),
        make_event({"Channel": "Security", "EventID": 4624}, data_type="windows:evtx"),
    ]
    first = SigmaEngine(ruleset)
    want = [[a.rule_id for a in first.match(e)] for e in events]
    assert first.code_cache.misses > 0
    assert first.save_code_cache() is True

    second = SigmaEngine(load_rules([bundled_rules_dir()], cache_dir=tmp_path))
    assert any(m.analysed for m in second._matchers)  # noqa: SLF001 - restored, not redone
    assert [[a.rule_id for a in second.match(e)] for e in events] == want
    assert second.code_cache.misses == 0 and second.code_cache.hits > 0
    assert sum(len(w) for w in want) >= 2


def test_wants_turns_down_only_events_no_rule_can_match(engine_for):
    engine = engine_for(
        rule_yaml("sel:\n  CommandLine|contains: 'whoami'\ncondition: sel", title="W")
    )
    hit = sysmon_event({"CommandLine": "whoami /all"})
    miss = sysmon_event({"CommandLine": "dir"})
    assert engine.wants(miss.fields)  # a route not met yet: match() decides
    assert engine.match(miss) == []
    before = engine.stats.events
    assert not engine.wants(sysmon_event({"CommandLine": "dir"}).fields)
    assert engine.stats.events == before + 1  # counted as matched, with nothing found
    other = sysmon_event({"CommandLine": "whoami"}, eid=3)
    assert engine.match(other) == []  # no rule for the route at all
    assert not engine.wants(sysmon_event({"CommandLine": "whoami"}, eid=3).fields)
    assert engine.wants(hit.fields)
    [alert] = engine.match(hit)  # goes on with what wants() worked out
    assert alert.rule_title == "W" and alert.matched == {"CommandLine": "whoami /all"}
    # work prepared for other fields is never taken for another event's
    assert engine.wants(sysmon_event({"CommandLine": "whoami"}).fields)
    assert engine.match(miss) == []
    assert [a.rule_title for a in engine.match(hit)] == ["W"]
    assert engine.wants({"Channel": 5, "EventID": "x"})  # not Windows as parsed: match() decides
