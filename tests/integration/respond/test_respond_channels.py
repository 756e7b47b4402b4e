"""Per-tenant customer notification channels: storage (encrypted secrets), delivery to real
local servers (aiosmtpd sink, HTTP receiver checking the HMAC), the API and the page."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import select

from foundation_db import login
from mamori.cli.wiring.respond import build_respond
from mamori.errors import DuplicateError, NotFoundError
from mamori.model import Severity
from mamori.respond.channels import CustomerChannel, new_channel
from mamori.respond.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from mamori.respond.testing import T0, make_alert
from mamori.store.db import Database
from mamori.store.repos import tenants
from mamori.store.repos.respond_channels import SqlChannelRepo
from mamori.store.tables.respond import RespondNotifyChannel
from mamori.store.types import utcnow

SECRET = "a-webhook-secret-of-some-length"  # noqa: S105 - test value


# -- storage -----------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.db)])
def channel_db(request, tmp_path):
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'c.db'}")
    else:
        database = Database(request.getfixturevalue("postgres_url"))
    database.upgrade()
    with database.session() as s:
        tenants.create_tenant(s, slug="acme", name="アクメ")
        tenants.create_tenant(s, slug="beta", name="ベータ")
    try:
        yield database
    finally:
        database.dispose()


def _webhook(tenant: str = "acme", name: str = "SIEM") -> CustomerChannel:
    return new_channel(
        tenant,
        {"name": name, "kind": "webhook", "url": "https://siem.example/hook", "secret": SECRET},
        actor="sato",
        now=T0,
    )


def test_repo_round_trip_keeps_secrets_encrypted(channel_db):
    repo = SqlChannelRepo(channel_db, secret_key="instance-key-1")
    hook = _webhook()
    chat = new_channel(
        "acme",
        {"name": "Teams", "kind": "chat", "style": "teams", "url": "https://x.example/T/B/tok3n"},
        actor="sato",
        now=T0,
    )
    mail = new_channel(
        "beta",
        {"name": "IT", "kind": "email", "recipients": "it@beta.example, boss@beta.example"},
        actor="sato",
        now=T0,
    )
    for channel in (hook, chat, mail):
        repo.add(channel)
    got = repo.get(hook.id)
    assert got.secret == SECRET and got.url == "https://siem.example/hook"
    assert repo.get(chat.id).secret == "https://x.example/T/B/tok3n"
    assert repo.get(chat.id).url == "x.example" and repo.get(chat.id).style == "teams"
    assert repo.get(mail.id).recipients == ("it@beta.example", "boss@beta.example")
    assert [c.name for c in repo.list(tenant="acme")] == ["SIEM", "Teams"]
    assert [c.tenant for c in repo.list()] == ["acme", "acme", "beta"]
    with channel_db.session() as s:
        rows = s.scalars(select(RespondNotifyChannel)).all()
        stored = json.dumps([[r.secret_enc, r.config] for r in rows])
    assert SECRET not in stored and "tok3n" not in stored
    # a duplicate name in one tenant is refused; the same name in another tenant is fine
    with pytest.raises(DuplicateError):
        repo.add(_webhook())
    repo.add(_webhook(tenant="beta"))
    # change and delete
    got.min_severity = Severity.CRITICAL
    got.enabled = False
    repo.save(got)
    again = repo.get(hook.id)
    assert again.min_severity is Severity.CRITICAL and not again.enabled
    assert again.secret == SECRET
    repo.delete(hook.id)
    with pytest.raises(NotFoundError):
        repo.get(hook.id)
    with pytest.raises(NotFoundError):
        repo.delete(hook.id)


def test_secret_under_another_instance_key_reads_empty_and_fails_visibly(channel_db):
    SqlChannelRepo(channel_db, secret_key="instance-key-1").add(_webhook())
    other = SqlChannelRepo(channel_db, secret_key="a-different-key")
    (channel,) = other.list()
    assert channel.secret == ""
    assert channel.public()["has_secret"] is False


# -- delivery through the running services ---------------------------------------------------------
@pytest.fixture
def live(settings, db, world, smtp_sink):
    del world
    settings = settings.model_copy(
        update={
            "respond_smtp_host": smtp_sink.host,
            "respond_smtp_port": smtp_sink.port,
            "respond_smtp_from": "mamori@mssp.example",
            "respond_notify_backoff": "0.01,0.01",
        }
    )
    respond = build_respond(settings, db, background=False)
    try:
        yield respond
    finally:
        respond.close()


def _add(respond: Any, tenant: str, **data: Any) -> CustomerChannel:
    channel = new_channel(tenant, data, actor="sato", now=utcnow())
    respond.channel_repo.add(channel)
    return channel


def _critical(respond: Any, host: str = "pc-01", level: str = "critical") -> str:
    result = respond.intake.submit(
        make_alert("r-crit", tenant="tenant-a", level=level, host=host, ts=utcnow())
    )
    assert result.incident_id
    return result.incident_id


def test_customer_channel_of_playbook_reaches_mail_webhook_and_chat(live, smtp_sink, http_receiver):
    _add(live, "tenant-a", name="情シス", kind="email", recipients=["it@a.example"])
    _add(live, "tenant-a", name="Global", kind="email", recipients=["hq@a.example"], lang="en")
    _add(
        live,
        "tenant-a",
        name="SIEM",
        kind="webhook",
        url=http_receiver.url + "/siem",
        secret=SECRET,
    )
    _add(live, "tenant-a", name="Slack", kind="chat", url=http_receiver.url + "/services/T/B/tok")
    _add(
        live,
        "tenant-a",
        name="only-critical-but-off",
        kind="email",
        recipients=["off@a.example"],
        enabled=False,
    )
    incident_id = _critical(live)

    by_to = {str(m["To"]): m for m in smtp_sink.messages}
    assert set(by_to) == {"it@a.example", "hq@a.example"}
    assert "新規インシデント" in str(by_to["it@a.example"]["Subject"])
    assert "新規インシデント" not in str(by_to["hq@a.example"]["Subject"])
    assert by_to["it@a.example"]["X-Mamori-Incident"] == incident_id

    paths = {path: (headers, body) for path, headers, body in http_receiver.requests}
    assert set(paths) == {"/siem", "/services/T/B/tok"}
    headers, body = paths["/siem"]
    assert verify_signature(SECRET, body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER])
    assert not verify_signature(
        "wrong-secret-xxxxxxxx", body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    )
    assert json.loads(body)["incident_id"] == incident_id
    assert json.loads(paths["/services/T/B/tok"][1])["blocks"]

    timeline = live.intake.incidents.get(incident_id).timeline
    sent = [e.summary for e in timeline if e.kind == "notification"]
    assert len(sent) == 4 and all("送信済" in s for s in sent)
    assert not any("tok" in s for s in sent)  # the chat URL's token is never shown


def test_min_severity_and_tenant_are_respected(live, smtp_sink, world):
    _add(
        live,
        "tenant-a",
        name="crit",
        kind="email",
        recipients=["c@a.example"],
        min_severity="critical",
    )
    _add(
        live, "tenant-a", name="high", kind="email", recipients=["h@a.example"], min_severity="high"
    )
    _add(
        live,
        world.tenant_b.slug,
        name="b",
        kind="email",
        recipients=["b@b.example"],
        min_severity="informational",
    )
    incident_id = _critical(live)
    assert sorted(str(m["To"]) for m in smtp_sink.messages) == ["c@a.example", "h@a.example"]
    inc = live.intake.incidents.get(incident_id)
    smtp_sink.messages.clear()
    # a direct "customer" notification of a high incident: the critical-only channel stays quiet
    inc.severity = Severity.HIGH
    record = live.notify(inc, {"channel": "customer"})
    assert record is not None and record.status == "delivered"
    assert [str(m["To"]) for m in smtp_sink.messages] == ["h@a.example"]


def test_undeliverable_customer_notifications_are_retried_and_visible(
    live, http_receiver, closed_port, caplog
):
    http_receiver.status[:] = [500]
    _add(live, "tenant-a", name="SIEM", kind="webhook", url=http_receiver.url + "/h", secret=SECRET)
    live.smtp = live.smtp.__class__(host="127.0.0.1", port=closed_port, timeout=2)
    _add(live, "tenant-a", name="mail", kind="email", recipients=["it@a.example"])
    with caplog.at_level(logging.DEBUG):
        incident_id = _critical(live)
    assert len(http_receiver.requests) == 3  # 1 + two retries
    failed = live.deliverer.repo.list(tenant="tenant-a", status="failed")
    assert len(failed) == 2 and all(r.attempts == 3 for r in failed)
    assert any("HTTP 500" in r.errors[-1] for r in failed)
    assert any("ConnectionRefusedError" in r.errors[-1] for r in failed)
    timeline = live.intake.incidents.get(incident_id).timeline
    notes = [e.summary for e in timeline if e.kind == "notification"]
    assert len(notes) == 2 and all("送信失敗" in n for n in notes)
    assert SECRET not in caplog.text


def test_email_channel_without_smtp_relay_fails_visibly(settings, db, world):
    del world
    respond = build_respond(settings, db, background=False)
    try:
        _add(respond, "tenant-a", name="mail", kind="email", recipients=["it@a.example"])
        respond.deliverer.backoff = ()
        incident_id = _critical(respond)
        (record,) = respond.deliverer.repo.list(tenant="tenant-a")
        assert record.status == "failed" and "no SMTP relay" in record.errors[-1]
        notes = [
            e
            for e in respond.intake.incidents.get(incident_id).timeline
            if e.kind == "notification"
        ]
        assert len(notes) == 1
    finally:
        respond.close()


# -- API and page ---------------------------------------------------------------------------------
API = "/api/v1/notification-channels"


def _h(client, who: str) -> dict[str, str]:
    client.cookies.clear()
    return {"X-CSRF-Token": login(client, who)}


def test_api_manages_channels_and_never_shows_secrets_again(client, world, caplog):
    h = _h(client, "cadmin-a")
    with caplog.at_level(logging.DEBUG):
        made = client.post(
            API,
            json={"name": "SIEM", "kind": "webhook", "url": "https://siem.a.example/h"},
            headers=h,
        )
    assert made.status_code == 201, made.text
    body = made.json()
    secret = body["secret"]
    assert len(secret) >= 32 and body["tenant"] == "tenant-a" and body["lang"] == "ja"
    assert secret not in caplog.text
    cid = body["id"]
    listed = client.get(API, headers=h)
    assert [c["id"] for c in listed.json()] == [cid] and secret not in listed.text
    one = client.get(f"{API}/{cid}", headers=h)
    assert one.json()["has_secret"] is True and secret not in one.text
    # a secret the caller chooses is not echoed
    given = client.post(
        API,
        json={
            "name": "mail",
            "kind": "email",
            "recipients": ["it@a.example"],
            "lang": "en",
            "min_severity": "high",
        },
        headers=h,
    ).json()
    assert "secret" not in given and given["min_severity"] == "high"
    changed = client.patch(f"{API}/{cid}", json={"secret": "x" * 20, "enabled": False}, headers=h)
    assert changed.status_code == 200 and "x" * 20 not in changed.text
    assert changed.json()["enabled"] is False
    # bad input: clear errors, nothing stored
    for bad in (
        {"name": "b1", "kind": "fax"},
        {"name": "b2", "kind": "email", "recipients": ["not-an-address"]},
        {"name": "b3", "kind": "webhook", "url": "ftp://x.example"},
        {"name": "b4", "kind": "webhook", "url": "https://x.example", "secret": "short"},
        {"name": "b5", "kind": "email", "recipients": ["a@b.example"], "lang": "fr"},
        {"name": "b6", "kind": "chat"},
        {"kind": "email", "recipients": ["a@b.example"]},
    ):
        r = client.post(API, json=bad, headers=h)
        assert r.status_code == 422, (bad, r.text)
    assert (
        client.post(
            API, json={"name": "SIEM", "kind": "email", "recipients": ["a@b.example"]}, headers=h
        ).status_code
        == 409
    )
    assert len(client.get(API, headers=h).json()) == 2
    assert client.delete(f"{API}/{cid}", headers=h).status_code == 204
    assert client.get(f"{API}/{cid}", headers=h).status_code == 404


def test_tenant_b_cannot_read_or_edit_tenant_a_channels(client, world):
    h = _h(client, "cadmin-a")
    cid = client.post(
        API, json={"name": "mail", "kind": "email", "recipients": ["it@a.example"]}, headers=h
    ).json()["id"]
    for who in ("cadmin-zzbmarker", "viewer-zzbmarker", "op-zzbmarker"):
        client.cookies.clear()
        hb = _h(client, who)
        assert client.get(API, headers=hb).json() == []
        assert client.get(f"{API}/{cid}", headers=hb).status_code == 404
        assert client.patch(f"{API}/{cid}", json={"name": "x"}, headers=hb).status_code == 404
        assert client.delete(f"{API}/{cid}", headers=hb).status_code == 404
        made = client.post(
            API,
            json={
                "tenant": "tenant-a",
                "name": "evil",
                "kind": "email",
                "recipients": ["x@evil.example"],
            },
            headers=hb,
        )
        assert made.status_code == 404
    client.cookies.clear()
    hk = {"Authorization": f"Bearer {world.token('b-api')}"}
    assert client.get(f"{API}/{cid}", headers=hk).status_code == 404
    # tenant A's viewer reads but may not change; A's API key reads only
    client.cookies.clear()
    hv = _h(client, "viewer-a")
    assert [c["id"] for c in client.get(API, headers=hv).json()] == [cid]
    assert client.patch(f"{API}/{cid}", json={"name": "x"}, headers=hv).status_code == 403
    client.cookies.clear()
    ha = {"Authorization": f"Bearer {world.token('a-api')}"}
    assert client.get(f"{API}/{cid}", headers=ha).status_code == 200
    assert client.delete(f"{API}/{cid}", headers=ha).status_code == 403
    client.cookies.clear()
    h = _h(client, "cadmin-a")
    assert client.get(f"{API}/{cid}", headers=h).json()["name"] == "mail"


def test_operator_names_the_tenant_and_the_page_works(client, world):
    h = _h(client, "op-a")
    r = client.post(
        API, json={"name": "m", "kind": "email", "recipients": ["a@a.example"]}, headers=h
    )
    assert r.status_code == 422 and "tenant" in r.text
    r = client.post(
        API,
        json={"tenant": "tenant-a", "name": "m", "kind": "email", "recipients": ["a@a.example"]},
        headers=h,
    )
    assert r.status_code == 201
    page = client.get("/respond/channels")
    assert (
        page.status_code == 200 and "お客様への通知先" in page.text and "a@a.example" in page.text
    )
    token = h["X-CSRF-Token"]
    made = client.post(
        "/respond/channels",
        data={
            "csrf_token": token,
            "tenant": "tenant-a",
            "name": "フック",
            "kind": "webhook",
            "url": "https://hook.a.example/x",
            "secret": "",
            "recipients": "",
            "style": "slack",
            "lang": "en",
            "min_severity": "high",
        },
    )
    assert made.status_code == 200 and "この画面でのみ表示" in made.text
    shown = made.text.split('<code class="secret">')[1].split("</code>")[0]
    assert len(shown) >= 32
    again = client.get("/respond/channels?tenant=tenant-a")
    assert shown not in again.text and "フック" in again.text
    cid = next(c["id"] for c in client.get(API, headers=h).json() if c["name"] == "フック")
    bad = client.post(
        f"/respond/channels/{cid}",
        data={"csrf_token": token, "op": "update", "name": "フック", "url": "nope"},
    )
    assert bad.status_code == 400 and "URL" in bad.text
    ok = client.post(
        f"/respond/channels/{cid}",
        data={
            "csrf_token": token,
            "op": "update",
            "name": "フック2",
            "url": "https://hook.a.example/y",
            "lang": "ja",
            "min_severity": "low",
            "enabled_present": "1",
        },
    )
    assert ok.status_code == 303
    got = client.get(f"{API}/{cid}", headers=h).json()
    assert got["name"] == "フック2" and got["enabled"] is False and got["lang"] == "ja"
    gone = client.post(f"/respond/channels/{cid}", data={"csrf_token": token, "op": "delete"})
    assert gone.status_code == 303
    assert client.get(f"{API}/{cid}", headers=h).status_code == 404


def test_test_message_reaches_the_channel_and_reports_failures(client, app, world, http_receiver):
    h = _h(client, "cadmin-a")
    client.get(API, headers=h)  # builds the app's response services
    app.state.respond[0].deliverer.backoff = (0.0, 0.0)
    made = client.post(
        API,
        json={"name": "SIEM", "kind": "webhook", "url": http_receiver.url + "/t", "lang": "en"},
        headers=h,
    ).json()
    secret = made["secret"]
    sent = client.post(f"{API}/{made['id']}/test", headers=h)
    assert sent.status_code == 200 and sent.json()["status"] == "delivered"
    path, headers, body = http_receiver.requests[0]
    assert path == "/t"
    assert verify_signature(secret, body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER])
    doc = json.loads(body)
    assert doc["kind"] == "channel_test" and "test message" in doc["text"]
    # a mail channel without an SMTP relay: the failure comes back, visible
    mail = client.post(
        API, json={"name": "mail", "kind": "email", "recipients": ["a@a.example"]}, headers=h
    ).json()
    failed = client.post(f"{API}/{mail['id']}/test", headers=h).json()
    assert failed["status"] == "failed" and "no SMTP relay" in failed["errors"][-1]
    page = client.post(
        f"/respond/channels/{made['id']}", data={"csrf_token": h["X-CSRF-Token"], "op": "test"}
    )
    assert page.status_code == 200 and "テスト送信: SIEM → delivered" in page.text
    # others cannot trigger it
    hb = _h(client, "cadmin-zzbmarker")
    assert client.post(f"{API}/{made['id']}/test", headers=hb).status_code == 404
    hv = _h(client, "viewer-a")
    assert client.post(f"{API}/{made['id']}/test", headers=hv).status_code == 403


def test_chat_webhook_token_stays_out_of_failures_and_logs(live, http_receiver, caplog):
    http_receiver.status[:] = [500]
    url = http_receiver.url + "/services/T000/B000/s3cr3t-t0ken"
    _add(live, "tenant-a", name="Teams", kind="chat", style="teams", url=url)
    with caplog.at_level(logging.DEBUG):
        incident_id = _critical(live)
    (record,) = live.deliverer.repo.list(tenant="tenant-a", status="failed")
    assert "HTTP 500" in record.errors[-1]
    stored = json.dumps([record.errors, record.target])
    assert "s3cr3t-t0ken" not in stored and "s3cr3t-t0ken" not in caplog.text
    timeline = live.intake.incidents.get(incident_id).timeline
    assert not any("s3cr3t-t0ken" in e.summary for e in timeline)
