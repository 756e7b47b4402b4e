"""Correlation windows, group-by, conditions and bounded state."""

from __future__ import annotations

from datetime import timedelta

from mamori.detect.correlate.correlator import Correlator
from mamori.detect.sigma.loader import CorrelationSpec
from mamori.testing import make_event

from ..conftest import T0  # noqa: TID252 - shared test helpers


def spec(**kw):
    base = {
        "id": "c1",
        "title": "C",
        "level": "high",
        "path": "x",
        "type": "event_count",
        "rules": ["r1"],
        "timespan": 300,
        "op": "gte",
        "count": 3,
        "group_by": ["user"],
    }
    base.update(kw)
    return CorrelationSpec(**base)


def ev(seconds, **fields):
    return make_event(fields, timestamp=T0 + timedelta(seconds=seconds))


def feed(corr, items):
    out = []
    for rule, event in items:
        out += corr.feed(rule, event)
    return out


def test_event_count_within_window():
    corr = Correlator([spec()])
    alerts = feed(
        corr, [("r1", ev(0, user="a")), ("r1", ev(100, user="a")), ("r1", ev(200, user="a"))]
    )
    assert len(alerts) == 1 and alerts[0].matched == {"user": "a", "count": 3}
    assert len(alerts[0].events) == 3


def test_event_count_window_expires():
    corr = Correlator([spec()])
    alerts = feed(
        corr, [("r1", ev(0, user="a")), ("r1", ev(100, user="a")), ("r1", ev(390, user="a"))]
    )
    assert alerts == []  # 0 fell out of the window
    alerts = feed(corr, [("r1", ev(395, user="a"))])
    assert len(alerts) == 1  # 100, 390, 395 are within 300 s


def test_group_by_separates():
    corr = Correlator([spec()])
    items = [("r1", ev(i, user="a" if i % 2 else "b")) for i in range(4)]
    assert feed(corr, items) == []
    assert corr.group_count() == 2


def test_other_rules_ignored():
    corr = Correlator([spec()])
    assert feed(corr, [("r2", ev(i, user="a")) for i in range(5)]) == []


def test_value_count():
    corr = Correlator([spec(type="value_count", value_field="target", count=3, group_by=["src"])])
    items = [("r1", ev(i, src="1.2.3.4", target=t)) for i, t in enumerate(["x", "x", "y", "y"])]
    assert feed(corr, items) == []
    alerts = feed(corr, [("r1", ev(10, src="1.2.3.4", target="z"))])
    assert len(alerts) == 1 and alerts[0].matched["distinct target"] == 3


def test_temporal_needs_all_rules_in_window():
    corr = Correlator([spec(type="temporal", rules=["r1", "r2"], count=2, group_by=["host"])])
    assert feed(corr, [("r1", ev(0, host="h")), ("r1", ev(10, host="h"))]) == []
    assert feed(corr, [("r2", ev(500, host="h"))]) == []  # r1 is too old now
    assert len(feed(corr, [("r1", ev(600, host="h"))])) == 1


def test_temporal_ordered():
    corr = Correlator(
        [spec(type="temporal_ordered", rules=["r1", "r2", "r3"], count=3, group_by=[])]
    )
    # wrong order does not fire
    assert feed(corr, [("r3", ev(0)), ("r2", ev(1)), ("r1", ev(2))]) == []
    assert feed(corr, [("r3", ev(3))]) == []  # r2 not after r1 yet
    assert feed(corr, [("r2", ev(4))]) == []
    assert len(feed(corr, [("r3", ev(5))])) == 1


def test_temporal_ordered_respects_timespan():
    corr = Correlator(
        [spec(type="temporal_ordered", rules=["r1", "r2"], count=2, group_by=[], timespan=60)]
    )
    assert feed(corr, [("r1", ev(0)), ("r2", ev(120))]) == []


def test_lt_condition_decided_when_window_closes():
    corr = Correlator([spec(op="lt", count=3)])
    assert feed(corr, [("r1", ev(0, user="a")), ("r1", ev(10, user="a"))]) == []
    alerts = corr.flush()
    assert len(alerts) == 1 and alerts[0].matched["count"] == 2
    corr = Correlator([spec(op="lt", count=2)])
    feed(corr, [("r1", ev(0, user="a")), ("r1", ev(10, user="a"))])
    assert corr.flush() == []


