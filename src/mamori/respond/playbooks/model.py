"""Playbook model: a trigger and ordered steps (plain dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mamori.model import Severity
from mamori.respond.grouping import normalise_tactics
from mamori.respond.models import Incident, ObservableKind

StepKind = Literal["notify", "task", "action", "wait_for_approval"]
TriggerEvent = Literal["opened", "grouped"]


@dataclass(frozen=True, slots=True)
class Trigger:
    """When a playbook runs. Every given condition must hold; within one, any value matches."""

    on: tuple[TriggerEvent, ...] = ("opened",)
    severities: frozenset[Severity] = frozenset()
    min_severity: Severity | None = None
    tags: frozenset[str] = frozenset()
    observable_types: frozenset[ObservableKind] = frozenset()
    tenants: frozenset[str] = frozenset()

    def matches(self, incident: Incident, event: TriggerEvent) -> bool:
        if event not in self.on:
            return False
        if self.tenants and incident.tenant not in self.tenants:
            return False
        if self.severities and incident.severity not in self.severities:
            return False
        if self.min_severity and incident.severity.rank < self.min_severity.rank:
            return False
        if self.tags:
            have = {t.lower() for t in incident.tags}
            have |= {f"attack.{t}" for t in normalise_tactics(incident.tactics)}
            wanted = {t.lower().replace("-", "_") for t in self.tags}
            have = {t.replace("-", "_") for t in have}
            if not wanted & have:
                return False
        if self.observable_types:
            kinds = {o.kind for o in incident.observables}
            if not self.observable_types & kinds:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    name: str
    line: int
    action: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    approval: str | None = None
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Playbook:
    name: str
    title: str
    trigger: Trigger
    steps: tuple[Step, ...]
    source: str
    line: int = 1
    tenant: str | None = None  # per-tenant playbook (None: package/global)
    enabled: bool = True
    description: str = ""


__all__ = ["Playbook", "Step", "StepKind", "Trigger", "TriggerEvent"]
