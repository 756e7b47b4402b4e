from datetime import UTC, datetime, timedelta

import pytest

from mamori.errors import ValidationError
from mamori.respond.oncall import Override, Pager, Rota
from mamori.respond.testing import T0, make_alert


def test_rota_rotates_at_handover():
    rota = Rota(["a", "b", "c"], period_days=1, epoch=datetime(2026, 3, 2).date())
    # 2026-03-02 10:00 JST -> day 0 -> a; 08:59 JST next day is still a's shift
    assert rota.primary(T0) == "a"
    assert rota.primary(T0 + timedelta(hours=22, minutes=59)) == "a"
    assert rota.primary(T0 + timedelta(hours=23)) == "b"
    assert rota.chain(T0 + timedelta(days=2)) == ["c", "a", "b"]


def test_override_and_bad_rotas():
    o = Override(T0, T0 + timedelta(hours=1), "b")
    rota = Rota(["a", "b", "c"], period_days=1, epoch=T0.date(), overrides=[o])
    assert rota.chain(T0) == ["b", "a", "c"]
    assert rota.primary(T0 + timedelta(hours=2)) == "a"
    with pytest.raises(ValidationError):
        Rota([])
    with pytest.raises(ValidationError, match="twice"):
        Rota(["a", "a"])
    with pytest.raises(ValidationError, match="bad on-call rota"):
        Rota.from_dict({"analysts": ["a"], "handover": "25:00"})
    r = Rota.from_dict({"analysts": ["x", "y"], "period_days": 7})
    assert r.primary(T0) in ("x", "y")


@pytest.fixture
def paging(env):
    delivered = []
    failing = set()

    def deliver(page, incident):
        if page.analyst in failing:
            raise ConnectionError("SMS gateway down")
        delivered.append((page.analyst, page.level, incident.id))
        return True

    pager = Pager(
        rota=Rota(["a", "b", "c"], period_days=1, epoch=T0.date()),
        service=env.service,
        deliver=deliver,
        escalate_after=timedelta(minutes=10),
        clock=env.clock,
    )
    pager.subscribe(env.dispatcher)
    return pager, delivered, failing


def test_critical_pages_primary_and_escalates_until_acked(env, paging, analyst):
    pager, delivered, _ = paging
    iid = env.intake.submit(make_alert(level="critical")).incident_id
    env.intake.submit(make_alert("r-low", level="low", host="pc-02"))
    assert delivered == [("a", 0, iid)]
    env.clock.advance(timedelta(minutes=5))
    assert pager.tick() == []
    env.clock.advance(timedelta(minutes=6))
    [p] = pager.tick()
    assert (p.analyst, p.level) == ("b", 1)
    env.service.acknowledge(iid, analyst)
    env.clock.advance(timedelta(minutes=30))
    assert pager.tick() == []
    statuses = sorted(pg.status for pg in pager.repo.list(incident_id=iid))
    assert statuses == ["closed", "escalated"]


def test_failed_delivery_escalates_at_once_and_exhaustion_is_visible(env, paging):
    pager, delivered, failing = paging
    failing.update({"a", "b"})
    iid = env.intake.submit(make_alert(level="critical")).incident_id
    assert delivered == [("c", 2, iid)]
    env.clock.advance(timedelta(minutes=11))
    pager.tick()
    timeline = env.incidents.get(iid).timeline
    assert any("SMS gateway down" in e.summary for e in timeline)
    assert any(e.kind == "page_exhausted" for e in timeline)


def test_page_acknowledge(env, paging):
    pager, _, _ = paging
    iid = env.intake.submit(make_alert(level="critical")).incident_id
    [page] = pager.repo.list(incident_id=iid)
    pager.acknowledge(page.id, "a")
    with pytest.raises(ValidationError):
        pager.acknowledge(page.id, "a")
    env.clock.advance(timedelta(hours=1))
    assert pager.tick() == []


def test_raised_severity_pages(env, paging, analyst):
    pager, delivered, _ = paging
    iid = env.intake.submit(make_alert(level="medium")).incident_id
    assert delivered == []
    env.service.set_severity(iid, "critical", analyst)
    assert delivered == [("a", 0, iid)]
    assert datetime.now(UTC) > T0
