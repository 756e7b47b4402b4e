from datetime import UTC, date, datetime, timedelta

import pytest

from mamori.errors import ValidationError
from mamori.model import Severity
from mamori.respond.models import Actor
from mamori.respond.sla import (
    AlwaysOnCalendar,
    BusinessHoursCalendar,
    SlaContract,
    clocks,
    default_jp_holidays,
    month_bounds,
    monthly_metrics,
    parse_duration,
)
from mamori.respond.slamonitor import SlaMonitor, board
from mamori.respond.testing import T0, make_alert


def jst(*args):
    return datetime(*args, tzinfo=UTC) - timedelta(hours=9)


def test_business_hours_seconds_skip_nights_weekends_holidays():
    cal = BusinessHoursCalendar(holidays=[date(2026, 3, 20)])
    # Thu 17:30 JST -> Mon 9:30 JST, Friday is a holiday: 30 min + 30 min
    assert cal.working_seconds(jst(2026, 3, 19, 17, 30), jst(2026, 3, 23, 9, 30)) == 3600
    assert cal.working_seconds(jst(2026, 3, 21, 10), jst(2026, 3, 21, 12)) == 0  # Saturday
    assert cal.working_seconds(jst(2026, 3, 23, 12), jst(2026, 3, 23, 10)) == 0


def test_business_hours_add_rolls_over_to_next_working_day():
    cal = BusinessHoursCalendar(holidays=[date(2026, 3, 20)])
    assert cal.add(jst(2026, 3, 19, 17, 50), 15 * 60) == jst(2026, 3, 23, 9, 5)
    assert cal.add(jst(2026, 3, 23, 7, 0), 60) == jst(2026, 3, 23, 9, 1)


def test_always_on():
    cal = AlwaysOnCalendar()
    assert cal.add(T0, 60) == T0 + timedelta(minutes=1)
    assert cal.working_seconds(T0, T0 + timedelta(hours=30)) == 30 * 3600


def test_default_holidays_are_package_data():
    days = default_jp_holidays()
    assert date(2026, 1, 1) in days and date(2026, 5, 6) in days


def test_bad_calendars_and_durations():
    with pytest.raises(ValidationError, match="end after"):
        BusinessHoursCalendar(
            start=datetime(2026, 1, 1, 18).time(), end=datetime(2026, 1, 1, 9).time()
        )
    with pytest.raises(ValidationError, match="not a duration"):
        parse_duration("soon")
    with pytest.raises(ValidationError, match="unknown SLA calendar"):
        SlaContract.from_dict({"tenant": "a", "calendar": "lunar"})
    with pytest.raises(ValidationError, match="unknown severity"):
        SlaContract.from_dict({"tenant": "a", "ack": {"urgent": "5m"}})
    with pytest.raises(ValidationError, match="not a date"):
        SlaContract.from_dict({"tenant": "a", "calendar": "business_hours", "holidays": ["x"]})
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration(15) == timedelta(minutes=15)


def contract(calendar="24x7"):
    return SlaContract.from_dict(
        {
            "tenant": "acme",
            "calendar": calendar,
            "ack": {"critical": "15m", "high": "60m"},
            "respond": {"critical": "38m"},
            "escalate_to": ["boss@example.jp"],
        }
    )


def test_clocks_run_stop_and_breach(env, analyst):
    c = contract()
    iid = env.intake.submit(make_alert(level="critical")).incident_id
    inc = env.incidents.get(iid)
    running = {k.kind: k for k in clocks(inc, c, T0 + timedelta(minutes=5))}
    assert running["ack"].state == "running"
    assert running["ack"].remaining_seconds == 600
    assert running["respond"].deadline == T0 + timedelta(minutes=38)
    env.clock.advance(timedelta(minutes=10))
    env.service.acknowledge(iid, analyst)
    env.clock.advance(timedelta(minutes=30))
    env.service.transition(iid, "investigating", analyst)
    inc = env.incidents.get(iid)
    state = {k.kind: k.state for k in clocks(inc, c, env.clock())}
    assert state == {"ack": "met", "respond": "breached"}


