"""Notifiers against real local servers: an aiosmtpd sink and an HTTP receiver."""

import json

from mamori.respond.notify import Deliverer
from mamori.respond.notify.chat import ChatWebhookNotifier
from mamori.respond.notify.email import EmailNotifier
from mamori.respond.notify.templates import notification
from mamori.respond.notify.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookNotifier,
    verify_signature,
)
from mamori.respond.testing import make_alert


def _notification(env):
    iid = env.intake.submit(make_alert(title="不審なPowerShell")).incident_id
    inc = env.incidents.get(iid)
    return notification(
        "incident_opened",
        "ja",
        tenant="acme",
        context={"incident": inc, "url": None},
        to=("soc@example.jp",),
        incident_id=iid,
    )


def test_email_reaches_smtp_sink(env, smtp_sink):
    n = _notification(env)
    notifier = EmailNotifier(host=smtp_sink.host, port=smtp_sink.port, sender="mamori@mssp.example")
    record = Deliverer(sleep=lambda _: None).deliver(notifier, n)
    assert record.status == "delivered", record.errors
    msg = smtp_sink.messages[0]
    assert "新規インシデント" in str(msg["Subject"])
    assert msg["To"] == "soc@example.jp"
    assert msg["X-Mamori-Incident"] == n.incident_id
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "不審なPowerShell" in text and "<table>" in html


def test_smtp_down_is_retried_then_visibly_failed(env, closed_port):
    n = _notification(env)
    waits = []
    notifier = EmailNotifier(host="127.0.0.1", port=closed_port, sender="m@x.example", timeout=2)
    d = Deliverer(backoff=(0.1, 0.2), sleep=waits.append)
    record = d.deliver(notifier, n)
    assert record.status == "failed"
    assert record.attempts == 3 and waits == [0.1, 0.2]
    assert all("ConnectionRefusedError" in e for e in record.errors)
    assert d.repo.list(status="failed") == [record]


def test_signed_webhook_over_http(env, http_receiver):
    n = _notification(env)
    notifier = WebhookNotifier(url=http_receiver.url + "/hook", secret="k3y")
    record = Deliverer(sleep=lambda _: None).deliver(notifier, n)
    assert record.status == "delivered"
    path, headers, body = http_receiver.requests[0]
    assert path == "/hook"
    assert verify_signature("k3y", body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER])
    assert json.loads(body)["incident_id"] == n.incident_id


def test_chat_webhook_500_then_failure(env, http_receiver):
    http_receiver.status[:] = [500]
    n = _notification(env)
    notifier = ChatWebhookNotifier(url=http_receiver.url + "/services/T/B/x", style="teams")
    record = Deliverer(backoff=(0.0, 0.0), sleep=lambda _: None).deliver(notifier, n)
    assert record.status == "failed"
    assert len(http_receiver.requests) == 3
    assert "HTTP 500" in record.errors[-1]
