import pytest

from mamori.errors import NotFoundError
from mamori.respond.notify.templates import KINDS, notification, render


def _incident(env, title="不審な<script>実行"):
    from mamori.respond.testing import make_alert

    iid = env.intake.submit(make_alert(title=title)).incident_id
    return env.incidents.get(iid)


def test_incident_opened_in_japanese_and_english(env):
    inc = _incident(env)
    ja = render("incident_opened", "ja", {"tenant": "株式会社アクメ", "incident": inc, "url": None})
    assert "新規インシデント" in ja.subject
    assert "株式会社アクメ 様" in ja.text
    assert "<script>" in ja.text  # plain text is not escaped
    assert "&lt;script&gt;" in ja.html and "<script>" not in ja.html
    en = render(
        "incident_opened", "en", {"tenant": "Acme", "incident": inc, "url": "https://x/i/1"}
    )
    assert en.subject.startswith("[mamori][HIGH] New incident")
    assert 'href="https://x/i/1"' in en.html


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_kind_renders(env, lang):
    from mamori.respond.breach import BreachDueItem
    from mamori.respond.sla import SlaContract, clocks
    from mamori.respond.testing import T0

    inc = _incident(env)
    clock = clocks(inc, SlaContract.from_dict({"tenant": "acme", "ack": {"high": "1m"}}), T0)[0]
    item = BreachDueItem(
        key="preliminary",
        label="速報",
        label_en="Preliminary report",
        due=T0,
        days_left=2,
        overdue=False,
        done=False,
    )
    ctx = {
        "tenant": "acme",
        "incident": inc,
        "url": None,
        "clock": clock,
        "analyst": "sato",
        "level": 1,
        "escalate_minutes": 10,
        "item": item,
        "incident_id": inc.id,
        "channel": "情シス",
        "kind": "email",
        "min_severity": "high",
        "sent_at": inc.created_at,
        "actor": "sato",
    }
    for kind in KINDS:
        r = render(kind, lang, ctx)
        assert r.subject and r.text and r.html


def test_unknown_kind_or_language(env):
    with pytest.raises(NotFoundError, match="no notification template 'nope'"):
        render("nope", "ja", {})
    with pytest.raises(NotFoundError, match="language 'fr'"):
        render("incident_opened", "fr", {})


def test_notification_builder(env):
    inc = _incident(env)
    n = notification(
        "incident_opened",
        "ja",
        tenant="acme",
        context={"incident": inc, "url": None},
        to=("soc@example.jp",),
        incident_id=inc.id,
    )
    assert n.to == ("soc@example.jp",) and n.incident_id == inc.id and n.html


def test_times_shown_in_jst(env):
    inc = _incident(env)
    ja = render("incident_opened", "ja", {"tenant": "t", "incident": inc, "url": None})
    assert "2026-03-02 10:00 JST" in ja.text and "2026-03-02 10:00 JST" in ja.html
    en = render("incident_opened", "en", {"tenant": "t", "incident": inc, "url": None})
    assert "2026-03-02 01:00 UTC (2026-03-02 10:00 JST)" in en.text


def test_audit_hook_on_every_change(env, analyst):
    from mamori.hooks import AuditRecorded

    seen = []
    env.dispatcher.subscribe(AuditRecorded, seen.append)
    inc = _incident(env)
    env.service.acknowledge(inc.id, analyst)
    assert seen[-1].action == "incident.status" and seen[-1].actor == "sato"
    assert seen[-1].tenant == "acme" and seen[-1].detail["incident_id"] == inc.id
