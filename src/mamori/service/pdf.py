"""The quote as a PDF in Japanese (English on request), with reportlab's built-in CID font.

The document is numbered, dated and valid until a date; it lists the line items, the
tax-excluded subtotal, consumption tax, the tax-included total, the IT subsidy (or why there
is none) and what the customer pays after the subsidy. No font files are needed:
``HeiseiKakuGo-W5`` is one of the CID fonts every PDF reader provides.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from mamori.service.catalog import PriceBook, load_price_book
from mamori.service.quote import QuoteDocument
from mamori.service.text import Lang, Text, yen

FONT = "HeiseiKakuGo-W5"

_LABELS: dict[str, Text] = {
    "title": Text("御見積書", "Quotation"),
    "number": Text("見積番号", "Quote number"),
    "issued": Text("発行日", "Date"),
    "valid": Text("有効期限", "Valid until"),
    "to": Text("{name} 御中", "To: {name}"),
    "lead": Text("下記のとおりお見積り申し上げます。", "We are pleased to quote as follows."),
    "course": Text("コース", "Course"),
    "terms": Text("台数・期間", "Devices and months"),
    "terms_value": Text("{devices}台・{months}か月", "{devices} devices, {months} months"),
    "item": Text("品目", "Item"),
    "unit": Text("単価", "Unit price"),
    "qty": Text("数量", "Qty"),
    "months": Text("月数", "Months"),
    "amount": Text("金額", "Amount"),
    "subtotal": Text("小計（税抜）", "Subtotal (tax excluded)"),
    "tax": Text("消費税（{rate}%）", "Consumption tax ({rate}%)"),
    "total": Text("合計（税込）", "Total (tax included)"),
    "subsidy": Text("IT導入補助金（{year}年度・見込）", "IT subsidy (FY{year}, estimate)"),
    "subsidy_none": Text("IT導入補助金", "IT subsidy"),
    "pays": Text(
        "お客様ご負担額（税込・補助金控除後）", "Customer pays (tax incl., after subsidy)"
    ),
    "reason": Text("補助対象外の理由: {reason}", "Not subsidised: {reason}"),
    "subsidy_basis": Text(
        "補助対象経費 {fees}（{months}か月分＋初期費用）× {ratio}",
        "eligible fees {fees} ({months} months + initial fee) x {ratio}",
    ),
    "contents": Text("サービス内容", "Included"),
    "notes": Text("備考", "Notes"),
    "version": Text("価格表 {version}", "Price book {version}"),
    "issuer": Text("発行者: {issuer}", "Issued by: {issuer}"),
    "unit_yen": Text("円", " yen"),
}


@functools.lru_cache(maxsize=1)
def _register_font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _money(amount: int, lang: Lang) -> str:
    return yen(amount) if lang == "ja" else f"{amount:,} yen"


def render_quote_pdf(
    document: QuoteDocument,
    *,
    lang: Lang = "ja",
    compress: bool = True,
    price_book: PriceBook | None = None,
) -> bytes:
    """Render ``document`` as a PDF and return its bytes.

    ``compress=False`` leaves the page streams readable (for tests); the output is
    deterministic for the same document (no creation timestamp, fixed ids).
    """
    font = _register_font()
    book = price_book or load_price_book()
    quote = document.quote

    def label(key: str, **values: Any) -> str:
        return _LABELS[key].get(lang).format(**values)

    base = ParagraphStyle("base", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
    title = ParagraphStyle("title", parent=base, fontSize=20, leading=26, alignment=1)
    right = ParagraphStyle("right", parent=base, alignment=TA_RIGHT)
    big = ParagraphStyle("big", parent=base, fontSize=13, leading=18)
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=11)

    def p(text: str, style: ParagraphStyle = base) -> Paragraph:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return Paragraph(escaped, style)

    story: list[Any] = [p(label("title"), title), Spacer(1, 4 * mm)]
    meta = Table(
        [
            [
                p(label("to", name=document.customer), big),
                p(f"{label('number')}: {document.number}", right),
            ],
            ["", p(f"{label('issued')}: {document.issue_date.isoformat()}", right)],
            ["", p(f"{label('valid')}: {document.valid_until.isoformat()}", right)],
            ["", p(label("issuer", issuer=document.issuer), right)],
        ],
        colWidths=[100 * mm, 70 * mm],
    )
    meta.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [meta, Spacer(1, 3 * mm), p(label("lead")), Spacer(1, 2 * mm)]
    headline = Table(
        [
            [p(label("course")), p(quote.course.name.get(lang))],
            [
                p(label("terms")),
                p(label("terms_value", devices=quote.devices, months=quote.months)),
            ],
            [p(label("total"), big), p(_money(quote.tax_included_total, lang), big)],
            [p(label("pays"), big), p(_money(quote.customer_pays_tax_included, lang), big)],
        ],
        colWidths=[70 * mm, 100 * mm],
    )
    headline.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
            ]
        )
    )
    story += [headline, Spacer(1, 5 * mm)]

    rows: list[list[Any]] = [[p(label(k)) for k in ("item", "unit", "qty", "months", "amount")]]
    for item in quote.line_items:
        rows.append(
            [
                p(item.name.get(lang)),
                p(_money(item.unit_price, lang), right),
                p(str(item.quantity), right),
                p(str(item.months) if item.months is not None else "-", right),
                p(_money(item.amount, lang), right),
            ]
        )
    first_total = len(rows)
    totals: list[tuple[str, int]] = [
        (label("subtotal"), quote.fees_total),
        (label("tax", rate=quote.tax_percent), quote.tax),
        (label("total"), quote.tax_included_total),
    ]
    subsidy = quote.subsidy
    if subsidy.fiscal_year is not None:
        totals.append((label("subsidy", year=subsidy.fiscal_year), -subsidy.amount))
    else:
        totals.append((label("subsidy_none"), 0))
    totals.append((label("pays"), quote.customer_pays_tax_included))
    for name, amount in totals:
        shown = f"-{_money(-amount, lang)}" if amount < 0 else _money(amount, lang)
        rows.append([p(name), "", "", "", p(shown, right)])
    table = Table(rows, colWidths=[78 * mm, 28 * mm, 16 * mm, 16 * mm, 32 * mm], repeatRows=1)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    for row in range(first_total, len(rows)):
        style.append(("SPAN", (0, row), (3, row)))
    style.append(("BACKGROUND", (0, len(rows) - 1), (-1, len(rows) - 1), colors.whitesmoke))
    table.setStyle(TableStyle(style))
    story += [table, Spacer(1, 3 * mm)]

    if subsidy.fiscal_year is not None and subsidy.ratio is not None:
        story.append(
            p(
                label(
                    "subsidy_basis",
                    fees=_money(subsidy.eligible_fees, lang),
                    months=subsidy.eligible_months,
                    ratio=f"{subsidy.ratio[0]}/{subsidy.ratio[1]}",
                ),
                small,
            )
        )
    reason = subsidy.reason
    if subsidy.amount == 0 and reason is not None:
        story.append(p(label("reason", reason=reason.get(lang)), small))
    story.append(Spacer(1, 4 * mm))
    contents = "、".join(book.content_name(c).get(lang) for c in quote.course.contents)
    if lang == "en":
        contents = ", ".join(book.content_name(c).get(lang) for c in quote.course.contents)
    story += [p(f"{label('contents')}: {contents}"), Spacer(1, 3 * mm), p(label("notes"))]
    for note in document.notes:
        story.append(p(f"・{note.get(lang)}", small))
    story += [Spacer(1, 3 * mm), p(label("version", version=quote.price_book_version), small)]

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"{label('title')} {document.number}",
        author=document.issuer,
        subject=quote.course.name.get(lang),
        creator="mamori",
        pageCompression=1 if compress else 0,
        invariant=1,
    )
    doc.build(story)
    return buffer.getvalue()


def write_quote_pdf(
    document: QuoteDocument, path: Path, *, lang: Lang = "ja", price_book: PriceBook | None = None
) -> Path:
    """Render ``document`` to ``path`` (written whole: a temporary file, then renamed)."""
    data = render_quote_pdf(document, lang=lang, price_book=price_book)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


__all__ = ["FONT", "render_quote_pdf", "write_quote_pdf"]
