"""Hooks the response area emits (subscribers: playbooks, notifications, paging)."""

from __future__ import annotations

from dataclasses import dataclass

from mamori.hooks import Hook
from mamori.respond.models import AlertRecord, Incident


@dataclass(frozen=True, slots=True)
class IncidentOpened(Hook):
    incident: Incident
    alert: AlertRecord


@dataclass(frozen=True, slots=True)
class AlertGrouped(Hook):
    """A new (not duplicate) alert joined an existing incident."""

    incident: Incident
    alert: AlertRecord


@dataclass(frozen=True, slots=True)
class IncidentChanged(Hook):
    incident: Incident
    kind: str
    actor: str


__all__ = ["AlertGrouped", "IncidentChanged", "IncidentOpened"]
