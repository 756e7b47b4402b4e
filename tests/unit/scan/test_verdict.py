from __future__ import annotations

from mamori.scan.verdict import Category, Outcome, Reason, Verdict, combine, describe


def test_outcome_order():
    assert combine([]) is Outcome.CLEAN
    assert combine([Outcome.QUARANTINED, Outcome.CLEAN]) is Outcome.QUARANTINED
    assert combine([Outcome.QUARANTINED, Outcome.ERROR]) is Outcome.ERROR
    assert combine([Outcome.ERROR, Outcome.BLOCKED]) is Outcome.BLOCKED


def test_describe_in_both_languages():
    reason = Reason(Category.POLICY, "blocked_extension", "exe", path="a.zip/b.exe")
    assert describe(reason, "ja") == "禁止された拡張子のファイルです: .exe (a.zip/b.exe)"
    assert describe(reason, "en") == "blocked file extension: .exe (a.zip/b.exe)"
    assert describe(Reason(Category.ERROR, "new_code", "x"), "en") == "new_code: x"


def test_verdict_dict_and_summary():
    reasons = tuple(Reason(Category.MALWARE, "signature", f"sig{i}") for i in range(5))
    verdict = Verdict(Outcome.BLOCKED, reasons, name="x")
    data = verdict.to_dict()
    assert data["outcome"] == "blocked"
    assert data["reasons"][0]["message_ja"] == "マルウェアを検知しました: sig0"
    assert verdict.summary("en").endswith("and 2 more")
    assert not verdict.temporary_failure
    assert Verdict(Outcome.CLEAN).summary("ja") == "問題は見つかりませんでした"
