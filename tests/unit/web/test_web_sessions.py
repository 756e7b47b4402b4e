from __future__ import annotations

from mamori.web.sessions import SessionCodec, password_fingerprint


def _codec(now: float = 1_000_000.0, max_age: int = 3600) -> SessionCodec:
    return SessionCodec("s" * 48, max_age, clock=lambda: now)


def test_roundtrip_keeps_every_field():
    codec = _codec()
    session = codec.new(uid=7, pw="abc", lang="en", tenant=3)
    back = codec.decode(codec.encode(session))
    assert back is not None and not back.fresh
    assert (back.uid, back.pw, back.lang, back.tenant, back.csrf, back.iat) == (
        7,
        "abc",
        "en",
        3,
        session.csrf,
        session.iat,
    )


def test_expired_and_future_sessions_are_refused():
    issued = _codec(now=1_000_000.0)
    value = issued.encode(issued.new(uid=1))
    assert _codec(now=1_000_000.0 + 3600).decode(value) is not None
    assert _codec(now=1_000_000.0 + 3601).decode(value) is None
    assert _codec(now=1_000_000.0 - 3600).decode(value) is None


def test_forged_or_garbled_cookies_are_refused():
    codec = _codec()
    value = codec.encode(codec.new(uid=1))
    other = SessionCodec("t" * 48, 3600, clock=lambda: 1_000_000.0)
    assert other.decode(value) is None
    assert codec.decode(value[:-2] + "xx") is None
    assert codec.decode("") is None and codec.decode(None) is None
    assert codec.decode("not.a.cookie") is None


def test_malformed_payloads_are_refused():
    codec = _codec()
    serializer = codec._serializer
    assert codec.decode(serializer.dumps(["a list"])) is None
    assert codec.decode(serializer.dumps({"iat": "x", "csrf": "c"})) is None
    assert codec.decode(serializer.dumps({"csrf": "c"})) is None
    odd = codec.decode(serializer.dumps({"iat": 1_000_000, "csrf": "c", "lang": "fr"}))
    assert odd is not None and odd.lang is None


def test_csrf_check_is_exact():
    session = _codec().new()
    assert session.check_csrf(session.csrf)
    assert not session.check_csrf(session.csrf + "x")
    assert not session.check_csrf("")
    assert not session.check_csrf(None)
    assert _codec().new().csrf != session.csrf


def test_password_fingerprint_changes_with_the_hash():
    assert password_fingerprint("a") != password_fingerprint("b")
    assert len(password_fingerprint("a")) == 16
