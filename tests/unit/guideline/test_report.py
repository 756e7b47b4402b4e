from __future__ import annotations

from datetime import UTC, datetime

from mamori.guideline.assessment import CheckRecord, new_assessment, set_answer
from mamori.guideline.report import build_report, render_html, render_pdf


def _assessment(jama):
    a = new_assessment(
        jama, tenant="acme", title="<script>alert(1)</script>株式会社テスト", target_level=2
    )
    set_answer(a, jama, 1, "対策完了")
    set_answer(a, jama, 143, "対策完了", comment="<b>x</b>")
    set_answer(a, jama, 2, "一部対策")
    a.checks["143"] = CheckRecord(
        "143",
        "investigation_logs",
        False,
        datetime(2026, 1, 1, tzinfo=UTC),
        "保存期間7日 < 必要90日",
        "retention 7 d",
    )
    return a


def test_html_report_is_escaped_and_japanese(jama):
    html = render_html(
        build_report(jama, _assessment(jama), now=datetime(2026, 11, 25, tzinfo=UTC))
    )
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "サイバーセキュリティ自己評価報告書" in html
    assert "公開情報からの推定のみが100項目" in html and "内容不明（枠のみ）が53項目" in html
    assert "mamori assess import" in html
    assert html.count("<svg") == 2
    assert "自動チェックと矛盾" in html and "No.143" in html
    assert "保存期間7日" in html
    assert "不正アクセスの検知" in html  # a label name in the radar and table
    assert "レベルが未確定の未達項目が 53 項目" in html


def test_english_report(jama):
    html = render_html(build_report(jama, _assessment(jama), lang="en"))
    assert "Cybersecurity self-assessment report" in html and "derived" in html


def test_pdf_report(jama):
    pdf = render_pdf(build_report(jama, _assessment(jama)))
    assert pdf.startswith(b"%PDF-")
    assert b"HeiseiKakuGo-W5" in pdf
    assert len(pdf) > 5000
