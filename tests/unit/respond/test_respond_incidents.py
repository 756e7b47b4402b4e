import hashlib
from datetime import timedelta

import pytest

from mamori.errors import NotFoundError, PermissionDeniedError, ValidationError
from mamori.respond.errors import ConflictError, InvalidTransitionError
from mamori.respond.models import Actor, IncidentStatus
from mamori.respond.testing import T0, make_alert


def _incident(env, **kw):
    return env.intake.submit(make_alert(**kw)).incident_id


def test_status_machine_happy_path(env, analyst):
    iid = _incident(env)
    for status in ("acknowledged", "investigating", "contained", "resolved"):
        env.clock.advance(timedelta(minutes=1))
        inc = env.service.transition(iid, status, analyst)
    assert inc.status is IncidentStatus.RESOLVED
    assert inc.assignee == "sato"
    kinds = [(e.kind, e.detail.get("new")) for e in inc.timeline if e.kind == "status"]
    assert [k[1] for k in kinds] == ["acknowledged", "investigating", "contained", "resolved"]


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ((), "contained"),
        ((), "resolved"),
        (("acknowledged",), "new"),
        (("acknowledged", "investigating", "contained"), "false_positive"),
        (("false_positive",), "investigating"),
        (("acknowledged", "resolved"), "acknowledged"),
    ],
)
def test_invalid_transitions_are_refused(env, analyst, path, bad):
    iid = _incident(env)
    for status in path:
        env.service.transition(iid, status, analyst)
    before = env.incidents.get(iid)
    with pytest.raises(InvalidTransitionError, match="is not allowed"):
        env.service.transition(iid, bad, analyst)
    after = env.incidents.get(iid)
    assert after.version == before.version
    assert after.status == before.status


def test_unknown_status_is_a_validation_error(env, analyst):
    iid = _incident(env)
    with pytest.raises(ValidationError, match="unknown status 'done'"):
        env.service.transition(iid, "done", analyst)


def test_two_analysts_at_once_no_lost_update(env, analyst, analyst2):
    iid = _incident(env)
    seen_by_a = env.service.get(iid, analyst)
    seen_by_b = env.service.get(iid, analyst2)
    env.service.assign(iid, "sato", analyst, expected_version=seen_by_a.version)
    with pytest.raises(ConflictError, match="changed by someone else"):
        env.service.set_severity(iid, "low", analyst2, expected_version=seen_by_b.version)
    current = env.service.get(iid, analyst2)
    assert current.assignee == "sato"
    assert current.severity.value == "high"
    # retry on the fresh version succeeds and keeps the first change
    env.service.set_severity(iid, "low", analyst2, expected_version=current.version)
    final = env.service.get(iid, analyst)
    assert (final.assignee, final.severity.value, final.severity_overridden) == (
        "sato",
        "low",
        True,
    )


def test_repo_refuses_stale_copy(env):
    iid = _incident(env)
    a = env.incidents.get(iid)
    b = env.incidents.get(iid)
    a.title = "A"
    env.incidents.save(a)
    b.title = "B"
    with pytest.raises(ConflictError):
        env.incidents.save(b)
    assert env.incidents.get(iid).title == "A"


def test_customer_of_other_tenant_cannot_see_or_act(env):
    iid = _incident(env)  # tenant acme
    intruder = Actor.customer("mallory", "beta")
    with pytest.raises(NotFoundError):
        env.service.get(iid, intruder)
    with pytest.raises(NotFoundError):
        env.service.comment(iid, "hello", intruder)
    with pytest.raises(NotFoundError):
        env.service.transition(iid, "acknowledged", intruder)
    assert env.service.list(intruder) == []
    with pytest.raises(NotFoundError):
        env.service.list(intruder, tenant="acme")
    assert env.incidents.get(iid).comments == []


def test_own_customer_may_comment_not_change_status(env):
    iid = _incident(env)
    customer = Actor.customer("yamada", "acme")
    inc = env.service.comment(iid, "PCを確認しました", customer)
    assert inc.comments[0].author == "yamada"
    with pytest.raises(PermissionDeniedError):
        env.service.transition(iid, "acknowledged", customer)


def test_tasks_comments_attachments_on_timeline(env, analyst):
    iid = _incident(env)
    _, task = env.service.add_task(iid, "ログ保全", analyst, assignee="sato")
    env.service.complete_task(iid, task.id, analyst)
    with pytest.raises(ValidationError, match="already done"):
        env.service.complete_task(iid, task.id, analyst)
    with pytest.raises(NotFoundError):
        env.service.complete_task(iid, "tsk-nope", analyst)
    with pytest.raises(ValidationError):
        env.service.comment(iid, "   ", analyst)
    data = b"evidence bytes"
    inc, att = env.service.attach(iid, "../memdump.bin", data, analyst)
    assert att.sha256 == hashlib.sha256(data).hexdigest()
    assert att.name == ".._memdump.bin"
    assert env.service.blobs.get(att.sha256) == data
    kinds = [e.kind for e in inc.timeline]
    assert kinds[:2] == ["created", "alert"]
    assert {"task", "task_done", "attachment"} <= set(kinds)
    assert inc.timeline[-1].detail["sha256"] == att.sha256


