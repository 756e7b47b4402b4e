"""Watching running SLA clocks: flag breaches once and escalate them; the list view's clocks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mamori.respond.clock import Clock, system_clock
from mamori.respond.incidents import IncidentService
from mamori.respond.models import SYSTEM, Incident
from mamori.respond.sla import SlaClock, SlaContract, clocks

log = logging.getLogger(__name__)

Escalate = Callable[[Incident, SlaClock, SlaContract], None]


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One line of the incident list: the incident and its running clocks."""

    incident: Incident
    clocks: tuple[SlaClock, ...]

    @property
    def breached(self) -> bool:
        return any(c.breached for c in self.clocks)

    @property
    def next_deadline(self) -> SlaClock | None:
        running = [c for c in self.clocks if c.state == "running"]
        return min(running, key=lambda c: c.deadline) if running else None


def board(
    incidents: list[Incident], contracts: Mapping[str, SlaContract], clock: Clock = system_clock
) -> list[BoardRow]:
    """Incident rows with their SLA clocks, most urgent first (breached, then by deadline)."""
    now = clock()
    rows = []
    for inc in incidents:
        contract = contracts.get(inc.tenant)
        rows.append(BoardRow(inc, tuple(clocks(inc, contract, now)) if contract else ()))

    def urgency(row: BoardRow) -> tuple[int, float]:
        nxt = row.next_deadline
        return (0 if row.breached else 1, nxt.deadline.timestamp() if nxt else float("inf"))

    return sorted(rows, key=urgency)


class SlaMonitor:
    """Run :meth:`check` periodically (the worker does, every 30 s)."""

    def __init__(
        self,
        *,
        service: IncidentService,
        contracts: Mapping[str, SlaContract],
        escalate: Escalate | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.service = service
        self.contracts = contracts
        self.escalate = escalate
        self.clock = clock

    def check(self) -> list[tuple[str, str]]:
        """Flag newly breached clocks; return ``(incident_id, clock)`` pairs flagged now."""
        now = self.clock()
        flagged: list[tuple[str, str]] = []
        for inc in self.service.list(SYSTEM, open_only=True):
            contract = self.contracts.get(inc.tenant)
            if contract is None:
                continue
            for c in clocks(inc, contract, now):
                if not c.breached or c.kind in inc.sla_breaches:
                    continue
                if not self.service.flag_sla_breach(
                    inc.id, c.kind, SYSTEM, deadline=c.deadline.isoformat()
                ):
                    continue
                flagged.append((inc.id, c.kind))
                if self.escalate is None:
                    continue
                try:
                    self.escalate(inc, c, contract)
                except Exception as exc:  # recorded on the incident, never silent
                    log.exception("SLA escalation failed for %s", inc.id)
                    self.service.record_event(
                        inc.id,
                        "escalation_failed",
                        f"SLAエスカレーション失敗: {exc}",
                        SYSTEM,
                        clock=c.kind,
                        error=str(exc),
                    )
                else:
                    self.service.record_event(
                        inc.id,
                        "escalation",
                        "SLA違反をエスカレーション",
                        SYSTEM,
                        clock=c.kind,
                        to=list(contract.escalate_to),
                    )
        return flagged


__all__ = ["BoardRow", "SlaMonitor", "board"]
