"""Automatic evidence checks. Activation is this explicit import list (one line per check)."""

from mamori.guideline.checks import investigation_logs, log_analysis  # noqa: F401
from mamori.guideline.checks.base import (
    Check,
    LogSourceSeen,
    Observations,
    Outcome,
    checks,
    checks_for_item,
    record_checks,
    run_checks,
)

__all__ = [
    "Check",
    "LogSourceSeen",
    "Observations",
    "Outcome",
    "checks",
    "checks_for_item",
    "record_checks",
    "run_checks",
]
