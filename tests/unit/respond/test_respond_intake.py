from datetime import timedelta

from mamori.respond.events import AlertGrouped, IncidentOpened
from mamori.respond.models import ObservableKind
from mamori.respond.testing import T0, make_alert


def test_alert_storm_becomes_one_alert_with_count(env):
    opened = []
    env.dispatcher.subscribe(IncidentOpened, opened.append)
    for i in range(10_000):
        env.intake.submit(make_alert(ts=T0 + timedelta(milliseconds=6 * i)))
    records = env.alerts.list()
    assert len(records) == 1
    assert records[0].count == 10_000
    assert records[0].last_seen == T0 + timedelta(milliseconds=6 * 9999)
    assert len(env.incidents.list()) == 1
    assert len(opened) == 1
    assert env.intake.stats.duplicates == 9_999
    assert len(env.intake.dedup) == 1


def test_unknown_tenant_is_rejected_and_kept(env):
    result = env.intake.submit(make_alert(tenant="nobody"))
    assert result.status == "rejected"
    assert "unknown tenant 'nobody'" in result.reason
    result = env.intake.submit(make_alert(tenant=None))
    assert result.reason == "alert has no tenant"
    assert [r.reason for r in env.alerts.rejected()] == [
        "unknown tenant 'nobody'",
        "alert has no tenant",
    ]
    assert env.alerts.rejected()[0].payload["rule_id"] == "r-1"
    assert env.incidents.list() == []


def test_malformed_bus_payload_is_rejected(env):
    result = env.intake.submit_dict({"rule_title": "no id"})
    assert result.status == "rejected"
    assert "malformed alert" in result.reason
    assert env.intake.submit_dict(make_alert().to_dict()).status == "new_incident"


def test_unknown_host_is_accepted_and_flagged(env):
    result = env.intake.submit(make_alert(host="rogue-pc"))
    assert result.status == "new_incident"
    record = env.alerts.get(result.alert_id)
    assert record.unknown_host
    incident = env.incidents.get(result.incident_id)
    assert any("未登録のホスト rogue-pc" in e.summary for e in incident.timeline)


def test_related_alerts_grouped_severity_raised(env):
    grouped = []
    env.dispatcher.subscribe(AlertGrouped, grouped.append)
    first = env.intake.submit(make_alert("r-1", level="medium"))
    second = env.intake.submit(
        make_alert(
            "r-2",
            level="critical",
            ts=T0 + timedelta(minutes=5),
            tags=("attack.command-and-control",),
            event={"DestinationIp": "203.0.113.9", "QueryName": "evil.example.com"},
            matched={"DestinationIp": "203.0.113.9"},
        )
    )
    assert second.status == "grouped"
    assert second.incident_id == first.incident_id
    incident = env.incidents.get(first.incident_id)
    assert incident.severity.value == "critical"
    assert incident.alert_count == 2
    assert incident.tactics == ["execution", "command_and_control"]
    assert "203.0.113.9" in incident.observables_of(ObservableKind.IP)
    assert "evil.example.com" in incident.observables_of(ObservableKind.DOMAIN)
    assert "ACME\\taro" in incident.observables_of(ObservableKind.USER)
    assert len(grouped) == 1


def test_other_host_or_late_alert_opens_new_incident(env):
    a = env.intake.submit(make_alert(event={}, matched={}))
    b = env.intake.submit(make_alert("r-2", host="pc-02", event={}, matched={}))
    c = env.intake.submit(make_alert("r-3", ts=T0 + timedelta(hours=2), event={}, matched={}))
    assert len({a.incident_id, b.incident_id, c.incident_id}) == 3


def test_closed_incident_does_not_collect_new_alerts(env, analyst):
    a = env.intake.submit(make_alert())
    env.service.transition(a.incident_id, "false_positive", analyst)
    b = env.intake.submit(make_alert("r-2"))
    assert b.status == "new_incident"
    assert b.incident_id != a.incident_id


def test_out_of_order_duplicate_widens_first_seen(env):
    a = env.intake.submit(make_alert(ts=T0 + timedelta(seconds=30)))
    b = env.intake.submit(make_alert(ts=T0))
    assert b.status == "duplicate" and b.count == 2 and b.incident_id == a.incident_id
    record = env.alerts.get(a.alert_id)
    assert record.first_seen == T0 and record.last_seen == T0 + timedelta(seconds=30)
