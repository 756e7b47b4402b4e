from datetime import UTC, datetime, timedelta

import pytest

from mamori.errors import DuplicateError, NotFoundError, PermissionDeniedError, ValidationError
from mamori.respond.breach import (
    BreachService,
    Contact,
    MemoryBreachRepo,
    due_items,
)
from mamori.respond.models import Actor
from mamori.respond.testing import make_alert

AWARE = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 2026-03-02 12:00 JST


@pytest.fixture
def breach(env):
    return BreachService(repo=MemoryBreachRepo(), incidents=env.service, clock=env.clock)


def _incident(env):
    return env.intake.submit(make_alert()).incident_id


def test_due_dates_default_and_wrongful(env, breach, analyst):
    iid = _incident(env)
    track = breach.mark(iid, analyst, aware_at=AWARE, categories=["over_1000"], affected_count=1200)
    assert track.preliminary_due.isoformat() == "2026-03-07T23:59:59+09:00"
    assert track.final_due.isoformat() == "2026-04-01T23:59:59+09:00"
    assert env.incidents.get(iid).personal_data
    iid2 = env.intake.submit(make_alert("r-x", host="pc-02", event={}, matched={})).incident_id
    assert iid2 != iid
    t2 = breach.mark(iid2, analyst, aware_at=AWARE, wrongful_intent=True)
    assert t2.final_due.isoformat() == "2026-05-01T23:59:59+09:00"
    assert "wrongful" in t2.categories
    with pytest.raises(DuplicateError, match="already on the breach track"):
        breach.mark(iid2, analyst, aware_at=AWARE)
    iid3 = env.intake.submit(make_alert("r-y", host="srv-01", event={}, matched={})).incident_id
    t3 = breach.mark(iid3, analyst, aware_at=AWARE, categories=["wrongful"])
    assert t3.wrongful_intent and t3.final_days == 60


def test_preliminary_days_configurable(env, analyst):
    svc = BreachService(repo=MemoryBreachRepo(), incidents=env.service, preliminary_days=3)
    track = svc.mark(_incident(env), analyst, aware_at=AWARE)
    assert track.preliminary_due.date().isoformat() == "2026-03-05"
    with pytest.raises(ValidationError):
        BreachService(repo=MemoryBreachRepo(), incidents=env.service, preliminary_days=0)


def test_items_submissions_checklist_and_timeline(env, breach, analyst):
    iid = _incident(env)
    breach.mark(iid, analyst, aware_at=AWARE)
    items = {i.key: i for i in due_items(breach.repo.get(iid), AWARE + timedelta(days=6))}
    assert items["preliminary"].overdue and items["persons"].overdue
    assert not items["final"].overdue and items["final"].days_left == 25
    breach.submitted(iid, "preliminary", analyst, at=AWARE + timedelta(days=2))
    track = breach.check(iid, "containment", analyst)
    assert track.checklist["preliminary"] and track.checklist["containment"]
    items = {i.key: i for i in due_items(track, AWARE + timedelta(days=6))}
    assert items["preliminary"].done and not items["preliminary"].overdue
    kinds = [e.kind for e in env.incidents.get(iid).timeline]
    assert {"breach_marked", "breach_preliminary", "breach_checklist"} <= set(kinds)
    with pytest.raises(ValidationError, match="unknown breach duty"):
        breach.submitted(iid, "interim", analyst)
    with pytest.raises(ValidationError, match="predate"):
        breach.submitted(iid, "final", analyst, at=AWARE - timedelta(days=1))
    with pytest.raises(ValidationError, match="unknown checklist item"):
        breach.check(iid, "pray", analyst)
    track = breach.set_contacts(
        iid,
        analyst,
        insurance=Contact("損害保険ジャパン 事故受付", phone="0120-000-000", reference="POL-1"),
        oem=Contact("OEM調達部 セキュリティ窓口", email="sec@oem.example"),
    )
    assert track.insurance_contact and track.insurance_contact.reference == "POL-1"
    assert track.oem_contact and track.oem_contact.email == "sec@oem.example"


def test_bad_marks(env, breach, analyst):
    iid = _incident(env)
    with pytest.raises(ValidationError, match="unknown breach category"):
        breach.mark(iid, analyst, categories=["bad"])
    with pytest.raises(ValidationError):
        breach.mark(iid, analyst, affected_count=-1)
    with pytest.raises(PermissionDeniedError):
        breach.mark(iid, Actor.customer("c", "acme"), aware_at=AWARE)
    with pytest.raises(NotFoundError):
        breach.mark(iid, Actor.customer("c", "beta"), aware_at=AWARE)
    with pytest.raises(NotFoundError):
        breach.submitted(iid, "final", analyst)


def test_reminders_fire_once_per_threshold(env, breach, analyst):
    iid = _incident(env)
    breach.mark(iid, analyst, aware_at=AWARE)
    sent = []
    send = lambda _track, item: sent.append((item.key, item.overdue))  # noqa: E731
    assert breach.reminders(AWARE + timedelta(hours=1), send=send) == []
    first = breach.reminders(AWARE + timedelta(days=3), send=send)
    assert {i.key for _, i in first} == {"preliminary", "persons"}
    assert breach.reminders(AWARE + timedelta(days=3, hours=1), send=send) == []
    late = breach.reminders(AWARE + timedelta(days=6), send=send)
    assert {(i.key, i.overdue) for _, i in late} == {("preliminary", True), ("persons", True)}
    breach.submitted(iid, "preliminary", analyst, at=AWARE + timedelta(days=6))
    final = breach.reminders(AWARE + timedelta(days=29), send=send)
    assert {i.key for _, i in final} == {"final"}
