import json
from datetime import timedelta

from mamori.respond.serialize import alert_record_to_dict, incident_from_dict, incident_to_dict
from mamori.respond.testing import make_alert


def test_incident_round_trip_through_json(env, analyst):
    iid = env.intake.submit(
        make_alert(event={"DestinationIp": "203.0.113.1", "User": "u"})
    ).incident_id
    env.clock.advance(timedelta(minutes=3))
    env.service.acknowledge(iid, analyst)
    _, task = env.service.add_task(iid, "調査", analyst)
    env.service.complete_task(iid, task.id, analyst)
    env.service.comment(iid, "メモ", analyst)
    env.service.attach(iid, "a.bin", b"abc", analyst)
    inc = env.incidents.get(iid)
    data = json.loads(json.dumps(incident_to_dict(inc), ensure_ascii=False))
    assert incident_from_dict(data) == inc
    record = env.alerts.get(inc.alert_ids[0])
    assert json.loads(json.dumps(alert_record_to_dict(record)))["count"] == 1
