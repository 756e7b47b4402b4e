"""Subject names: ``raw.<tenant>.<source>`` for raw records, NATS-style wildcards."""

from __future__ import annotations

import re

RAW_PREFIX = "mamori.raw"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def token(value: str | None) -> str:
    """A subject token from free text: only ``[A-Za-z0-9_-]``, never empty.

    Other characters become ``_``; a missing value becomes ``_``.
    """
    if not value:
        return "_"
    return _UNSAFE.sub("_", value)[:64] or "_"


def raw_subject(tenant: str | None, source: str | None) -> str:
    """The subject raw records of ``tenant`` from ``source`` are published on."""
    return f"{RAW_PREFIX}.{token(tenant)}.{token(source)}"


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` (last) one or more tokens."""
    want = pattern.split(".")
    have = subject.split(".")
    for i, part in enumerate(want):
        if part == ">":
            return i == len(want) - 1 and len(have) > i
        if i >= len(have) or (part != "*" and part != have[i]):
            return False
    return len(have) == len(want)


def events_subject(tenant: str | None, source: str | None) -> str:
    """The subject normalised events are published on (for the store consumer)."""
    return f"mamori.events.{token(tenant)}.{token(source)}"


def quarantine_subject(tenant: str | None, source: str | None) -> str:
    """The subject quarantined records are published on."""
    return f"mamori.quarantine.{token(tenant)}.{token(source)}"


def alerts_subject(tenant: str | None) -> str:
    """The subject detections (``mamori.model.Alert`` as JSON) of ``tenant`` go to."""
    return f"mamori.alerts.{token(tenant)}"


#: Pipeline contract: raw records -> parsers -> normalised events (store, detection; scan
#: verdicts are events with source ``scan``) -> alerts (response).
RAW_ALL = f"{RAW_PREFIX}.>"
EVENTS_ALL = "mamori.events.>"
QUARANTINE_ALL = "mamori.quarantine.>"
ALERTS_ALL = "mamori.alerts.>"

__all__ = [
    "ALERTS_ALL",
    "EVENTS_ALL",
    "QUARANTINE_ALL",
    "RAW_ALL",
    "RAW_PREFIX",
    "alerts_subject",
    "events_subject",
    "matches",
    "quarantine_subject",
    "raw_subject",
    "token",
]
