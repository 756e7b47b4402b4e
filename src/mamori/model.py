"""Shared vocabulary of every area: events, alerts, severities and the sink they flow into.

An :class:`Event` is what parsers produce and what detection reads: a *flat* mapping of
field names as Sigma rules use them (``EventID``, ``Image``, ``CommandLine``, ``src_ip``...)
plus the envelope every event has (timestamp, tenant, host, source parser, raw record).
An :class:`Alert` is what detection produces and what response consumes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

ENVELOPE_FIELDS = ("@timestamp", "tenant", "host", "source", "data_type", "event_id", "raw")


class Severity(StrEnum):
    """Sigma's levels, ordered from least to most severe."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)

    @classmethod
    def parse(cls, value: str | Severity | None) -> Severity:
        if isinstance(value, Severity):
            return value
        if not value:
            return cls.INFORMATIONAL
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValueError(
                f"unknown severity {value!r} (expected one of {', '.join(_SEVERITY_ORDER)})"
            ) from None


_SEVERITY_ORDER = list(Severity)


def utc(ts: datetime) -> datetime:
    """Return ``ts`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def event_id_for(*parts: str | bytes | None) -> str:
    """A deterministic id, so that a replayed record is recognised and stored once."""
    digest = hashlib.sha256()
    for part in parts:
        if part is None:
            part = b""
        digest.update(part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part)
        digest.update(b"\x1f")
    return digest.hexdigest()[:32]


@dataclass(slots=True)
class Event:
    """One normalised record.

    ``fields`` holds the flat, Sigma-named fields only; the envelope lives in attributes.
    ``raw`` is the original record, never dropped. ``id`` defaults to a hash of source,
    tenant, host and raw record, which makes replays idempotent.
    """

    fields: dict[str, Any]
    timestamp: datetime
    source: str
    raw: str
    data_type: str = ""
    tenant: str | None = None
    host: str | None = None
    id: str = ""

    def __post_init__(self) -> None:
        self.timestamp = utc(self.timestamp)
        if not self.id:
            self.id = event_id_for(self.source, self.tenant, self.host, self.raw)

    def get(self, name: str, default: Any = None) -> Any:
        """A field or an envelope value by its flat name (``@timestamp``, ``host``...)."""
        if name in self.fields:
            return self.fields[name]
        envelope = self.envelope()
        return envelope.get(name, default)

    def envelope(self) -> dict[str, Any]:
        return {
            "@timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "tenant": self.tenant,
            "host": self.host,
            "source": self.source,
            "data_type": self.data_type,
            "event_id": self.id,
            "raw": self.raw,
        }

    def to_dict(self) -> dict[str, Any]:
        """The flat DESIGN.md form: fields plus the envelope keys."""
        out = dict(self.fields)
        out.update(self.envelope())
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """Inverse of :meth:`to_dict`."""
        fields = {k: v for k, v in data.items() if k not in ENVELOPE_FIELDS}
        ts = data.get("@timestamp")
        timestamp = (
            datetime.fromisoformat(str(ts).replace("Z", "+00:00")) if ts else datetime.now(UTC)
        )
        return cls(
            fields=fields,
            timestamp=timestamp,
            source=str(data.get("source") or ""),
            raw=str(data.get("raw") or ""),
            data_type=str(data.get("data_type") or ""),
            tenant=data.get("tenant"),
            host=data.get("host"),
            id=str(data.get("event_id") or ""),
        )


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A record a parser could not read: kept with its reason, never silently dropped."""

    source: str
    reason: str
    raw: bytes
    location: str = ""
    tenant: str | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Alert:
    """A detection: which rule fired, on which event, with which fields.

    ``key`` groups duplicates (same rule, host and key fields) for the response area.
    """

    rule_id: str
    rule_title: str
    level: Severity
    timestamp: datetime
    tags: tuple[str, ...] = ()
    tenant: str | None = None
    host: str | None = None
    event: dict[str, Any] = field(default_factory=dict)
    matched: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    source_file: str | None = None
    events: tuple[dict[str, Any], ...] = ()  # for correlation alerts: the contributing events

    @property
    def attack_ids(self) -> tuple[str, ...]:
        """ATT&CK technique ids from the tags (``attack.t1003.001`` -> ``T1003.001``)."""
        out = []
        for tag in self.tags:
            low = tag.lower()
            if low.startswith("attack.t") and low[8:9].isdigit():
                out.append(tag[7:].upper())
        return tuple(out)

    @property
    def attack_tactics(self) -> tuple[str, ...]:
        out = []
        for tag in self.tags:
            low = tag.lower()
            if not low.startswith("attack."):
                continue
            suffix = low[7:]
            if suffix[:1] in ("t", "g", "s") and suffix[1:2].isdigit():
                continue  # technique, group or software id, not a tactic
            out.append(suffix)
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "rule_title": self.rule_title,
            "level": self.level.value,
            "tags": list(self.tags),
            "@timestamp": utc(self.timestamp).isoformat().replace("+00:00", "Z"),
            "tenant": self.tenant,
            "host": self.host,
            "description": self.description,
            "source_file": self.source_file,
            "matched": self.matched,
            "event": self.event,
            "events": list(self.events),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        ts = str(data.get("@timestamp") or datetime.now(UTC).isoformat())
        return cls(
            rule_id=str(data["rule_id"]),
            rule_title=str(data.get("rule_title") or data["rule_id"]),
            level=Severity.parse(data.get("level")),
            timestamp=datetime.fromisoformat(ts.replace("Z", "+00:00")),
            tags=tuple(data.get("tags") or ()),
            tenant=data.get("tenant"),
            host=data.get("host"),
            event=dict(data.get("event") or {}),
            matched=dict(data.get("matched") or {}),
            description=str(data.get("description") or ""),
            source_file=data.get("source_file"),
            events=tuple(data.get("events") or ()),
        )


@runtime_checkable
class EventSink(Protocol):
    """Where parsers and collectors hand their output; never a database directly."""

    def event(self, event: Event) -> None: ...

    def quarantine(self, item: Quarantined) -> None: ...

    def warning(self, message: str) -> None: ...


@runtime_checkable
class AlertSink(Protocol):
    def alert(self, alert: Alert) -> None: ...


__all__ = [
    "ENVELOPE_FIELDS",
    "Alert",
    "AlertSink",
    "Event",
    "EventSink",
    "Quarantined",
    "Severity",
    "event_id_for",
    "utc",
]
