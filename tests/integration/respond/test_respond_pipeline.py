"""The wired response area end to end, with a real SMTP sink and HTTP receiver."""

from datetime import timedelta

import pytest

from mamori.respond.clock import ManualClock
from mamori.respond.notify.email import EmailNotifier
from mamori.respond.notify.webhook import WebhookNotifier
from mamori.respond.oncall import Rota
from mamori.respond.repos import MemoryTenantDirectory
from mamori.respond.sla import SlaContract
from mamori.respond.testing import T0, make_alert
from mamori.respond.wiring import Respond, TenantChannels


@pytest.fixture
def respond(smtp_sink, http_receiver):
    def mail(*to):
        return EmailNotifier(
            host=smtp_sink.host, port=smtp_sink.port, sender="soc@mssp.example", to=to
        )

    clock = ManualClock(T0)
    r = Respond(
        directory=MemoryTenantDirectory({"acme": None}),
        contracts={
            "acme": SlaContract.from_dict(
                {
                    "tenant": "acme",
                    "ack": {"critical": "15m"},
                    "respond": {"critical": "38m"},
                    "escalate_to": ["manager@mssp.example"],
                }
            )
        },
        tenants={
            "acme": TenantChannels(
                lang="ja",
                display_name="株式会社アクメ部品",
                channels={
                    "customer": [WebhookNotifier(url=http_receiver.url + "/acme", secret="s")]
                },
            )
        },
        soc=TenantChannels(lang="ja", channels={"soc": [mail("soc@mssp.example")]}),
        rota=Rota(["sato", "suzuki"], period_days=1, epoch=T0.date()),
        analyst_channels={
            "sato": [mail("sato@mssp.example")],
            "suzuki": [mail("suzuki@mssp.example")],
        },
        backoff=(0.0, 0.0),
        background=False,  # reactions inline, so the test sees them at once
        clock=clock,
    )
    yield r, clock
    r.close()


def test_critical_alert_to_notifications_pages_and_escalation(respond, smtp_sink, http_receiver):
    r, clock = respond
    result = r.intake.submit(make_alert(level="critical", title="ランサムウェアの暗号化挙動"))
    iid = result.incident_id
    recipients = sorted(str(m["To"]) for m in smtp_sink.messages)
    assert recipients == ["sato@mssp.example", "soc@mssp.example"]
    assert len(http_receiver.requests) == 1
    timeline = r.service.incidents.get(iid).timeline
    notes = [e for e in timeline if e.kind == "notification"]
    assert len(notes) == 3 and all(e.detail["status"] == "delivered" for e in notes)
    assert any(e.kind == "page" for e in timeline)

    clock.advance(timedelta(minutes=11))
    r.tick()
    assert "suzuki@mssp.example" in [str(m["To"]) for m in smtp_sink.messages]
    clock.advance(timedelta(minutes=5))
    done = r.tick()
    assert done["sla_breaches"] == 1
    breach_mail = [m for m in smtp_sink.messages if "SLA違反" in str(m["Subject"])]
    assert breach_mail and breach_mail[0]["To"] == "manager@mssp.example"


def test_customer_webhook_failure_is_visible(respond, http_receiver):
    r, _ = respond
    http_receiver.status[:] = [500]
    iid = r.intake.submit(make_alert(level="critical")).incident_id
    failed = r.deliverer.repo.list(status="failed")
    assert len(failed) == 1 and failed[0].attempts == 3
    summaries = [
        e.summary for e in r.service.incidents.get(iid).timeline if e.kind == "notification"
    ]
    assert any("送信失敗（3 回試行）" in s and "HTTP 500" in s for s in summaries)


def test_background_reactions_do_not_block_intake(smtp_sink):
    mail = EmailNotifier(
        host=smtp_sink.host, port=smtp_sink.port, sender="s@x.example", to=("soc@x.example",)
    )
    r = Respond(
        directory=MemoryTenantDirectory({"acme": None}),
        soc=TenantChannels(channels={"soc": [mail]}),
        background=True,
        backoff=(),
    )
    try:
        iid = r.intake.submit(make_alert(level="critical")).incident_id
        r.drain()
        assert [m["X-Mamori-Incident"] for m in smtp_sink.messages] == [iid]
        assert r.tick() == {
            "sla_breaches": 0,
            "pages_escalated": 0,
            "breach_reminders": 0,
            "commands_expired": 0,
        }
    finally:
        r.close()
