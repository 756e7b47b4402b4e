"""Incident reports and monthly tenant reports (HTML and PDF, Japanese)."""

from mamori.respond.reports.data import (
    IncidentReport,
    MonthlyReport,
    incident_report,
    monthly_report,
)
from mamori.respond.reports.render import incident_html, incident_pdf, monthly_html, monthly_pdf

__all__ = [
    "IncidentReport",
    "MonthlyReport",
    "incident_html",
    "incident_pdf",
    "incident_report",
    "monthly_html",
    "monthly_pdf",
    "monthly_report",
]