def test_lt_condition_closes_on_later_event():
    corr = Correlator([spec(op="lte", count=1)])
    assert feed(corr, [("r1", ev(0, user="a"))]) == []
    assert len(feed(corr, [("r1", ev(1000, user="a"))])) == 1


def test_state_is_bounded_and_counted():
    corr = Correlator([spec(count=1000)], max_groups=10, max_events=5)
    feed(corr, [("r1", ev(i, user=str(i))) for i in range(50)])
    assert corr.group_count() == 10
    assert corr.stats.groups_evicted == 40
    feed(corr, [("r1", ev(100 + i, user="same")) for i in range(20)])
    assert corr.stats.events_capped == 15


def test_aliases_map_fields_per_rule():
    corr = Correlator(
        [
            spec(
                type="temporal",
                rules=["r1", "r2"],
                count=2,
                group_by=["ip"],
                aliases={"ip": {"r1": "src", "r2": "dst"}},
            )
        ]
    )
    assert feed(corr, [("r1", ev(0, src="1.1.1.1"))]) == []
    assert len(feed(corr, [("r2", ev(5, dst="1.1.1.1"))])) == 1


def test_expired_groups_are_swept():
    corr = Correlator([spec(count=100)], sweep_every=5)
    feed(corr, [("r1", ev(i, user=str(i))) for i in range(4)])
    assert corr.group_count() == 4
    feed(corr, [("r1", ev(10_000, user="late"))])  # 5th match triggers a sweep
    assert corr.group_count() == 1
    assert corr.stats.groups_expired == 4


def test_sweep_decides_at_most_conditions():
    corr = Correlator([spec(op="lt", count=5)], sweep_every=2)
    assert feed(corr, [("r1", ev(0, user="a"))]) == []
    alerts = feed(corr, [("r1", ev(5000, user="b"))])
    assert [a.matched["user"] for a in alerts] == ["a"]


def _json_round_trip(data):
    import json

    return json.loads(json.dumps(data))


def test_open_windows_survive_export_and_restore():
    corr = Correlator([spec()])
    assert feed(corr, [("r1", ev(0, user="a")), ("r1", ev(100, user="a"))]) == []
    feed(corr, [("r1", ev(50, user="b"))])
    state = _json_round_trip(corr.export_state())
    again = Correlator([spec()])
    assert again.restore_state(state) == 2
    alerts = feed(again, [("r1", ev(200, user="a"))])  # the third within 300 s of the first
    assert len(alerts) == 1 and alerts[0].matched == {"user": "a", "count": 3}
    assert len(alerts[0].events) == 3
    assert feed(again, [("r1", ev(400, user="b"))]) == []  # b's window (50) had closed


def test_every_kind_of_window_is_restored():
    kinds = [
        spec(id="vc", type="value_count", value_field="host", count=2),
        spec(id="tm", type="temporal", rules=["r1", "r2"], count=0),
        spec(id="to", type="temporal_ordered", rules=["r1", "r2"], count=0),
    ]
    corr = Correlator(kinds)
    feed(corr, [("r1", ev(0, user="a", host="h1"))])
    again = Correlator(kinds)
    assert again.restore_state(_json_round_trip(corr.export_state())) == 3
    alerts = feed(again, [("r2", ev(10, user="a", host="h2")), ("r1", ev(20, user="a", host="h2"))])
    assert {a.rule_id for a in alerts} == {"vc", "tm", "to"}


def test_state_of_a_changed_or_unknown_correlation_is_dropped():
    corr = Correlator([spec()])
    feed(corr, [("r1", ev(0, user="a"))])
    state = corr.export_state()
    assert Correlator([spec(count=5)]).restore_state(state) == 0
    assert Correlator([spec(id="other")]).restore_state(state) == 0
    assert Correlator([spec(title="Renamed", level="low")]).restore_state(state) == 1


def test_bad_state_is_ignored_and_limits_hold():
    corr = Correlator([spec()])
    for bad in (None, [], {"version": 99}, {"version": 1, "correlations": []}, "x"):
        assert corr.restore_state(bad) == 0
    source = Correlator([spec()])
    feed(source, [("r1", ev(i, user=f"u{i}")) for i in range(5)])
    state = _json_round_trip(source.export_state())
    state["correlations"]["c1"]["groups"][0]["start"] = "not a time"
    state["correlations"]["c1"]["groups"][1] = {"key": "x"}
    small = Correlator([spec()], max_groups=2)
    assert small.restore_state(state) == 2
    assert small.group_count() == 2