def test_merge_split_link(env, analyst):
    a = _incident(env, event={}, matched={})
    b = _incident(env, rule_id="r-2", host="pc-02", level="critical", event={}, matched={})
    merged = env.service.merge(a, [b], analyst)
    assert merged.alert_count == 2
    assert sorted(merged.hosts) == ["pc-01", "pc-02"]
    assert merged.severity.value == "critical"
    assert env.incidents.get(b).merged_into == a
    assert [i.id for i in env.service.list(analyst, open_only=True)] == [a]
    with pytest.raises(ValidationError, match="merged into"):
        env.service.comment(b, "x", analyst)
    # a new alert on pc-02 now lands on the merged incident
    r = env.intake.submit(make_alert("r-9", host="pc-02", ts=T0 + timedelta(minutes=1)))
    assert r.incident_id == a

    moving = [aid for aid in env.incidents.get(a).alert_ids if env.alerts.get(aid).host == "pc-02"]
    old, new = env.service.split(a, moving, analyst)
    assert old.hosts == ["pc-01"]
    assert new.hosts == ["pc-02"]
    assert new.id in old.links and a in new.links
    assert all(env.alerts.get(x).incident_id == new.id for x in moving)
    with pytest.raises(ValidationError, match="at least one alert"):
        env.service.split(a, old.alert_ids, analyst)
    with pytest.raises(ValidationError, match="not on it"):
        env.service.split(a, ["alr-x"], analyst)

    c = _incident(env, rule_id="r-5", host="srv-01", event={}, matched={})
    x, y = env.service.link(a, c, analyst)
    assert c in x.links and a in y.links
    other = _incident(env, tenant="beta", host="h", event={}, matched={})
    with pytest.raises(ValidationError, match="same tenant"):
        env.service.link(a, other, analyst)
    with pytest.raises(ValidationError, match="different tenants"):
        env.service.merge(a, [other], analyst)


def test_file_blob_store(tmp_path):
    from mamori.respond.incidents import FileBlobStore

    store = FileBlobStore(tmp_path / "blobs")
    digest = store.put(b"evidence")
    assert store.put(b"evidence") == digest
    assert store.get(digest) == b"evidence"
    assert (tmp_path / "blobs" / digest[:2] / digest[2:4] / digest).exists()
    with pytest.raises(NotFoundError):
        store.get("0" * 64)
    with pytest.raises(NotFoundError):
        store.get("../../etc/passwd")
    (tmp_path / "blobs" / digest[:2] / digest[2:4] / digest).write_bytes(b"tampered")
    with pytest.raises(ValidationError, match="corrupt"):
        store.get(digest)


def test_concurrent_intake_and_analysts_lose_nothing(env, analyst):
    import threading

    iid = env.intake.submit(make_alert(event={}, matched={})).incident_id
    errors = []

    def feed():
        for i in range(200):
            env.intake.submit(
                make_alert(f"x-{i}", ts=T0 + timedelta(seconds=i), event={}, matched={})
            )

    def comment():
        for i in range(50):
            try:
                env.service.comment(iid, f"note {i}", analyst)
            except Exception as exc:  # pragma: no cover - the test fails below
                errors.append(exc)

    threads = [threading.Thread(target=feed), threading.Thread(target=comment)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    inc = env.incidents.get(iid)
    conflicts = [e for e in errors if type(e).__name__ == "ConflictError"]
    assert len(inc.comments) + len(conflicts) == 50
    assert not [e for e in errors if type(e).__name__ != "ConflictError"]
    assert inc.alert_count == 201


def test_stale_merge_or_split_changes_nothing(env, analyst):
    a = _incident(env, event={}, matched={})
    b = _incident(env, rule_id="r-2", host="pc-02", event={}, matched={})
    env.intake.submit(make_alert("r-3", ts=T0 + timedelta(minutes=1), event={}, matched={}))
    stale = 1
    assert env.incidents.get(a).version > stale
    with pytest.raises(ConflictError):
        env.service.merge(a, [b], analyst, expected_version=stale)
    assert env.incidents.get(b).merged_into is None
    assert env.incidents.get(a).alert_count == 2
    before = len(env.incidents.list())
    with pytest.raises(ConflictError):
        env.service.split(a, env.incidents.get(a).alert_ids[:1], analyst, expected_version=stale)
    assert len(env.incidents.list()) == before
