"""The response repository protocols: in-memory, SQLite and PostgreSQL pass the same tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest

from mamori.errors import DuplicateError, NotFoundError, ValidationError
from mamori.model import Severity
from mamori.respond.blocklist import BlockEntry, IndicatorKind, MemoryBlocklist
from mamori.respond.breach import BreachTrack, Contact, MemoryBreachRepo
from mamori.respond.commands import (
    CommandKind,
    CommandStatus,
    EndpointCommand,
    MemoryCommandQueue,
)
from mamori.respond.errors import ConflictError
from mamori.respond.incidents import IncidentService, MemoryBlobStore
from mamori.respond.intake import AlertIntake
from mamori.respond.models import (
    Actor,
    AlertRecord,
    Incident,
    IncidentStatus,
    Observable,
    ObservableKind,
    RejectedAlert,
    new_id,
)
from mamori.respond.notify.delivery import DeliveryRecord, MemoryDeliveryRepo
from mamori.respond.oncall import MemoryPageRepo, Page
from mamori.respond.playbooks.engine import MemoryPlaybookRunRepo, PlaybookRun
from mamori.respond.repos import MemoryAlertRepo, MemoryIncidentRepo, MemoryTenantDirectory
from mamori.respond.runner import ActionRecord, ActionStatus, MemoryActionRepo
from mamori.respond.testing import T0, make_alert
from mamori.store.db import Database
from mamori.store.repos import tenants
from mamori.store.repos.respond import RespondStore, from_doc, to_doc


@dataclass
class Repos:
    kind: str
    incidents: Any
    alerts: Any
    directory: Any
    actions: Any
    runs: Any
    deliveries: Any
    pages: Any
    breaches: Any
    commands: Any
    blocklist: Any
    blobs: Any


def _sql(database: Database, kind: str) -> Repos:
    with database.session() as s:
        tenants.create_tenant(s, slug="acme", name="アクメ")
        tenants.create_tenant(s, slug="beta", name="ベータ")
    st = RespondStore(database)
    return Repos(
        kind,
        st.incidents,
        st.alerts,
        st.directory,
        st.actions,
        st.runs,
        st.deliveries,
        st.pages,
        st.breaches,
        st.commands,
        st.blocklist,
        st.blobs,
    )


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.db)])
def repos(request, tmp_path):
    if request.param == "memory":
        yield Repos(
            "memory",
            MemoryIncidentRepo(),
            MemoryAlertRepo(),
            MemoryTenantDirectory({"acme": None, "beta": None}),
            MemoryActionRepo(),
            MemoryPlaybookRunRepo(),
            MemoryDeliveryRepo(),
            MemoryPageRepo(),
            MemoryBreachRepo(),
            MemoryCommandQueue(),
            MemoryBlocklist(),
            MemoryBlobStore(),
        )
        return
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'r.db'}")
    else:
        database = Database(request.getfixturevalue("postgres_url"))
    database.upgrade()
    try:
        yield _sql(database, request.param)
    finally:
        database.dispose()


def _incident(tenant: str = "acme", **kw: Any) -> Incident:
    inc = Incident(
        id=new_id("inc"),
        tenant=tenant,
        title="不審な PowerShell — pc-01",
        severity=Severity.HIGH,
        created_at=T0,
        **kw,
    )
    inc.record(T0, "created", "system", "インシデント作成")
    inc.add_observables([Observable(ObservableKind.IP, "203.0.113.5")])
    return inc


def _record(tenant: str = "acme", **kw: Any) -> AlertRecord:
    alert = make_alert(tenant=tenant)
    values: dict[str, Any] = {
        "id": new_id("alr"),
        "tenant": tenant,
        "rule_id": alert.rule_id,
        "rule_title": alert.rule_title,
        "level": alert.level,
        "host": "pc-01",
        "user": "taro",
        "tags": alert.tags,
        "dedup_key": "k1",
        "first_seen": T0,
        "last_seen": T0,
        "count": 1,
        "sample": alert,
    }
    values.update(kw)
    return AlertRecord(**values)


# -- incidents -------------------------------------------------------------------------------
def test_incident_add_get_roundtrip(repos):
    inc = _incident()
    repos.incidents.add(inc)
    assert inc.version == 1
    got = repos.incidents.get(inc.id)
    assert got == inc
    with pytest.raises(DuplicateError):
        repos.incidents.add(replace(inc))
    with pytest.raises(NotFoundError):
        repos.incidents.get("inc-missing")


def test_incident_save_bumps_version_and_stale_save_conflicts(repos):
    inc = _incident()
    repos.incidents.add(inc)
    a = repos.incidents.get(inc.id)
    b = repos.incidents.get(inc.id)
    a.assignee = "sato"
    repos.incidents.save(a)
    assert a.version == 2
    b.title = "別の変更"
    with pytest.raises(ConflictError):
        repos.incidents.save(b)
    assert b.version == 1  # unchanged: the caller reloads and retries
    stored = repos.incidents.get(inc.id)
    assert (stored.assignee, stored.title, stored.version) == ("sato", inc.title, 2)
    missing = _incident()
    missing.version = 1
    with pytest.raises(NotFoundError):
        repos.incidents.save(missing)


def test_incident_list_filters(repos):
    a = _incident("acme")
    b = _incident("beta")
    c = _incident("acme", status=IncidentStatus.RESOLVED)
    c.created_at = T0 + timedelta(minutes=1)
    d = _incident("acme", merged_into=a.id)
    d.created_at = T0 + timedelta(seconds=30)
    for inc in (a, b, c, d):
        repos.incidents.add(inc)
    assert [i.id for i in repos.incidents.list(tenant="acme")] == [a.id, d.id, c.id]
    assert {i.id for i in repos.incidents.list()} == {a.id, b.id, c.id, d.id}
    assert [i.id for i in repos.incidents.list(tenant="acme", open_only=True)] == [a.id]


def test_two_analysts_at_once_lose_no_update(repos):
    """Two threads each add 10 comments through the service; all 20 are kept."""
    inc = _incident()
    repos.incidents.add(inc)
    service = IncidentService(incidents=repos.incidents, alerts=repos.alerts)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        actor = Actor(name=name)
        try:
            for n in range(10):
                for _ in range(50):
                    try:
                        current = repos.incidents.get(inc.id)
                        service.comment(
                            inc.id, f"{name}-{n}", actor, expected_version=current.version
                        )
                        break
                    except ConflictError:
                        continue
                else:
                    raise AssertionError("too many conflicts")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("sato", "suzuki")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    final = repos.incidents.get(inc.id)
    texts = sorted(c.text for c in final.comments)
    assert texts == sorted(f"{n}-{i}" for n in ("sato", "suzuki") for i in range(10))
    assert final.version == 21


# -- alerts ----------------------------------------------------------------------------------
def test_alert_add_get_save_list(repos):
    r = _record()
    repos.alerts.add(r)
    assert repos.alerts.get(r.id) == r
    with pytest.raises(DuplicateError):
        repos.alerts.add(r)
    r.incident_id = "inc-1"
    repos.alerts.save(r)
    assert repos.alerts.get(r.id).incident_id == "inc-1"
    repos.alerts.add(_record("beta", first_seen=T0 + timedelta(seconds=1)))
    assert [x.id for x in repos.alerts.list(tenant="acme")] == [r.id]
    assert len(repos.alerts.list()) == 2
    with pytest.raises(NotFoundError):
        repos.alerts.get("alr-missing")
    with pytest.raises(NotFoundError):
        repos.alerts.save(_record())


def test_alert_fold_counts_and_widens(repos):
    r = _record(incident_id="inc-9")
    repos.alerts.add(r)
    assert repos.alerts.fold(r.id, T0 + timedelta(minutes=5)) == (2, "inc-9")
    assert repos.alerts.fold(r.id, T0 - timedelta(minutes=1)) == (3, "inc-9")
    got = repos.alerts.get(r.id)
    assert got.count == 3
    assert got.first_seen == T0 - timedelta(minutes=1)
    assert got.last_seen == T0 + timedelta(minutes=5)
    with pytest.raises(NotFoundError):
        repos.alerts.fold("alr-missing", T0)


def test_alert_fold_concurrent_counts_every_duplicate(repos):
    r = _record()
    repos.alerts.add(r)

    def work() -> None:
        for _ in range(50):
            repos.alerts.fold(r.id, T0)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert repos.alerts.get(r.id).count == 201


def test_rejected_alerts_are_kept(repos):
    repos.alerts.reject(RejectedAlert(payload={"x": "壊れた"}, reason="bad", received_at=T0))
    (kept,) = repos.alerts.rejected()
    assert (kept.payload, kept.reason, kept.received_at) == ({"x": "壊れた"}, "bad", T0)


def test_alert_storm_is_one_row(repos):
    """10,000 identical alerts in a minute become one alert record with a count.

    (PostgreSQL runs 1,000 of them: the same statements, a shorter test.)
    """
    storm = 1_000 if repos.kind == "postgres" else 10_000
    intake = AlertIntake(alerts=repos.alerts, incidents=repos.incidents, directory=repos.directory)
    for n in range(storm):
        intake.submit(make_alert(ts=T0 + timedelta(milliseconds=6 * n)))
    (record,) = repos.alerts.list()
    assert record.count == storm
    assert record.last_seen == T0 + timedelta(milliseconds=6 * (storm - 1))
    assert len(repos.incidents.list()) == 1
    assert intake.stats.duplicates == storm - 1


def test_directory_knows_tenants(repos):
    assert repos.directory.has_tenant("acme")
    assert not repos.directory.has_tenant("nobody")
    assert repos.directory.has_host("acme", "PC-01")


def test_unknown_tenant_is_rejected_and_kept(repos):
    intake = AlertIntake(alerts=repos.alerts, incidents=repos.incidents, directory=repos.directory)
    result = intake.submit(make_alert(tenant="nobody"))
    assert result.status == "rejected"
    assert "nobody" in repos.alerts.rejected()[0].reason
    assert repos.alerts.list() == []


# -- documents --------------------------------------------------------------------------------
def test_action_records(repos):
    rec = ActionRecord(
        id=new_id("act"),
        incident_id="inc-1",
        tenant="acme",
        action="isolate_host",
        params={"host": "pc-01"},
        requested_by="sato",
        requested_at=T0,
        approval="manual",
        timeout=30.0,
    )
    repos.actions.add(rec)
    assert repos.actions.get(rec.id) == rec
    rec.status = ActionStatus.SUCCEEDED
    rec.finished_at = T0 + timedelta(seconds=3)
    rec.detail = {"command_id": "cmd-1"}
    repos.actions.save(rec)
    assert repos.actions.get(rec.id) == rec
    assert repos.actions.list(incident_id="inc-1", status="succeeded") == [rec]
    assert repos.actions.list(status="failed") == []
    with pytest.raises(NotFoundError):
        repos.actions.get("act-missing")


def test_playbook_runs(repos):
    run = PlaybookRun(
        id=new_id("run"), playbook="critical", incident_id="inc-1", tenant="acme", started_at=T0
    )
    repos.runs.add(run)
    run.log.append("step 1 ok")
    run.status = "waiting_approval"
    repos.runs.save(run)
    assert repos.runs.get(run.id) == run
    assert repos.runs.find("inc-1", "critical") == run
    assert repos.runs.find("inc-1", "other") is None
    assert repos.runs.list(incident_id="inc-1") == [run]
    with pytest.raises(NotFoundError):
        repos.runs.get("run-missing")


def test_deliveries(repos):
    ok = DeliveryRecord(
        id=new_id("dlv"),
        channel="email",
        target="soc@example.jp",
        tenant="acme",
        kind="incident_opened",
        subject="件名",
        incident_id="inc-1",
        created_at=T0,
        status="delivered",
        attempts=1,
    )
    bad = replace(ok, id=new_id("dlv"), status="failed", attempts=4, errors=["500", "500"])
    repos.deliveries.add(ok)
    repos.deliveries.add(bad)
    assert repos.deliveries.list(status="failed") == [bad]
    assert len(repos.deliveries.list(tenant="acme")) == 2


def test_pages(repos):
    page = Page(
        id=new_id("pg"),
        incident_id="inc-1",
        tenant="acme",
        analyst="sato",
        level=0,
        chain=("sato", "suzuki"),
        sent_at=T0,
        delivered=True,
    )
    repos.pages.add(page)
    page.status = "acknowledged"
    page.acked_at = T0 + timedelta(minutes=2)
    repos.pages.save(page)
    assert repos.pages.get(page.id) == page
    assert repos.pages.list(incident_id="inc-1", status="acknowledged") == [page]
    assert repos.pages.list(status="open") == []


def test_breach_tracks(repos):
    track = BreachTrack(
        incident_id="inc-1",
        tenant="acme",
        aware_at=T0,
        marked_by="sato",
        wrongful_intent=True,
        categories=["wrongful"],
        insurance_contact=Contact(name="保険会社", phone="03-0000-0000"),
    )
    repos.breaches.put(track)
    got = repos.breaches.get("inc-1")
    assert got == track
    assert got.final_due == track.final_due
    track.checklist["facts"] = True
    repos.breaches.put(track)
    assert repos.breaches.list(tenant="acme")[0].checklist["facts"] is True
    assert repos.breaches.list(tenant="beta") == []
    with pytest.raises(NotFoundError):
        repos.breaches.get("inc-none")


# -- command queue --------------------------------------------------------------------------
def _cmd(**kw: Any) -> EndpointCommand:
    values: dict[str, Any] = {
        "tenant": "acme",
        "host": "PC-01",
        "kind": CommandKind.ISOLATE_HOST,
        "args": {},
        "created_by": "sato",
        "now": T0,
    }
    values.update(kw)
    return EndpointCommand.new(**values)


def test_command_queue_lifecycle(repos):
    q = repos.commands
    cmd = q.enqueue(_cmd(incident_id="inc-1"))
    assert q.get(cmd.id).status is CommandStatus.QUEUED
    assert q.pending("acme", "pc-02", T0) == []
    (got,) = q.pending("acme", "PC-01", T0 + timedelta(seconds=1))
    assert got.status is CommandStatus.DELIVERED
    assert q.pending("acme", "pc-01", T0) == []  # delivered once only
    done = q.complete(cmd.id, ok=True, result={"isolated": True}, now=T0 + timedelta(seconds=5))
    assert done.status is CommandStatus.SUCCEEDED
    assert q.get(cmd.id).result == {"isolated": True}
    with pytest.raises(ValidationError):
        q.complete(cmd.id, ok=False, result={}, now=T0)
    with pytest.raises(NotFoundError):
        q.complete("cmd-missing", ok=True, result={}, now=T0)


def test_command_queue_expire_and_cancel(repos):
    q = repos.commands
    old = q.enqueue(_cmd(ttl=timedelta(minutes=5)))
    other = q.enqueue(_cmd(host="pc-02"))
    (expired,) = q.expire(T0 + timedelta(minutes=10))
    assert expired.id == old.id and expired.status is CommandStatus.EXPIRED
    assert q.pending("acme", "pc-01", T0 + timedelta(minutes=10)) == []
    assert q.cancel(other.id, T0).status is CommandStatus.CANCELLED
    assert q.cancel(other.id, T0).status is CommandStatus.CANCELLED


def test_command_delivered_to_one_poller_only(repos):
    q = repos.commands
    ids = {q.enqueue(_cmd()).id for _ in range(20)}
    got: list[str] = []
    lock = threading.Lock()

    def poll() -> None:
        for _ in range(5):
            items = q.pending("acme", "pc-01", T0)
            with lock:
                got.extend(c.id for c in items)

    threads = [threading.Thread(target=poll) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(ids)


# -- blocklist and blobs ----------------------------------------------------------------------
def _entry(tenant: str | None = "acme", value: str = "203.0.113.5", **kw: Any) -> BlockEntry:
    values: dict[str, Any] = {
        "id": new_id("blk"),
        "tenant": tenant,
        "kind": IndicatorKind.IP,
        "value": value,
        "reason": "C2",
        "added_by": "sato",
        "added_at": T0,
    }
    values.update(kw)
    return BlockEntry(**values)


def test_blocklist(repos):
    bl = repos.blocklist
    first = bl.add(_entry())
    assert bl.add(_entry()) == first  # same active entry: no duplicate
    glob = bl.add(_entry(None, "evil.example", kind=IndicatorKind.DOMAIN))
    bl.add(_entry("beta", "198.51.100.1"))
    expired = bl.add(_entry(value="192.0.2.1", expires_at=T0 + timedelta(hours=1)))
    assert {e.id for e in bl.list(tenant="acme")} == {first.id, glob.id, expired.id}
    assert {e.id for e in bl.list(tenant="acme", include_global=False)} == {first.id, expired.id}
    assert expired.id not in {e.id for e in bl.list(tenant="acme", now=T0 + timedelta(hours=2))}
    assert bl.remove(first.id) == first
    with pytest.raises(NotFoundError):
        bl.remove(first.id)


def test_blobs(repos):
    digest = repos.blobs.put("証拠".encode())
    assert repos.blobs.put("証拠".encode()) == digest
    assert repos.blobs.get(digest) == "証拠".encode()
    with pytest.raises(NotFoundError):
        repos.blobs.get("0" * 64)


def test_codec_roundtrip_of_nested_dataclasses():
    track = BreachTrack(
        incident_id="i",
        tenant="t",
        aware_at=T0,
        marked_by="m",
        oem_contact=Contact(name="OEM", reference="S-1"),
        reminders_sent=["preliminary:3"],
    )
    assert from_doc(BreachTrack, to_doc(track)) == track
