"""The management report in Japanese (English available): HTML (Jinja2) and PDF (reportlab).

:func:`build_report` gathers everything a report shows (rates per level and label, the
catalogue notice, the roadmap, contradicted items, automatic results) into a :class:`Report`;
:func:`render_html` and :func:`render_pdf` only lay it out. Charts are drawn here: SVG for
HTML (:mod:`mamori.guideline.charts`) and reportlab graphics for the PDF.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from mamori.guideline.assessment import Assessment
from mamori.guideline.charts import level_bars_svg, radar_svg
from mamori.guideline.models import Framework
from mamori.guideline.roadmap import Roadmap, build_roadmap
from mamori.guideline.scoring import Score, catalogue_notice, score

PDF_FONT = "HeiseiKakuGo-W5"

TEXTS: dict[str, dict[str, str]] = {
    "ja": {
        "title": "サイバーセキュリティ自己評価報告書",
        "tenant": "対象",
        "framework": "ガイドライン",
        "date": "作成日",
        "target": "目標レベル",
        "summary": "達成状況（レベル別・累積）",
        "level": "レベル",
        "rate": "達成率",
        "achieved": "達成",
        "applicable": "対象",
        "partial": "一部対策",
        "not_done": "未対策",
        "unanswered": "未回答",
        "na": "対象外",
        "uncertain": "レベル未確定",
        "labels": "ラベル別の達成率",
        "label": "ラベル",
        "catalogue": "カタログの確からしさ",
        "how_to_import": "公式チェックシート（Excel）を取り込むと、推定・不明の項目が"
        "確認済みになります：mamori assess import シート.xlsx",
        "roadmap": "ロードマップ（未達項目、レベル1から）",
        "item": "項目",
        "status": "状況",
        "closes": "対応する機能・サービス",
        "effort": "工数(人日)",
        "contradicted": "自動チェックと矛盾する「対策完了」",
        "checks": "自動チェックの結果",
        "none": "なし",
        "more": "ほか {n} 項目",
        "note_rate": "達成率 = 対策完了 ÷ (対象項目 − 対象外)。"
        "一部対策・未回答は達成に数えません。",
        "legend": "緑：対策完了　黄：一部対策（達成には数えません）",
        "uncertain_open": "このほか、レベルが未確定の未達項目が {n} 項目あります"
        "（公式チェックシートの取り込みで確定します）。",
        "verified": "確認済み",
        "derived": "推定",
        "unknown": "不明",
        "pass": "合格",
        "fail": "不合格",
        "undecided": "判定不能",
    },
    "en": {
        "title": "Cybersecurity self-assessment report",
        "tenant": "Organisation",
        "framework": "Guideline",
        "date": "Date",
        "target": "Target level",
        "summary": "Achievement by level (cumulative)",
        "level": "Level",
        "rate": "Rate",
        "achieved": "Achieved",
        "applicable": "Applicable",
        "partial": "Partial",
        "not_done": "Not done",
        "unanswered": "Unanswered",
        "na": "N/A",
        "uncertain": "Level uncertain",
        "labels": "Achievement by label",
        "label": "Label",
        "catalogue": "How certain the catalogue is",
        "how_to_import": "Import the official check sheet (Excel) to verify derived and unknown "
        "items: mamori assess import SHEET.xlsx",
        "roadmap": "Roadmap (open items, level 1 first)",
        "item": "Item",
        "status": "Status",
        "closes": "Closed by",
        "effort": "Effort (days)",
        "contradicted": "対策完了 contradicted by automatic checks",
        "checks": "Automatic checks",
        "none": "none",
        "more": "{n} more items",
        "note_rate": "Rate = done ÷ (items − not applicable). Partial and unanswered never count.",
        "legend": "green: done, yellow: partial (not counted as achieved)",
        "uncertain_open": "Another {n} open items have no confirmed level "
        "(import the official check sheet to settle them).",
        "verified": "verified",
        "derived": "derived",
        "unknown": "unknown",
        "pass": "pass",
        "fail": "fail",
        "undecided": "undecided",
    },
}


@dataclass(frozen=True, slots=True)
class Report:
    framework: Framework
    assessment: Assessment
    score: Score
    roadmap: Roadmap
    notice: str
    lang: str
    created_at: datetime
    max_roadmap_rows: int = 60

    @property
    def t(self) -> dict[str, str]:
        return TEXTS[self.lang]

    def level_rows(self) -> list[dict[str, Any]]:
        rows = []
        for lv, r in sorted(self.score.levels.items()):
            rows.append(
                {
                    "name": f"Lv{lv}",
                    "rate": r.rate,
                    "partial_rate": (r.partial / r.applicable) if r.applicable else None,
                    "counts": r,
                }
            )
        return rows

    def label_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "no": no,
                "name": self.framework.label(no).name(self.lang),
                "rate": r.rate,
                "counts": r,
            }
            for no, r in sorted(self.score.labels.items())
        ]

    def status_text(self, status: Any) -> str:
        if status is None:
            return self.t["unanswered"]
        return str(status.value if self.lang == "ja" else status.en)


def build_report(
    framework: Framework,
    assessment: Assessment,
    *,
    lang: str = "ja",
    now: datetime | None = None,
) -> Report:
    """Everything the report shows, computed once."""
    if lang not in TEXTS:
        lang = "ja"
    return Report(
        framework=framework,
        assessment=assessment,
        score=score(framework, assessment),
        roadmap=build_roadmap(framework, assessment),
        notice=catalogue_notice(framework, lang),
        lang=lang,
        created_at=now or datetime.now(UTC),
    )


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("mamori.guideline", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda r: "—" if r is None else f"{r * 100:.1f}%"
    return env


def render_html(report: Report) -> str:
    """A self-contained HTML page (inline CSS and SVG charts, all text escaped)."""
    levels = report.level_rows()
    labels = report.label_rows()
    charts = {
        "levels": Markup(  # noqa: S704 - built by level_bars_svg, which escapes every text
            level_bars_svg([(r["name"], r["rate"], r["partial_rate"]) for r in levels])
        ),
        "radar": Markup(  # noqa: S704 - built by radar_svg, which escapes every text
            radar_svg([(f"{r['no']} {r['name']}", r["rate"]) for r in labels])
        ),
    }
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            r=report,
            t=report.t,
            levels=levels,
            labels=labels,
            charts=charts,
            counts=report.framework.provenance_counts(),
            roadmap=report.roadmap.entries[: report.max_roadmap_rows],
            roadmap_more=max(0, len(report.roadmap.entries) - report.max_roadmap_rows),
            checks=sorted(report.assessment.checks.values(), key=lambda c: _num(c.item_id)),
        )
    )


def _num(item_id: str) -> tuple[int, str]:
    return (int(item_id), "") if item_id.isdigit() else (10**9, item_id)


def render_pdf(report: Report) -> bytes:
    """A PDF with the same content, Japanese text in the built-in CID font."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.spider import SpiderChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from reportlab.platypus.flowables import Flowable

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    t = report.t
    body = ParagraphStyle("body", fontName=PDF_FONT, fontSize=9, leading=13, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=11)
    h1 = ParagraphStyle("h1", parent=body, fontSize=16, leading=22, spaceAfter=6)
    h2 = ParagraphStyle("h2", parent=body, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4)

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        from xml.sax.saxutils import escape

        return Paragraph(escape(text), style)

    def pct(r: float | None) -> str:
        return "—" if r is None else f"{r * 100:.1f}%"

    a = report.assessment
    story: list[Flowable] = [
        p(t["title"], h1),
        p(
            f"{t['tenant']}: {a.title or a.tenant}　{t['framework']}: {report.framework.name_ja} "
            f"{report.framework.version}　{t['date']}: {report.created_at:%Y-%m-%d}"
            + (f"　{t['target']}: Lv{a.target_level}" if a.target_level else "")
        ),
        Spacer(1, 4 * mm),
        p(t["catalogue"], h2),
        p(report.notice),
        p(t["how_to_import"], small),
        p(t["summary"], h2),
    ]
    levels = report.level_rows()
    drawing = Drawing(170 * mm, 60 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 15 * mm, 8 * mm, 70 * mm, 48 * mm
    chart.data = [
        [round((r["rate"] or 0) * 100, 1) for r in levels],
        [round((r["partial_rate"] or 0) * 100, 1) for r in levels],
    ]
    chart.categoryAxis.style = "stacked"
    chart.categoryAxis.categoryNames = [r["name"] for r in levels]
    chart.categoryAxis.labels.fontName = PDF_FONT
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 25
    chart.valueAxis.labels.fontName = PDF_FONT
    chart.bars[0].fillColor = colors.HexColor("#2f7d4f")
    chart.bars[1].fillColor = colors.HexColor("#e0a526")
    drawing.add(chart)
    story.append(drawing)
    rows = [
        [
            t["level"],
            t["rate"],
            t["achieved"],
            t["applicable"],
            t["partial"],
            t["not_done"],
            t["unanswered"],
            t["na"],
            t["uncertain"],
        ]
    ]
    for r in levels:
        c = r["counts"]
        rows.append(
            [
                r["name"],
                pct(c.rate),
                c.achieved,
                c.applicable,
                c.partial,
                c.not_done,
                c.unanswered,
                c.not_applicable,
                c.level_uncertain,
            ]
        )
    story.append(_table(rows, Table, TableStyle, colors))
    story.append(p(t["legend"], small))
    story.append(p(t["note_rate"], small))

    story.append(p(t["labels"], h2))
    label_rows = report.label_rows()
    radar = Drawing(170 * mm, 105 * mm)
    spider = SpiderChart()
    spider.x, spider.y, spider.width, spider.height = 35 * mm, 12 * mm, 100 * mm, 85 * mm
    spider.data = [[(r["rate"] or 0) for r in label_rows] or [0, 0, 0]]
    spider.labels = [str(r["no"]) for r in label_rows] or ["", "", ""]
    spider.strands[0].fillColor = colors.Color(0.18, 0.49, 0.31, alpha=0.35)
    spider.strands[0].strokeColor = colors.HexColor("#2f7d4f")
    spider.spokeLabels.fontName = PDF_FONT
    spider.spokeLabels.fontSize = 7
    radar.add(spider)
    story.append(radar)
    rows = [
        [
            "No.",
            t["label"],
            t["rate"],
            t["achieved"],
            t["applicable"],
            t["partial"],
            t["unanswered"],
        ]
    ]
    for r in label_rows:
        c = r["counts"]
        rows.append(
            [
                r["no"],
                p(r["name"], small),
                pct(c.rate),
                c.achieved,
                c.applicable,
                c.partial,
                c.unanswered,
            ]
        )
    story.append(_table(rows, Table, TableStyle, colors, widths=[12 * mm, 60 * mm] + [20 * mm] * 5))

    if report.score.contradicted_items:
        story.append(p(t["contradicted"], h2))
        story.append(
            p(", ".join(f"No.{i}" if i.isdigit() else i for i in report.score.contradicted_items))
        )

    story.append(p(t["roadmap"], h2))
    entries = report.roadmap.entries[: report.max_roadmap_rows]
    rows = [[t["item"], t["level"], t["status"], t["closes"], t["effort"]]]
    for e in entries:
        caps = (
            ", ".join(c.name_ja if report.lang == "ja" else c.name_en for c in e.capabilities)
            or "—"
        )
        text = e.item.text(report.lang) or ("（内容不明）" if report.lang == "ja" else "(unknown)")
        rows.append(
            [
                p(f"{e.item.display_id} {text}", small),
                f"Lv{e.item.level}" if e.item.level is not None else "?",
                p(report.status_text(e.status) + (" ⚠" if e.contradicted else ""), small),
                p(caps, small),
                "" if e.effort_days is None else f"{e.effort_days:g}",
            ]
        )
    if len(rows) == 1:
        rows.append([t["none"], "", "", "", ""])
    story.append(
        _table(
            rows, Table, TableStyle, colors, widths=[70 * mm, 12 * mm, 20 * mm, 60 * mm, 16 * mm]
        )
    )
    more = len(report.roadmap.entries) - len(entries)
    if more > 0:
        story.append(p(t["more"].format(n=more), small))
    if report.roadmap.uncertain:
        story.append(p(t["uncertain_open"].format(n=len(report.roadmap.uncertain)), small))

    checks = sorted(a.checks.values(), key=lambda c: _num(c.item_id))
    if checks:
        story.append(p(t["checks"], h2))
        rows = [[t["item"], t["status"], ""]]
        for c in checks:
            verdict = {True: t["pass"], False: t["fail"], None: t["undecided"]}[c.passed]
            summary = c.summary_ja if report.lang == "ja" else c.summary_en
            rows.append([c.item_id, verdict, p(f"{summary} ({c.at:%Y-%m-%d %H:%M})", small)])
        story.append(_table(rows, Table, TableStyle, colors, widths=[18 * mm, 22 * mm, 138 * mm]))

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=t["title"],
        author="mamori",
        invariant=1,
    )
    doc.build(story)
    return buf.getvalue()


def _table(
    rows: list[list[Any]], table_cls: Any, style_cls: Any, colors: Any, widths: Any = None
) -> Any:
    table = table_cls(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        style_cls(
            [
                ("FONTNAME", (0, 0), (-1, -1), PDF_FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecef")),
                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#9aa3ab")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


__all__ = ["TEXTS", "Report", "build_report", "render_html", "render_pdf"]
