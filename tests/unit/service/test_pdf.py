"""The quote PDF: Japanese (and English) text, numbers, dates, subsidy, determinism."""

from __future__ import annotations

from datetime import date

from mamori.service.pdf import FONT, render_quote_pdf, write_quote_pdf
from mamori.service.quote import build_quote, issue_quote
from mamori.service.subsidy import SubsidyRequest

from ._pdftext import pdf_text


def _document(**kwargs):
    quote = build_quote(
        "small-network",
        10,
        24,
        subsidy=SubsidyRequest(2025, small_business=True, security_action=True),
        **kwargs,
    )
    return issue_quote(
        quote, number="Q-2026-00007", issue_date=date(2026, 4, 1), customer="株式会社みほん部品"
    )


def test_japanese_quote_has_everything():
    data = render_quote_pdf(_document(), compress=False)
    assert data.startswith(b"%PDF")
    assert FONT.encode() in data
    text = pdf_text(data)
    for expected in (
        "御見積書",
        "株式会社みほん部品 御中",
        "見積番号: Q-2026-00007",
        "発行日: 2026-04-01",
        "有効期限: 2026-05-01",
        "小規模ネットワーク&端末監視コース",
        "10台・24か月",
        "初期費用（UTM機器・小型モデル）",
        "110,000円",
        "187,200円",
        "432,000円",
        "小計（税抜）",
        "729,200円",
        "消費税（10%）",
        "72,920円",
        "802,120円",
        "IT導入補助金（2025年度・見込）",
        "-486,133円",
        "315,987円",
        "× 2/3",
        "別途お見積り",
        "SECURITY ACTIONの自己宣言が前提です。",
        "契約は交付決定日以降に締結してください。",
    ):
        assert expected in text, expected


def test_not_eligible_reason_is_printed():
    quote = build_quote("endpoint", 2, 24, campaign=True, subsidy=SubsidyRequest(2024))
    document = issue_quote(quote, number="Q-2026-00008", issue_date=date(2026, 4, 1), customer="A")
    text = pdf_text(render_quote_pdf(document, compress=False))
    assert "補助対象外の理由" in text
    assert "キャンペーン価格" in text
    assert "-0円" not in text


def test_english_quote():
    text = pdf_text(render_quote_pdf(_document(), lang="en", compress=False))
    assert "Quotation" in text
    assert "Valid until: 2026-05-01" in text
    assert "315,987 yen" in text


def test_output_is_deterministic_and_written_whole(tmp_path):
    first = render_quote_pdf(_document())
    assert first == render_quote_pdf(_document())
    target = write_quote_pdf(_document(), tmp_path / "q.pdf")
    assert target.read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["q.pdf"]


def test_markup_in_names_is_escaped():
    quote = build_quote("endpoint", 1, 12)
    document = issue_quote(
        quote, number="Q-2026-00009", issue_date=date(2026, 4, 1), customer="A&B <Co>"
    )
    assert "A&B <Co> 御中" in pdf_text(render_quote_pdf(document, compress=False))
