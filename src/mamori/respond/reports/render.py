"""Rendering reports: HTML (Jinja2, autoescaped) and PDF (reportlab, Japanese CID font).

Japanese by default; ``lang="en"`` gives the English wording. The PDF uses reportlab's
built-in CID font ``HeiseiKakuGo-W5`` (no font files needed).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from functools import partial
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

from mamori.respond.models import IncidentStatus
from mamori.respond.reports.data import IncidentReport, MonthlyReport, duration, jst, svg_bars
from mamori.respond.reports.labels import labels
from mamori.respond.sla import acknowledged_at, responded_at

FONT = "HeiseiKakuGo-W5"

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("mamori.respond.reports", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=True),
    undefined=jinja2.StrictUndefined,
)
_ENV.globals.update(jst=jst)


def _status(lang: str) -> Callable[[IncidentStatus | str], str]:
    def label(value: IncidentStatus | str) -> str:
        status = IncidentStatus(value)
        return status.label_ja if lang == "ja" else status.value.replace("_", " ")

    return label


def _month(report: MonthlyReport, t: dict[str, str]) -> str:
    return t["month"].format(year=report.year, month=report.month)


def _common(lang: str) -> dict[str, Any]:
    return {
        "t": labels(lang),
        "lang": lang,
        "duration": partial(duration, lang=lang),
        "status": _status(lang),
    }


def _times(report: IncidentReport) -> dict[str, Any]:
    inc = report.incident
    acked, responded = acknowledged_at(inc), responded_at(inc)
    return {
        "acked": acked,
        "responded": responded,
        "tta": (acked - inc.created_at).total_seconds() if acked else None,
        "ttr": (responded - inc.created_at).total_seconds() if responded else None,
    }


def incident_html(report: IncidentReport, *, lang: str = "ja") -> str:
    return _ENV.get_template("incident.html.j2").render(
        r=report,
        alert_events=sum(a.count for a in report.alerts),
        generated=jst(report.generated_at),
        **_times(report),
        **_common(lang),
    )


def monthly_html(report: MonthlyReport, *, lang: str = "ja") -> str:
    common = _common(lang)
    t = common["t"]
    return _ENV.get_template("monthly.html.j2").render(
        r=report,
        month=_month(report, t),
        generated=jst(report.generated_at),
        chart_incidents=svg_bars(
            [(d.isoformat(), n) for d, n in report.daily_incidents], label=t["m_daily_incidents"]
        ),
        chart_alerts=svg_bars(
            [(d.isoformat(), n) for d, n in report.daily_alerts], label=t["m_daily_alerts"]
        ),
        **common,
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
        "mono": ParagraphStyle("mono", parent=base, fontSize=7, leading=9),
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


def incident_pdf(report: IncidentReport, *, lang: str = "ja") -> bytes:
    st = _styles()
    c = _common(lang)
    t: dict[str, str] = c["t"]
    dur: Callable[[float | None], str] = c["duration"]
    inc = report.incident
    times = _times(report)
    none = t["none"]
    story: list[Any] = [
        _p(t["incident_report"], st["title"]),
        _p(
            f"{report.organisation or inc.tenant} / {inc.id} / {jst(report.generated_at)}",
            st["small"],
        ),
        _p(t["summary"], st["h2"]),
        _table(
            [
                (t["title"], inc.title),
                (t["tenant"], inc.tenant),
                (
                    t["severity"],
                    inc.severity.value + (t["adjusted"] if inc.severity_overridden else ""),
                ),
                (t["status"], c["status"](inc.status)),
                (t["assignee"], inc.assignee or t["unassigned"]),
                (t["detected"], jst(inc.created_at)),
                (t["tta"], f"{jst(times['acked'])} ({dur(times['tta'])})"),
                (t["ttr"], f"{jst(times['responded'])} ({dur(times['ttr'])})"),
                (t["hosts"], ", ".join(inc.hosts) or "-"),
                (t["users"], ", ".join(inc.users) or "-"),
                (t["tactics"], " → ".join(inc.tactics) or "-"),
                (
                    t["alert_count"],
                    f"{inc.alert_count} {t['kinds']} / "
                    f"{sum(a.count for a in report.alerts)} {t['events']}",
                ),
                (t["personal_data"], t["personal_data_yes"] if inc.personal_data else "-"),
            ],
            (45, 135),
            st,
            header=False,
        ),
    ]
    if report.clocks:
        story += [
            _p("SLA", st["h2"]),
            _table(
                [(t["item"], t["target"], t["deadline"], t["result"])]
                + [
                    (t[k.kind], dur(k.target.total_seconds()), jst(k.deadline), t[k.state])
                    for k in report.clocks
                ],
                (30, 30, 70, 50),
                st,
            ),
        ]
    story += [
        _p(t["timeline"], st["h2"]),
        _table(
            [(t["when"], t["kind"], t["actor"], t["what"])]
            + [(jst(e.at), e.kind, e.actor, e.summary) for e in inc.timeline],
            (38, 25, 30, 87),
            st,
        ),
        _p(t["observables"], st["h2"]),
        _table(
            [(t["kind"], t["value"])]
            + ([(o.kind.value, o.value) for o in inc.observables] or [("-", none)]),
            (25, 155),
            st,
            mono_cols=(1,),
        ),
        _p(t["alerts"], st["h2"]),
        _table(
            [(t["first_seen"], t["rule"], t["host"], t["severity"], t["count"])]
            + [
                (jst(a.first_seen), a.rule_title, a.host or "-", a.level.value, str(a.count))
                for a in report.alerts
            ],
            (38, 72, 30, 22, 18),
            st,
        ),
        _p(t["actions"], st["h2"]),
        _table(
            [
                (
                    t["requested"],
                    t["action"],
                    f"{t['requested_by']} / {t['approved_by']}",
                    t["result"],
                    t["detail"],
                )
            ]
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
                or [("-", none, "", "", "")]
            ),
            (35, 28, 37, 22, 58),
            st,
        ),
        _p(t["evidence"], st["h2"]),
        _table(
            [(t["file"], "SHA-256", t["size"], t["added_by"])]
            + (
                [
                    (a.name, a.sha256, str(a.size), f"{a.added_by} {jst(a.added_at)}")
                    for a in inc.attachments
                ]
                or [(none, "", "", "")]
            ),
            (35, 85, 15, 45),
            st,
            mono_cols=(1,),
        ),
    ]
    if report.breach:
        b = report.breach
        rows: list[tuple[str, str]] = [
            (t["aware_at"], jst(b.aware_at)),
            (t["wrongful"], t["wrongful_yes"] if b.wrongful_intent else t["wrongful_no"]),
            (
                t["affected"],
                str(b.affected_count) if b.affected_count is not None else t["investigating"],
            ),
        ]
        for item in report.breach_items:
            state = (
                t["done"]
                if item.done
                else (t["overdue"] if item.overdue else t["days_left"].format(n=item.days_left))
            )
            label = item.label if lang == "ja" else item.label_en
            rows.append((label, f"{t['deadline']} {jst(item.due)} — {state}"))
        if b.insurance_contact:
            k = b.insurance_contact
            rows.append((t["insurance"], f"{k.name} {k.phone} {k.email} {k.reference}"))
        if b.oem_contact:
            k = b.oem_contact
            rows.append((t["oem"], f"{k.name} {k.phone} {k.email}"))
        story += [_p(t["breach"], st["h2"]), _table(rows, (55, 125), st, header=False)]
    if inc.comments:
        story.append(_p(t["comments"], st["h2"]))
        story += [_p(f"{k.author} ({jst(k.at)}): {k.text}", st["base"]) for k in inc.comments]
    return _build(story, f"{t['incident_report']} {inc.id}")


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


def _ranked(
    label: str, count: str, none: str, items: Sequence[tuple[str, int]]
) -> list[tuple[str, str]]:
    return [(label, count)] + ([(k, str(v)) for k, v in items] or [(none, "")])


def monthly_pdf(report: MonthlyReport, *, lang: str = "ja") -> bytes:
    st = _styles()
    c = _common(lang)
    t: dict[str, str] = c["t"]
    dur: Callable[[float | None], str] = c["duration"]
    m = report.metrics
    month = _month(report, t)
    compliance = "-" if m.sla_compliance is None else f"{m.sla_compliance * 100:.1f}%"
    severities = ", ".join(f"{k}: {v}" for k, v in m.by_severity.items())
    statuses = ", ".join(f"{c['status'](k)}: {v}" for k, v in report.by_status.items())
    story: list[Any] = [
        _p(f"{t['monthly_report']} — {report.tenant} ({month})", st["title"]),
        _p(jst(report.generated_at), st["small"]),
        _p(t["m_summary"], st["h2"]),
        _table(
            [
                (
                    t["alerts_deduplicated"],
                    f"{report.alert_records} {t['kinds']} / {report.alert_events} {t['events']}",
                ),
                (t["incidents"], f"{m.incidents} ({severities})"),
                (t["by_status"], statuses or "-"),
                (t["mtta"], f"{dur(m.mtta_seconds)} ({t['median']} {dur(m.median_tta_seconds)})"),
                (t["mttr"], f"{dur(m.mttr_seconds)} ({t['median']} {dur(m.median_ttr_seconds)})"),
                (
                    t["sla_compliance"],
                    f"{compliance} ({t['ack']} {m.ack_sla_met}/{m.ack_sla_total}, "
                    f"{t['respond']} {m.respond_sla_met}/{m.respond_sla_total})",
                ),
            ],
            (55, 125),
            st,
            header=False,
        ),
        _p(t["m_daily_incidents"], st["h2"]),
        _bar_chart(report.daily_incidents),
        _p(t["m_daily_alerts"], st["h2"]),
        _bar_chart(report.daily_alerts),
        _p(t["m_top_rules"], st["h2"]),
        _table(_ranked(t["rule"], t["count"], t["none"], report.top_rules), (150, 30), st),
        _p(t["m_top_hosts"], st["h2"]),
        _table(_ranked(t["host"], t["count"], t["none"], report.top_hosts), (150, 30), st),
        Spacer(1, 4 * mm),
    ]
    return _build(story, f"{t['monthly_report']} {report.tenant} {month}")


__all__ = ["incident_html", "incident_pdf", "monthly_html", "monthly_pdf"]
