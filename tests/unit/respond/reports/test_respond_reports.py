from datetime import timedelta

import pytest

from mamori.respond.actions import ActionDeps
from mamori.respond.blocklist import MemoryBlocklist
from mamori.respond.breach import BreachService, Contact, MemoryBreachRepo
from mamori.respond.reports import (
    incident_html,
    incident_pdf,
    incident_report,
    monthly_html,
    monthly_pdf,
    monthly_report,
)
from mamori.respond.reports.data import duration, jst, svg_bars
from mamori.respond.runner import ActionRunner
from mamori.respond.sla import SlaContract
from mamori.respond.testing import T0, make_alert

CONTRACT = SlaContract.from_dict(
    {"tenant": "acme", "ack": {"critical": "15m", "high": "60m"}, "respond": {"critical": "38m"}}
)


@pytest.fixture
def full_incident(env, analyst):
    iid = env.intake.submit(
        make_alert(
            level="critical",
            title="<b>Mimikatz</b> の実行",
            tags=("attack.credential_access",),
            event={
                "User": "ACME\\taro",
                "DestinationIp": "203.0.113.9",
                "QueryName": "c2.example.net",
            },
        )
    ).incident_id
    for _ in range(4):
        env.intake.submit(make_alert(level="critical"))
    env.clock.advance(timedelta(minutes=7))
    env.service.acknowledge(iid, analyst)
    env.service.comment(iid, "認証情報の窃取を確認。パスワードリセットを推奨。", analyst)
    env.service.attach(iid, "memory.dmp", b"MDMP" * 100, analyst)
    runner = ActionRunner(
        service=env.service, deps=ActionDeps(blocklist=MemoryBlocklist()), clock=env.clock
    )
    runner.request(iid, "block_indicator", {"from_observables": ["ip"]}, analyst)
    runner.close()
    env.clock.advance(timedelta(minutes=20))
    env.service.transition(iid, "investigating", analyst)
    env.service.transition(iid, "contained", analyst)
    breach = BreachService(repo=MemoryBreachRepo(), incidents=env.service, clock=env.clock)
    breach.mark(iid, analyst, wrongful_intent=True, affected_count=1500)
    breach.set_contacts(
        iid, analyst, insurance=Contact("サイバー保険 事故窓口", phone="0120-111-222")
    )
    return iid, runner, breach


def _report(env, iid, runner, breach):
    return incident_report(
        env.incidents.get(iid),
        alerts=[env.alerts.get(a) for a in env.incidents.get(iid).alert_ids],
        actions=runner.repo.list(incident_id=iid),
        contract=CONTRACT,
        breach=breach.repo.get(iid),
        now=env.clock(),
        organisation="株式会社アクメ部品",
    )


def test_incident_report_html(env, full_incident):
    iid, runner, breach = full_incident
    html = incident_html(_report(env, iid, runner, breach))
    for needle in [
        "インシデント報告書",
        "株式会社アクメ部品",
        "1. 概要",
        "2. タイムライン",
        "203.0.113.9",
        "block_indicator",
        "succeeded",
        "封じ込め済",
        "7分",
        "27分",
        "5 件",
        "個人情報の漏えい等",
        "確報60日以内",
        "サイバー保険 事故窓口",
        "0120-111-222",
        "&lt;b&gt;Mimikatz&lt;/b&gt;",
        "達成",
    ]:
        assert needle in html, needle
    import hashlib

    assert hashlib.sha256(b"MDMP" * 100).hexdigest() in html
    assert "<b>Mimikatz</b>" not in html


def test_incident_report_pdf(env, full_incident):
    iid, runner, breach = full_incident
    pdf = incident_pdf(_report(env, iid, runner, breach))
    assert pdf.startswith(b"%PDF-")
    assert b"HeiseiKakuGo-W5" in pdf
    assert len(pdf) > 3000


def test_monthly_report(env, full_incident, analyst):
    iid, _, _ = full_incident
    env.clock.advance(timedelta(days=3))
    other = env.intake.submit(make_alert("r-9", level="high", host="srv-01")).incident_id
    env.clock.advance(timedelta(minutes=90))
    env.service.acknowledge(other, analyst)
    r = monthly_report(
        tenant="acme",
        year=2026,
        month=3,
        incidents=env.incidents.list(),
        alerts=env.alerts.list(),
        contract=CONTRACT,
        now=env.clock(),
    )
    assert r.metrics.incidents == 2
    assert r.alert_events == 6 and r.alert_records == 2
    assert r.top_hosts == [("pc-01", 5), ("srv-01", 1)]
    assert r.top_rules[0] == ("<b>Mimikatz</b> の実行", 5)
    assert len(r.daily_incidents) == 31 and sum(n for _, n in r.daily_incidents) == 2
    assert (r.metrics.ack_sla_met, r.metrics.ack_sla_total) == (1, 2)
    html = monthly_html(r)
    assert (r.metrics.respond_sla_met, r.metrics.respond_sla_total) == (1, 1)
    assert "2026年3月" in html and "<svg" in html
    assert "66.7%" in html
    assert "&lt;b&gt;Mimikatz" in html
    pdf = monthly_pdf(r)
    assert pdf.startswith(b"%PDF-") and b"HeiseiKakuGo-W5" in pdf


def test_empty_month(env):
    r = monthly_report(
        tenant="acme", year=2026, month=2, incidents=[], alerts=[], contract=None, now=T0
    )
    assert r.metrics.incidents == 0 and r.top_rules == []
    assert "なし" in monthly_html(r)
    assert monthly_pdf(r).startswith(b"%PDF-")


def test_helpers():
    assert (
        duration(None) == "-" and duration(420) == "7分" and duration(3 * 3600 + 60) == "3時間1分"
    )
    assert duration(3 * 86400) == "3日0時間"
    assert jst(T0) == "2026-03-02 10:00:00 JST"
    svg = svg_bars([("a", 1), ("b", 3)], label="x")
    assert svg.count("<rect") == 2 and "max 3" in svg


def test_english_reports(env, full_incident):
    from mamori.errors import NotFoundError

    iid, runner, breach = full_incident
    report = _report(env, iid, runner, breach)
    html = incident_html(report, lang="en")
    for needle in [
        'lang="en"',
        "Incident report",
        "2. Timeline",
        "7 min",
        "27 min",
        "contained",
        "yes (final report within 60 days)",
        "Preliminary report to the PPC",
        "met",
    ]:
        assert needle in html, needle
    assert "インシデント報告書" not in html
    assert incident_pdf(report, lang="en").startswith(b"%PDF-")
    r = monthly_report(
        tenant="acme",
        year=2026,
        month=3,
        incidents=env.incidents.list(),
        alerts=env.alerts.list(),
        contract=CONTRACT,
        now=env.clock(),
    )
    en = monthly_html(r, lang="en")
    assert "Monthly security report — acme (2026-03)" in en and "contained: 1" in en
    assert "封じ込め済: 1" in monthly_html(r)
    assert monthly_pdf(r, lang="en").startswith(b"%PDF-")
    with pytest.raises(NotFoundError, match="no report language"):
        incident_html(report, lang="fr")
