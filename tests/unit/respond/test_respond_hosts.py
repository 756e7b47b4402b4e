"""Host inventory: first/last seen, unknown-host flags on incidents, isolation state."""

from datetime import timedelta

import pytest

from mamori.errors import ValidationError
from mamori.respond.commands import CommandKind, CommandStatus, EndpointCommand
from mamori.respond.hosts import MemoryHostInventory, isolation_states, normalise_host
from mamori.respond.incidents import UNKNOWN_HOST_TAG
from mamori.respond.intake import AlertIntake
from mamori.respond.repos import MemoryAlertRepo, MemoryIncidentRepo, MemoryTenantDirectory
from mamori.respond.testing import T0, make_alert


def _intake(inventory):
    return AlertIntake(
        alerts=MemoryAlertRepo(),
        incidents=MemoryIncidentRepo(),
        directory=MemoryTenantDirectory({"acme": None}),
        inventory=inventory,
    )


def test_inventory_counts_and_widens():
    inv = MemoryHostInventory()
    assert inv.seen("acme", "PC-01", T0) is False
    assert inv.seen("acme", "pc-01", T0 + timedelta(hours=1)) is True
    assert inv.seen("acme", "pc-01", T0 - timedelta(hours=1)) is True
    assert inv.seen("beta", "pc-01", T0, "inc-1") is False  # per tenant
    assert inv.knows("beta", "PC-01") and not inv.knows("beta", "pc-02")
    assert inv.list(tenant="beta")[0].last_incident_id == "inc-1"
    (rec,) = inv.list(tenant="acme")
    assert (rec.host, rec.alert_count, rec.source) == ("pc-01", 3, "alert")
    assert rec.first_seen == T0 - timedelta(hours=1) and rec.last_seen == T0 + timedelta(hours=1)
    manual = inv.register("acme", " SRV-01 ", T0)
    assert manual.host == "srv-01" and manual.source == "manual" and manual.alert_count == 0
    assert inv.seen("acme", "srv-01", T0) is True
    for bad in ("", "a b", "x" * 300, "<script>"):
        with pytest.raises(ValidationError):
            normalise_host(bad)


def test_alert_from_unknown_host_is_accepted_and_flagged_on_the_incident():
    inv = MemoryHostInventory()
    inv.register("acme", "pc-known", T0)
    intake = _intake(inv)
    known = intake.submit(make_alert("r-1", host="pc-known", event={"User": "ACME\\a"}))
    inc = intake.incidents.get(known.incident_id)
    assert UNKNOWN_HOST_TAG not in inc.tags
    assert not any(e.kind == "note" for e in inc.timeline)

    user_b = {"User": "ACME\\b"}
    first = intake.submit(
        make_alert("r-1", host="pc-new", ts=T0 + timedelta(minutes=1), event=user_b)
    )
    assert first.status == "new_incident"
    assert intake.alerts.get(first.alert_id).unknown_host
    inc = intake.incidents.get(first.incident_id)
    assert UNKNOWN_HOST_TAG in inc.tags
    notes = [e for e in inc.timeline if e.kind == "note"]
    assert len(notes) == 1 and "未登録のホスト pc-new" in notes[0].summary
    # the host is in the inventory now: its next (different) alert is not flagged
    second = intake.submit(
        make_alert("r-2", host="pc-new", ts=T0 + timedelta(minutes=2), event=user_b)
    )
    assert second.status == "grouped" and not intake.alerts.get(second.alert_id).unknown_host
    (rec,) = [h for h in inv.list() if h.host == "pc-new"]
    assert rec.alert_count == 2 and rec.last_incident_id == first.incident_id


def test_unknown_host_alert_grouped_into_an_incident_says_so():
    inv = MemoryHostInventory()
    inv.register("acme", "pc-01", T0)
    intake = _intake(inv)
    user = {"Image": "x", "User": "ACME\\taro"}
    a = intake.submit(make_alert("r-1", host="pc-01", event=user))
    b = intake.submit(make_alert("r-2", host="pc-99", event=user, ts=T0 + timedelta(minutes=1)))
    assert b.status == "grouped" and b.incident_id == a.incident_id
    inc = intake.incidents.get(a.incident_id)
    assert UNKNOWN_HOST_TAG in inc.tags
    assert [e.detail.get("host") for e in inc.timeline if e.kind == "note"] == ["pc-99"]


def test_unknown_tenant_is_quarantined_with_a_reason_not_dropped():
    intake = _intake(MemoryHostInventory())
    result = intake.submit(make_alert(tenant="nobody"))
    assert result.status == "rejected" and "unknown tenant 'nobody'" in result.reason
    (kept,) = intake.alerts.rejected()
    assert kept.payload["tenant"] == "nobody" and kept.reason == result.reason
    assert intake.inventory.list() == [] and intake.incidents.list() == []


def _cmd(kind, status, minutes, host="pc-01", tenant="acme"):
    cmd = EndpointCommand.new(
        tenant=tenant,
        host=host,
        kind=kind,
        args={},
        created_by="sato",
        now=T0 + timedelta(minutes=minutes),
    )
    cmd.status = status
    return cmd


def test_isolation_state_from_the_command_queue():
    iso, rel = CommandKind.ISOLATE_HOST, CommandKind.RELEASE_HOST
    ok, queued, failed = CommandStatus.SUCCEEDED, CommandStatus.QUEUED, CommandStatus.FAILED
    states = isolation_states(
        [
            _cmd(iso, ok, 1, "pc-01"),
            _cmd(iso, queued, 1, "pc-02"),
            _cmd(iso, ok, 1, "pc-03"),
            _cmd(rel, ok, 5, "pc-03"),
            _cmd(iso, ok, 1, "pc-04"),
            _cmd(rel, failed, 5, "pc-04"),  # a failed release leaves it isolated
            _cmd(iso, ok, 1, "pc-05"),
            _cmd(rel, CommandStatus.DELIVERED, 5, "pc-05"),
            _cmd(CommandKind.KILL_PROCESS, ok, 1, "pc-06"),
            _cmd(iso, CommandStatus.EXPIRED, 1, "pc-07"),
        ]
    )
    assert states == {
        ("acme", "pc-01"): "isolated",
        ("acme", "pc-02"): "isolation_pending",
        ("acme", "pc-03"): "released",
        ("acme", "pc-04"): "isolated",
        ("acme", "pc-05"): "release_pending",
    }


def test_inventory_failure_loses_no_alert(caplog):
    class Broken(MemoryHostInventory):
        def seen(self, tenant, host, ts, incident_id=None):
            raise RuntimeError("inventory down")

    intake = _intake(Broken())
    result = intake.submit(make_alert(host="pc-x"))
    assert result.status == "new_incident" and intake.incidents.get(result.incident_id)
    assert "could not record host pc-x" in caplog.text
    again = intake.submit(make_alert(host="pc-x"))
    assert again.status == "duplicate" and again.count == 2