def test_business_hours_clock_pauses_overnight(env):
    c = contract("business_hours")
    env.clock.now = jst(2026, 3, 2, 17, 55)  # Monday 17:55 JST
    iid = env.intake.submit(make_alert(level="critical")).incident_id
    inc = env.incidents.get(iid)
    ack = next(k for k in clocks(inc, c, jst(2026, 3, 3, 8, 0)) if k.kind == "ack")
    assert ack.state == "running"
    assert ack.deadline == jst(2026, 3, 3, 9, 10)


def test_monitor_flags_once_and_escalates(env, analyst):
    escalated = []
    monitor = SlaMonitor(
        service=env.service,
        contracts={"acme": contract()},
        escalate=lambda inc, clock, _con: escalated.append((inc.id, clock.kind)),
        clock=env.clock,
    )
    iid = env.intake.submit(make_alert(level="critical")).incident_id
    assert monitor.check() == []
    env.clock.advance(timedelta(minutes=16))
    assert monitor.check() == [(iid, "ack")]
    assert monitor.check() == []
    env.clock.advance(timedelta(minutes=30))
    assert monitor.check() == [(iid, "respond")]
    assert escalated == [(iid, "ack"), (iid, "respond")]
    inc = env.incidents.get(iid)
    assert inc.sla_breaches == ["ack", "respond"]
    assert [e.kind for e in inc.timeline].count("sla_breach") == 2
    rows = board(env.service.list(analyst), {"acme": contract()}, env.clock)
    assert rows[0].breached


def test_failed_escalation_is_recorded(env):
    def boom(*_):
        raise RuntimeError("pager down")

    monitor = SlaMonitor(
        service=env.service, contracts={"acme": contract()}, escalate=boom, clock=env.clock
    )
    iid = env.intake.submit(make_alert(level="critical")).incident_id
    env.clock.advance(timedelta(hours=1))
    monitor.check()
    inc = env.incidents.get(iid)
    assert any(e.kind == "escalation_failed" and "pager down" in e.summary for e in inc.timeline)


def test_monthly_metrics_from_timeline(env, analyst):
    c = contract()
    ids = []
    for i, (ack_after, resp_after) in enumerate([(5, 20), (20, 60), (10, None)]):
        env.clock.now = T0 + timedelta(days=i)
        iid = env.intake.submit(make_alert(f"r-{i}", level="critical", host=f"pc-0{i}")).incident_id
        ids.append(iid)
        env.clock.advance(timedelta(minutes=ack_after))
        env.service.acknowledge(iid, analyst)
        if resp_after:
            env.clock.now = T0 + timedelta(days=i, minutes=resp_after)
            env.service.transition(iid, "resolved", analyst)
    other = env.intake.submit(make_alert(tenant="beta", host="x"))
    assert other.incident_id
    m = monthly_metrics(
        env.incidents.list(),
        tenant="acme",
        year=2026,
        month=3,
        contract=c,
        now=T0 + timedelta(days=2, minutes=11),
    )
    assert m.incidents == 3
    assert m.mtta_seconds == pytest.approx((5 + 20 + 10) * 60 / 3)
    assert m.mttr_seconds == pytest.approx((20 + 60) * 60 / 2)
    assert (m.ack_sla_met, m.ack_sla_total) == (2, 3)
    assert (m.respond_sla_met, m.respond_sla_total) == (1, 2)  # third still running
    assert m.sla_compliance == pytest.approx(3 / 5)
    assert m.by_severity == {"critical": 3}
    assert m.to_dict()["month"] == "2026-03"
    empty = monthly_metrics(env.incidents.list(), tenant="acme", year=2026, month=4, contract=c)
    assert empty.incidents == 0 and empty.mtta_seconds is None and empty.sla_compliance is None


def test_month_bounds_in_jst():
    start, end = month_bounds(2026, 12)
    assert start == jst(2026, 12, 1, 0, 0)
    assert end == jst(2027, 1, 1, 0, 0)
    with pytest.raises(ValidationError):
        month_bounds(2026, 13)


def test_severity_without_target_has_no_clock(env):
    iid = env.intake.submit(make_alert(level="low")).incident_id
    assert clocks(env.incidents.get(iid), contract(), T0) == []
    assert Severity.LOW not in contract().ack
    assert Actor("x").can_access("any")
