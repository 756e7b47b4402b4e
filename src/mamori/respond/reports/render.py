"""Rendering reports: HTML (Jinja2, autoescaped) and PDF (reportlab, Japanese CID font)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

import jinja2
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from mamori.respond.reports.data import IncidentReport, MonthlyReport, duration, jst, svg_bars
from mamori.respond.sla import acknowledged_at, responded_at

FONT = "HeiseiKakuGo-W5"

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("mamori.respond.reports", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=True),
    undefined=jinja2.StrictUndefined,
)
_ENV.globals.update(jst=jst, duration=duration)


def incident_html(report: IncidentReport) -> str:
    inc = report.incident
    acked, responded = acknowledged_at(inc), responded_at(inc)
    return _ENV.get_template("incident.html.j2").render(
        r=report,
        acked=acked,
        responded=responded,
        tta=(acked - inc.created_at).total_seconds() if acked else None,
        ttr=(responded - inc.created_at).total_seconds() if responded else None,
        alert_events=sum(a.count for a in report.alerts),
        generated=jst(report.generated_at),
    )


def monthly_html(report: MonthlyReport) -> str:
    return _ENV.get_template("monthly.html.j2").render(
        r=report,
        generated=jst(report.generated_at),
        chart_incidents=svg_bars(
            [(d.isoformat(), n) for d, n in report.daily_incidents], label="日別インシデント件数"
        ),
        chart_alerts=svg_bars(
            [(d.isoformat(), n) for d, n in report.daily_alerts], label="日別アラート件数"
        ),
    )


# --------------------------------------------------------------------------- PDF
def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _styles() -> dict[str, ParagraphStyle]:
    _register_font()
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=13, wordWrap="CJK")
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=6),
        "h2": ParagraphStyle(
            "h2",
            parent=base,
            fontSize=12,
            leading=16,
            spaceBefore=10,
            spaceAfter=4,
            textColor=colors.HexColor("#2b6cb0"),
        ),
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10),
        "mono": ParagraphStyle("mono", parent=base, fontSize=7, leading=9, wordWrap="CJK"),
    }


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def _table(
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    st: dict[str, ParagraphStyle],
    *,
    header: bool = True,
    mono_cols: Sequence[int] = (),
) -> Table:
    data = [
        [
            _p(cell, st["mono"] if c in mono_cols and (r or not header) else st["small"])
            for c, cell in enumerate(row)
        ]
        for r, row in enumerate(rows)
    ]
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#bbbbbb")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#edf2f7")))
    else:
        style.append(("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#edf2f7")))
    table.setStyle(TableStyle(style))
    return table


def _build(story: list[Any], title: str) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=title,
        author="mamori",
    )

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawRightString(195 * mm, 8 * mm, f"{title} — {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def incident_pdf(report: IncidentReport) -> bytes:
    st = _styles()
    inc = report.incident
    acked, responded = acknowledged_at(inc), responded_at(inc)
    tta = (acked - inc.created_at).total_seconds() if acked else None
    ttr = (responded - inc.created_at).total_seconds() if responded else None
    story: list[Any] = [
        _p("インシデント報告書", st["title"]),
        _p(
            f"{report.organisation or inc.tenant} / {inc.id} / 作成 {jst(report.generated_at)}",
            st["small"],
        ),
        _p("1. 概要", st["h2"]),
        _table(
            [
                ("件名", inc.title),
                ("テナント", inc.tenant),
                (
                    "重大度",
                    inc.severity.value + ("（分析者が調整）" if inc.severity_overridden else ""),
                ),
                ("状態", inc.status.label_ja),
                ("担当者", inc.assignee or "未割当"),
                ("検知日時", jst(inc.created_at)),
                ("受付（TTA）", f"{jst(acked)}（{duration(tta)}）"),
                ("封じ込め／解決（TTR）", f"{jst(responded)}（{duration(ttr)}）"),
                ("対象ホスト", ", ".join(inc.hosts) or "-"),
                ("対象ユーザー", ", ".join(inc.users) or "-"),
                ("ATT&CK 戦術", " → ".join(inc.tactics) or "-"),
                ("アラート", f"{inc.alert_count} 種類 / {sum(a.count for a in report.alerts)} 件"),
                ("個人情報", "漏えい等のおそれあり" if inc.personal_data else "-"),
            ],
            (40, 140),
            st,
            header=False,
        ),
    ]
    if report.clocks:
        state = {"met": "達成", "breached": "違反", "running": "計測中"}
        story += [
            _p("SLA", st["h2"]),
            _table(
                [("項目", "目標", "期限", "結果")]
                + [
                    (
                        "受付" if c.kind == "ack" else "対応",
                        duration(c.target.total_seconds()),
                        jst(c.deadline),
                        state[c.state],
                    )
                    for c in report.clocks
                ],
                (30, 30, 70, 50),
                st,
            ),
        ]
    story += [
        _p("2. タイムライン", st["h2"]),
        _table(
            [("日時", "種別", "実施者", "内容")]
            + [(jst(e.at), e.kind, e.actor, e.summary) for e in inc.timeline],
            (38, 25, 30, 87),
            st,
        ),
        _p("3. 観測された痕跡（IOC）", st["h2"]),
        _table(
            [("種別", "値")]
            + ([(o.kind.value, o.value) for o in inc.observables] or [("-", "なし")]),
            (25, 155),
            st,
            mono_cols=(1,),
        ),
        _p("4. アラート", st["h2"]),
        _table(
            [("初回", "ルール", "ホスト", "重大度", "件数")]
            + [
                (jst(a.first_seen), a.rule_title, a.host or "-", a.level.value, a.count)
                for a in report.alerts
            ],
            (38, 72, 30, 22, 18),
            st,
        ),
        _p("5. 実施した対応", st["h2"]),
        _table(
            [("要求日時", "アクション", "要求者／承認者", "結果", "詳細")]
            + (
                [
                    (
                        jst(a.requested_at),
                        a.action,
                        f"{a.requested_by} / {a.approved_by or '-'}",
                        a.status.value,
                        a.message,
                    )
                    for a in report.actions
                ]
                or [("-", "なし", "", "", "")]
            ),
            (35, 28, 37, 22, 58),
            st,
        ),
        _p("6. 証拠（ハッシュ値 SHA-256）", st["h2"]),
        _table(
            [("ファイル名", "SHA-256", "サイズ", "登録")]
            + (
                [
                    (a.name, a.sha256, str(a.size), f"{a.added_by} {jst(a.added_at)}")
                    for a in inc.attachments
                ]
                or [("なし", "", "", "")]
            ),
            (35, 85, 15, 45),
            st,
            mono_cols=(1,),
        ),
    ]
    if report.breach:
        b = report.breach
        rows: list[tuple[str, str]] = [
            ("認識日時", jst(b.aware_at)),
            (
                "不正の目的のおそれ",
                "あり（確報60日以内）" if b.wrongful_intent else "なし（確報30日以内）",
            ),
            ("影響人数", str(b.affected_count) if b.affected_count is not None else "調査中"),
        ]
        for item in report.breach_items:
            state_text = (
                "完了" if item.done else ("期限超過" if item.overdue else f"残り{item.days_left}日")
            )
            rows.append((item.label, f"期限 {jst(item.due)} — {state_text}"))
        if b.insurance_contact:
            c = b.insurance_contact
            rows.append(("保険会社 連絡先", f"{c.name} {c.phone} {c.email} {c.reference}"))
        if b.oem_contact:
            c = b.oem_contact
            rows.append(("OEM 連絡先", f"{c.name} {c.phone} {c.email}"))
        story += [_p("7. 個人情報の漏えい等", st["h2"]), _table(rows, (55, 125), st, header=False)]
    if inc.comments:
        story.append(_p("所見・コメント", st["h2"]))
        story += [_p(f"{c.author}（{jst(c.at)}）: {c.text}", st["base"]) for c in inc.comments]
    return _build(story, f"インシデント報告書 {inc.id}")


def _bar_chart(values: Sequence[tuple[Any, int]]) -> Drawing:
    drawing = Drawing(180 * mm, 55 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y = 10 * mm, 8 * mm
    chart.width, chart.height = 165 * mm, 42 * mm
    chart.data = [[v for _, v in values] or [0]]
    chart.categoryAxis.categoryNames = [
        str(k)[-2:] if i % 5 == 0 else "" for i, (k, _) in enumerate(values)
    ] or [""]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 6
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 6
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = colors.HexColor("#2b6cb0")
    drawing.add(chart)
    return drawing


def _ranked(label: str, items: Sequence[tuple[str, int]]) -> list[tuple[str, str]]:
    return [(label, "件数")] + ([(k, str(v)) for k, v in items] or [("なし", "")])


def monthly_pdf(report: MonthlyReport) -> bytes:
    st = _styles()
    m = report.metrics
    compliance = "-" if m.sla_compliance is None else f"{m.sla_compliance * 100:.1f}%"
    story: list[Any] = [
        _p(f"月次セキュリティレポート — {report.tenant}（{report.label}）", st["title"]),
        _p(f"作成 {jst(report.generated_at)}", st["small"]),
        _p("1. サマリー", st["h2"]),
        _table(
            [
                ("アラート（集約後）", f"{report.alert_records} 種類 / {report.alert_events} 件"),
                (
                    "インシデント",
                    f"{m.incidents} 件（"
                    + "、".join(f"{k}: {v}" for k, v in m.by_severity.items())
                    + "）",
                ),
                ("状態別", "、".join(f"{k}: {v}" for k, v in report.by_status.items()) or "-"),
                (
                    "平均受付時間（MTTA）",
                    f"{duration(m.mtta_seconds)}（中央値 {duration(m.median_tta_seconds)}）",
                ),
                (
                    "平均対応時間（MTTR）",
                    f"{duration(m.mttr_seconds)}（中央値 {duration(m.median_ttr_seconds)}）",
                ),
                (
                    "SLA 遵守率",
                    f"{compliance}（受付 {m.ack_sla_met}/{m.ack_sla_total}、"
                    f"対応 {m.respond_sla_met}/{m.respond_sla_total}）",
                ),
            ],
            (50, 130),
            st,
            header=False,
        ),
        _p("2. 日別インシデント件数", st["h2"]),
        _bar_chart(report.daily_incidents),
        _p("3. 日別アラート件数", st["h2"]),
        _bar_chart(report.daily_alerts),
        _p("4. 検知の多いルール", st["h2"]),
        _table(_ranked("ルール", report.top_rules), (150, 30), st),
        _p("5. 検知の多いホスト", st["h2"]),
        _table(_ranked("ホスト", report.top_hosts), (150, 30), st),
        Spacer(1, 4 * mm),
    ]
    return _build(story, f"月次レポート {report.tenant} {report.label}")


__all__ = ["incident_html", "incident_pdf", "monthly_html", "monthly_pdf"]
