"""Invitation tokens, expiry rules and the bilingual e-mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mamori.errors import ValidationError
from mamori.service.invite import (
    Invitation,
    InvitationError,
    InvitationUnusableError,
    SmtpRelay,
    build_message,
    check_usable,
    hash_token,
    invitation_link,
    invitation_text,
    new_token,
    same_hash,
)

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
INVITATION = Invitation(
    to="sato@mirai.example.jp",
    tenant_name="株式会社みらい精機",
    username="mirai-admin",
    contact_name="佐藤 花子",
    link="https://mamori.example.jp/invite?token=abc",
    expires_at=NOW + timedelta(hours=72),
)


def test_tokens_are_random_and_only_their_hash_is_kept():
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    token, digest = next(iter(tokens))
    assert len(token) >= 43 and len(digest) == 64 and token not in digest
    assert digest == hash_token(token) and same_hash(token, digest)
    assert not same_hash(token + "x", digest)


@pytest.mark.parametrize(
    ("used", "revoked", "now", "message"),
    [
        (NOW, None, NOW, "already been used"),
        (None, NOW, NOW, "newer invitation"),
        (None, None, NOW + timedelta(hours=72), "expired"),
        (None, None, NOW + timedelta(days=9), "expired"),
    ],
)
def test_used_revoked_or_expired_links_are_refused(used, revoked, now, message):
    with pytest.raises(InvitationUnusableError, match=message):
        check_usable(
            expires_at=NOW + timedelta(hours=72), used_at=used, revoked_at=revoked, now=now
        )


def test_a_fresh_link_is_usable_until_just_before_it_expires():
    check_usable(
        expires_at=NOW + timedelta(hours=72),
        used_at=None,
        revoked_at=None,
        now=NOW + timedelta(hours=72) - timedelta(seconds=1),
    )


def test_links_need_an_http_base_url():
    assert (
        invitation_link("https://x.example.jp/", "a b") == "https://x.example.jp/invite?token=a+b"
    )
    with pytest.raises(ValidationError, match="http"):
        invitation_link("x.example.jp", "t")


def test_the_mail_is_japanese_first_with_english_below():
    subject, body = invitation_text(INVITATION)
    assert subject.startswith("【mamori】管理者アカウントのご案内（株式会社みらい精機）")
    assert "[mamori] Your administrator account" in subject
    assert body.index("佐藤 花子 様") < body.index("Dear 佐藤 花子")
    assert "2026-11-28 12:00 JST" in body  # 03:00 UTC + 72 h, in Japan time
    assert body.count(INVITATION.link) == 2
    subject_en, body_en = invitation_text(INVITATION, "en")
    assert subject_en.startswith("[mamori]") and body_en.startswith("Dear")
    message = build_message(INVITATION, sender="mamori@mssp.example.jp")
    assert message["To"] == "sato@mirai.example.jp"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "mirai-admin" in message.get_content()


def test_an_unreachable_relay_is_an_invitation_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    relay = SmtpRelay(host="127.0.0.1", port=port, timeout=2)
    with pytest.raises(InvitationError, match="could not send"):
        relay.send(build_message(INVITATION, sender="mamori@localhost"))
