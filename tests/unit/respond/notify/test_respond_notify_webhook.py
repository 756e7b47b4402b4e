import json
import time

import httpx
import pytest

from mamori.respond.errors import NotifyError
from mamori.respond.notify import Deliverer, Notification, notifiers
from mamori.respond.notify.chat import ChatWebhookNotifier
from mamori.respond.notify.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookNotifier,
    verify_signature,
)

N = Notification(
    tenant="acme",
    kind="incident_opened",
    subject="件名",
    text="本文",
    incident_id="inc-1",
    payload={"severity": "high"},
)


def test_registry_lists_notifiers():
    assert {"email", "webhook", "chat"} <= set(notifiers.names())


def test_webhook_body_is_signed():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    n = WebhookNotifier(
        url="https://hooks.example/x", secret="s3cret", transport=httpx.MockTransport(handler)
    )
    Deliverer(sleep=lambda _: None).deliver(n, N)
    req = seen[0]
    body = req.content
    assert json.loads(body)["data"] == {"severity": "high"}
    assert json.loads(body)["subject"] == "件名"
    ts, sig = req.headers[TIMESTAMP_HEADER], req.headers[SIGNATURE_HEADER]
    assert sig.startswith("sha256=")
    assert verify_signature("s3cret", body, ts, sig)
    assert not verify_signature("wrong", body, ts, sig)
    assert not verify_signature("s3cret", body + b" ", ts, sig)
    assert not verify_signature("s3cret", body, ts, sig, now=time.time() + 3600)
    assert not verify_signature("s3cret", body, "garbage", sig)


def test_webhook_needs_secret():
    with pytest.raises(NotifyError, match="secret"):
        WebhookNotifier(url="https://x", secret="")


def test_webhook_500_is_retried_then_visibly_failed():
    calls = []
    waits = []
    results = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    n = WebhookNotifier(
        url="https://hooks.example/x?token=abc", secret="k", transport=httpx.MockTransport(handler)
    )
    d = Deliverer(backoff=(0.5, 1.0, 2.0), sleep=waits.append, on_result=results.append)
    record = d.deliver(n, N)
    assert record.status == "failed"
    assert record.attempts == 4 == len(calls)
    assert waits == [0.5, 1.0, 2.0]
    assert all("HTTP 500" in e for e in record.errors)
    assert record.target == "https://hooks.example/x"  # no token in the record
    assert d.repo.list(status="failed") == [record]
    assert results == [record]


def test_webhook_recovers_after_a_failure():
    answers = iter([httpx.Response(503), httpx.Response(200)])
    n = WebhookNotifier(
        url="https://h/x", secret="k", transport=httpx.MockTransport(lambda _r: next(answers))
    )
    record = Deliverer(sleep=lambda _: None).deliver(n, N)
    assert (record.status, record.attempts) == ("delivered", 2)


def test_transport_error_is_a_failure():
    def handler(request):
        raise httpx.ConnectError("refused", request=request)

    n = WebhookNotifier(url="https://h/x", secret="k", transport=httpx.MockTransport(handler))
    record = Deliverer(backoff=(), sleep=lambda _: None).deliver(n, N)
    assert record.status == "failed" and "ConnectError" in record.errors[0]


@pytest.mark.parametrize(("style", "key"), [("slack", "blocks"), ("teams", "@type")])
def test_chat_styles(style, key):
    seen = []
    n = ChatWebhookNotifier(
        url="https://hooks.slack.example/services/T/B/secret",
        style=style,
        transport=httpx.MockTransport(
            lambda r: seen.append(json.loads(r.content)) or httpx.Response(200)
        ),
    )
    record = Deliverer(sleep=lambda _: None).deliver(n, N)
    assert record.status == "delivered"
    assert key in seen[0]
    assert "secret" not in record.target


def test_chat_unknown_style():
    with pytest.raises(NotifyError, match="unknown chat style"):
        ChatWebhookNotifier(url="https://x", style="irc")  # type: ignore[arg-type]


def test_failing_result_callback_does_not_lose_the_record():
    def bad(_):
        raise RuntimeError("timeline down")

    n = WebhookNotifier(
        url="https://h/x", secret="k", transport=httpx.MockTransport(lambda _r: httpx.Response(200))
    )
    d = Deliverer(sleep=lambda _: None, on_result=bad)
    d.deliver(n, N)
    assert len(d.repo.list()) == 1
