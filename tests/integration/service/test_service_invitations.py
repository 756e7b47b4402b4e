"""Provisioning e-mails the first administrator a one-time, expiring set-password link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from foundation_db import csrf_of, login, make_settings
from mamori.config import Settings
from mamori.service.invite import hash_token
from mamori.store.repos import audit
from mamori.store.repos import service as repo
from mamori.store.tables import AuditLog, InvitationRow
from mamori.store.types import utcnow
from tests.integration.service.helpers import open_case
from tests.integration.service.smtp_sink import SmtpSink, free_port

API = "/api/v1/service/cases"
BASE_URL = "https://mamori.example.jp"
NEW_PASSWORD = "Kirin-Sakura-2026!"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(tmp_path: Path, migrated_sqlite: Path, sink: SmtpSink) -> Settings:
    import shutil

    target = tmp_path / "mamori.db"
    shutil.copyfile(migrated_sqlite, target)
    return make_settings(
        tmp_path,
        f"sqlite:///{target}",
        respond_smtp_host="127.0.0.1",
        respond_smtp_port=sink.port,
        respond_smtp_from="mamori@mssp.example.jp",
        respond_base_url=BASE_URL,
        service_invite_hours=48,
    )


def _contracted_case(client, db, token: str) -> int:
    """A case taken to the signed contract through the API."""
    case_id = open_case(db, company="株式会社みらい精機")
    today = date.today()
    steps = [
        (
            "meeting",
            {
                "held_on": today.isoformat(),
                "attendees": ["佐藤"],
                "notes": "n",
                "devices": 5,
            },
        ),
        ("proposal", {}),
        ("quote", {}),
        (
            "contract",
            {"signed_on": today.isoformat(), "start_date": today.isoformat(), "devices": 5},
        ),
    ]
    for step, body in steps:
        r = client.post(f"{API}/{case_id}/{step}", json=body, headers={"X-CSRF-Token": token})
        assert r.status_code == 200, r.text
    return case_id


PROVISION = {
    "tenant_slug": "mirai-seiki",
    "tenant_name": "株式会社みらい精機",
    "admin_username": "mirai-admin",
    "admin_email": "sato@mirai.example.jp",
}


def _link_token(message) -> str:
    body = message.get_content()
    link = re.search(rf"{re.escape(BASE_URL)}/invite\?token=\S+", body).group(0)
    return parse_qs(urlparse(link).query)["token"][0]


def _set_password(client, token: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    client.cookies.clear()
    page = client.get("/invite", params={"token": token})
    data = {
        "csrf_token": csrf_of(client),
        "token": token,
        "password": password,
        "password_confirm": confirm if confirm is not None else password,
    }
    return page, client.post("/invite", data=data)


def test_provisioning_sends_an_invitation_and_the_link_sets_the_password_once(
    client, db, world, sink
):
    token = login(client, "op-a")
    case_id = _contracted_case(client, db, token)
    r = client.post(f"{API}/{case_id}/provision", json=PROVISION, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["initial_password"] is None  # the administrator chooses it
    assert created["invitation"]["sent"] is True
    assert created["invitation"]["sent_to"] == "sato@mirai.example.jp"
    (message,) = sink.messages
    assert sink.handler.recipients == [["sato@mirai.example.jp"]]
    assert message["From"] == "mamori@mssp.example.jp"
    assert message["Subject"].startswith("【mamori】管理者アカウントのご案内（株式会社みらい精機）")
    body = message.get_content()
    assert body.index("パスワードを設定してください") < body.index("choose your password")
    assert "mirai-admin" in body and "JST" in body
    link_token = _link_token(message)
    with db.sessionmaker() as s:
        row = s.scalar(select(InvitationRow))
        assert row.token_hash == hash_token(link_token) and link_token not in row.token_hash
        assert row.sent_at is not None and row.used_at is None
        assert timedelta(hours=47) < row.expires_at - row.created_at <= timedelta(hours=48)

    page, done = _set_password(client, link_token)
    assert page.status_code == 200 and 'id="invite-username">mirai-admin<' in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert done.status_code == 303 and done.headers["location"] == "/login?invited=1"
    login(client, "mirai-admin", NEW_PASSWORD)
    assert client.get("/api/v1/me").json()["user"]["username"] == "mirai-admin"

    # the link works once
    page, again = _set_password(client, link_token, "Another-Password-99!")
    assert page.status_code == 400 and "使用済み" in page.text
    assert again.status_code == 400 and "already been used" in again.text
    login(client, "mirai-admin", NEW_PASSWORD)  # the password did not change
    with db.sessionmaker() as s:
        actions = [a.action for a in s.scalars(select(AuditLog).order_by(AuditLog.seq))]
        assert actions.count("user.invitation.create") == 1
        assert actions.count("user.invitation.accept") == 1
        assert audit.verify(s).ok


def test_an_expired_link_is_refused_and_a_resent_one_replaces_the_old(client, db, world, sink):
    token = login(client, "op-a")
    case_id = _contracted_case(client, db, token)
    client.post(f"{API}/{case_id}/provision", json=PROVISION, headers={"X-CSRF-Token": token})
    first = _link_token(sink.messages[0])
    with db.sessionmaker() as s:
        row = s.scalar(select(InvitationRow))
        row.expires_at = utcnow() - timedelta(seconds=1)
        s.commit()
    page, refused = _set_password(client, first)
    assert page.status_code == 400 and "有効期限切れ" in page.text
    assert refused.status_code == 400 and "expired" in refused.text

    token = login(client, "op-a")
    r = client.post(f"/service/cases/{case_id}/invite", data={"csrf_token": token})
    assert r.status_code == 200 and 'id="invitation-sent"' in r.text, r.text
    second = _link_token(sink.messages[1])
    assert second != first
    r = client.post(f"{API}/{case_id}/invite", headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["sent"] is True
    third = _link_token(sink.messages[2])
    _page, old = _set_password(client, second)  # revoked by the third
    assert old.status_code == 400 and "newer invitation" in old.text
    _page, ok = _set_password(client, third)
    assert ok.status_code == 303


def test_bad_set_password_requests_change_nothing(client, db, world, sink):
    token = login(client, "op-a")
    case_id = _contracted_case(client, db, token)
    client.post(f"{API}/{case_id}/provision", json=PROVISION, headers={"X-CSRF-Token": token})
    link_token = _link_token(sink.messages[0])
    _page, mismatch = _set_password(client, link_token, NEW_PASSWORD, "something-else-1")
    assert mismatch.status_code == 422 and "do not match" in mismatch.text
    _page, weak = _set_password(client, link_token, "short")
    assert weak.status_code == 422
    page, unknown = _set_password(client, "not-a-token")
    assert page.status_code == 400 and unknown.status_code == 400
    empty = client.get("/invite")
    assert empty.status_code == 400 and "無効" in empty.text
    no_csrf = client.post("/invite", data={"token": link_token, "password": NEW_PASSWORD})
    assert no_csrf.status_code == 403
    with db.sessionmaker() as s:
        assert s.scalar(select(InvitationRow)).used_at is None
    _page, ok = _set_password(client, link_token)  # the link still works
    assert ok.status_code == 303


def test_a_refusing_relay_is_reported_and_the_password_is_shown_instead(client, db, world, sink):
    sink.handler.refuse = True
    token = login(client, "op-a")
    case_id = _contracted_case(client, db, token)
    r = client.post(f"/service/cases/{case_id}/provision", data={"csrf_token": token, **PROVISION})
    assert r.status_code == 200
    assert 'id="invitation-error"' in r.text and 'id="initial-password"' in r.text
    with db.sessionmaker() as s:
        assert repo.get_case(s, case_id=case_id).stage == "provisioned"
        failed = s.scalar(select(AuditLog).where(AuditLog.action == "user.invitation.send_failed"))
        assert failed is not None and "554" in failed.detail["error"]
    resend = client.post(f"{API}/{case_id}/invite", headers={"X-CSRF-Token": token})
    assert resend.status_code == 502 and resend.json()["sent"] is False
    sink.handler.refuse = False
    resend = client.post(f"{API}/{case_id}/invite", headers={"X-CSRF-Token": token})
    assert resend.status_code == 200 and len(sink.messages) == 1


def test_invitations_are_for_staff_and_provisioned_cases_only(client, db, world, sink):
    token = login(client, "op-a")
    case_id = _contracted_case(client, db, token)
    r = client.post(f"{API}/{case_id}/invite", headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and "not provisioned" in r.json()["detail"]
    client.post(f"{API}/{case_id}/provision", json=PROVISION, headers={"X-CSRF-Token": token})
    for user in ("cadmin-a", "viewer-a"):
        other = login(client, user)
        assert (
            client.post(f"{API}/{case_id}/invite", headers={"X-CSRF-Token": other}).status_code
            == 403
        )
    other = login(client, "op-zzbmarker")  # not assigned the new tenant
    assert (
        client.post(f"{API}/{case_id}/invite", headers={"X-CSRF-Token": other}).status_code == 404
    )
    assert len(sink.messages) == 1


def test_without_a_relay_the_initial_password_is_shown_as_before(client, db, world, sink, settings):
    settings.respond_smtp_host = ""
    token = login(client, "op-a")
    case_id = _contracted_case(client, db, token)
    r = client.post(f"{API}/{case_id}/provision", json=PROVISION, headers={"X-CSRF-Token": token})
    created = r.json()
    assert created["initial_password"] and created["invitation"]["configured"] is False
    assert sink.messages == []
    r = client.post(f"{API}/{case_id}/invite", headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and "SMTP" in r.json()["detail"]


def test_an_unreachable_relay_is_a_clear_error(client, db, world, settings):
    settings.respond_smtp_port = free_port()  # nothing listens there
    token = login(client, "op-a")
    case_id = _contracted_case(client, db, token)
    r = client.post(f"{API}/{case_id}/provision", json=PROVISION, headers={"X-CSRF-Token": token})
    created = r.json()
    assert (
        created["invitation"]["sent"] is False
        and "could not send" in created["invitation"]["error"]
    )
    assert created["initial_password"]
