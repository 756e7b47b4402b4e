from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mamori.scan.mail.ppap import HoldStore, candidate_passwords


def test_japanese_password_mail():
    text = (
        "お世話になっております。\n先ほどお送りしたファイルのパスワードをお知らせします。\n"
        "パスワード：Ab12#Cd34\nよろしくお願いいたします。"
    )
    assert candidate_passwords(text)[0] == "Ab12#Cd34"


def test_quoted_and_fullwidth_password():
    assert candidate_passwords("パスワードは「ｘＹ９８７６」です。")[0] == "xY9876"


def test_english_and_fallback_tokens():
    found = candidate_passwords("Password: s3cr3t!\nThanks, Taro (taro@example.co.jp)")
    assert found[0] == "s3cr3t!"
    assert all("@" not in f for f in found)
    assert candidate_passwords("解凍キー 7777abcd")[0] == "7777abcd"
    assert len(candidate_passwords(" ".join(f"tok{i:04d}" for i in range(100)), limit=5)) == 5


def test_hold_store_matches_sender_and_recipients(tmp_path):
    store = HoldStore(tmp_path)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    store.add("q1", sender="<A@x.jp>", recipients=["b@y.jp", "C@y.jp"], hours=1, now=now)
    assert [h.id for h in store.matching("a@x.jp", ["c@y.jp", "b@y.jp"], now=now)] == ["q1"]
    assert store.matching("a@x.jp", ["b@y.jp"], now=now) == []  # not all recipients
    assert store.matching("z@x.jp", ["b@y.jp", "c@y.jp"], now=now) == []
    later = now + timedelta(hours=2)
    assert store.matching("a@x.jp", ["b@y.jp", "c@y.jp"], now=later) == []
    assert [h.id for h in HoldStore(tmp_path).expired(now=later)] == ["q1"]  # survives reopen
    store.remove("q1")
    assert store.all() == []
