"""Grouping related alerts into incidents.

Two alerts belong to one incident when they share the tenant and the host or the user,
arrive within ``window`` of the incident's last alert, and continue the same ATT&CK tactic
chain: the new alert's tactic is at or after the earliest tactic the incident has seen in
the kill-chain order below (an alert without tactics, or an incident without any, always
fits). An alert whose tactics all come *before* the chain started opens its own incident.

The index is a bounded in-memory cache; :meth:`Grouper.rebuild` fills it from the open
incidents of a repository after a restart.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mamori.model import utc
from mamori.respond.models import Incident

TACTIC_ORDER: tuple[str, ...] = (
    "reconnaissance",
    "resource_development",
    "initial_access",
    "execution",
    "persistence",
    "privilege_escalation",
    "defense_evasion",
    "credential_access",
    "discovery",
    "lateral_movement",
    "collection",
    "command_and_control",
    "exfiltration",
    "impact",
)
_TACTIC_INDEX = {name: i for i, name in enumerate(TACTIC_ORDER)}


def normalise_tactics(tactics: Iterable[str]) -> list[str]:
    """Known ATT&CK tactic names (``initial-access`` -> ``initial_access``), in order."""
    out = {t.strip().lower().replace("-", "_") for t in tactics}
    return sorted((t for t in out if t in _TACTIC_INDEX), key=_TACTIC_INDEX.__getitem__)


def chain_fits(incident_tactics: Iterable[str], alert_tactics: Iterable[str]) -> bool:
    have = [_TACTIC_INDEX[t] for t in normalise_tactics(incident_tactics)]
    new = [_TACTIC_INDEX[t] for t in normalise_tactics(alert_tactics)]
    if not have or not new:
        return True
    return max(new) >= min(have)


@dataclass(slots=True)
class _Open:
    incident_id: str
    tenant: str
    last_at: datetime
    tactics: set[str] = field(default_factory=set)
    keys: set[tuple[str, str, str]] = field(default_factory=set)


class Grouper:
    """Finds the open incident a new alert belongs to."""

    def __init__(
        self, *, window: timedelta = timedelta(minutes=30), max_incidents: int = 50_000
    ) -> None:
        self.window = window
        self.max_incidents = max_incidents
        self._open: OrderedDict[str, _Open] = OrderedDict()
        self._by_key: dict[tuple[str, str, str], str] = {}
        # the intake and analysts' changes (merge, split, close) update the index concurrently
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._open)

    @staticmethod
    def _keys(tenant: str, host: str | None, user: str | None) -> list[tuple[str, str, str]]:
        keys = []
        if host:
            keys.append((tenant, "host", host.lower()))
        if user:
            keys.append((tenant, "user", user.lower()))
        return keys

    def find(
        self,
        tenant: str,
        host: str | None,
        user: str | None,
        tactics: Iterable[str],
        ts: datetime,
    ) -> str | None:
        with self._lock:
            return self._find(tenant, host, user, list(tactics), utc(ts))

    def _find(
        self, tenant: str, host: str | None, user: str | None, tactics: list[str], ts: datetime
    ) -> str | None:
        best: _Open | None = None
        for key in self._keys(tenant, host, user):
            incident_id = self._by_key.get(key)
            item = self._open.get(incident_id) if incident_id else None
            if item is None:
                continue
            if abs(ts - item.last_at) > self.window:
                continue
            if not chain_fits(item.tactics, tactics):
                continue
            if best is None or item.last_at > best.last_at:
                best = item
        return best.incident_id if best else None

    def remember(
        self,
        incident_id: str,
        tenant: str,
        host: str | None,
        user: str | None,
        tactics: Iterable[str],
        ts: datetime,
    ) -> None:
        with self._lock:
            self._remember(incident_id, tenant, host, user, tactics, utc(ts))

    def _remember(
        self,
        incident_id: str,
        tenant: str,
        host: str | None,
        user: str | None,
        tactics: Iterable[str],
        ts: datetime,
    ) -> None:
        item = self._open.get(incident_id)
        if item is None:
            item = _Open(incident_id, tenant, ts)
            self._open[incident_id] = item
        item.last_at = max(item.last_at, ts)
        item.tactics.update(normalise_tactics(tactics))
        for key in self._keys(tenant, host, user):
            self._by_key[key] = incident_id
            item.keys.add(key)
        self._open.move_to_end(incident_id)
        while len(self._open) > self.max_incidents:
            oldest, _ = next(iter(self._open.items()))
            self._forget(oldest)

    def forget(self, incident_id: str) -> None:
        with self._lock:
            self._forget(incident_id)

    def _forget(self, incident_id: str) -> None:
        item = self._open.pop(incident_id, None)
        if item is None:
            return
        for key in item.keys:
            if self._by_key.get(key) == incident_id:
                del self._by_key[key]

    def remember_incident(self, incident: Incident) -> None:
        """Index every host and user of an (open) incident."""
        with self._lock:
            self._remember_incident(incident)

    def _remember_incident(self, incident: Incident) -> None:
        ts = incident.last_alert_at or incident.created_at
        self._forget(incident.id)
        if not incident.status.is_open or incident.merged_into:
            return
        ts = utc(ts)
        for host in incident.hosts:
            self._remember(incident.id, incident.tenant, host, None, incident.tactics, ts)
        for user in incident.users:
            self._remember(incident.id, incident.tenant, None, user, incident.tactics, ts)
        if not incident.hosts and not incident.users:
            self._remember(incident.id, incident.tenant, None, None, incident.tactics, ts)

    def rebuild(self, incidents: Iterable[Incident]) -> None:
        with self._lock:
            self._open.clear()
            self._by_key.clear()
            for incident in sorted(incidents, key=lambda i: i.last_alert_at or i.created_at):
                self._remember_incident(incident)


__all__ = ["TACTIC_ORDER", "Grouper", "chain_fits", "normalise_tactics"]
