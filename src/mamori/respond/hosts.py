"""The per-tenant host inventory: which machines a tenant has, as the alerts tell us.

Each alert record with a host marks the host as seen (first/last seen, alert count, the
incident it went to). An alert from a host the inventory did not know yet is still
accepted, but flagged ``unknown_host`` (an unknown machine is itself worth a look); hosts
can also be registered by hand (``source="manual"``) so that their first alert is not.

The isolation state of a host is not stored: :func:`isolation_states` derives it from the
agent command queue (the last ``isolate_host`` / ``release_host`` command and its status).
"""

from __future__ import annotations

import builtins
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from mamori.errors import ValidationError
from mamori.model import utc
from mamori.respond.commands import CommandKind, CommandStatus, EndpointCommand

HostSource = Literal["alert", "manual"]
IsolationState = Literal[
    "not_isolated", "isolation_pending", "isolated", "release_pending", "released"
]
ISOLATION_LABELS_JA: dict[str, str] = {
    "not_isolated": "通常",
    "isolation_pending": "隔離待ち",
    "isolated": "隔離中",
    "release_pending": "隔離解除待ち",
    "released": "隔離解除済",
}
_HOST = re.compile(r"^[A-Za-z0-9_.:\-$]{1,255}$")


@dataclass(slots=True)
class HostRecord:
    tenant: str
    host: str
    first_seen: datetime
    last_seen: datetime
    alert_count: int = 0
    source: HostSource = "alert"
    last_incident_id: str | None = None


def normalise_host(value: str) -> str:
    """A host name as the inventory keys it (lower case). Raises ValidationError."""
    host = value.strip().lower() if isinstance(value, str) else ""
    if not host or not _HOST.match(host):
        raise ValidationError(f"not a host name: {value!r}")
    return host


@runtime_checkable
class HostInventory(Protocol):
    def knows(self, tenant: str, host: str) -> bool:
        """True when the inventory has the host."""

    def seen(self, tenant: str, host: str, ts: datetime, incident_id: str | None = None) -> bool:
        """Mark ``host`` as seen at ``ts`` (one more alert, which went to ``incident_id``)
        in one atomic step; returns True when the inventory knew the host before."""

    def register(self, tenant: str, host: str, now: datetime) -> HostRecord:
        """Add a host by hand (kept as it is when already known)."""

    def list(self, *, tenant: str | None = None) -> builtins.list[HostRecord]:
        """Hosts ordered by tenant and name."""


class MemoryHostInventory:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], HostRecord] = {}
        self._lock = threading.Lock()

    def knows(self, tenant: str, host: str) -> bool:
        with self._lock:
            return (tenant, host.lower()) in self._items

    def seen(self, tenant: str, host: str, ts: datetime, incident_id: str | None = None) -> bool:
        ts = utc(ts)
        key = (tenant, host.lower())
        with self._lock:
            rec = self._items.get(key)
            if rec is None:
                self._items[key] = HostRecord(
                    tenant, key[1], ts, ts, alert_count=1, last_incident_id=incident_id
                )
                return False
            rec.alert_count += 1
            rec.first_seen = min(rec.first_seen, ts)
            rec.last_seen = max(rec.last_seen, ts)
            if incident_id is not None:
                rec.last_incident_id = incident_id
            return True

    def register(self, tenant: str, host: str, now: datetime) -> HostRecord:
        key = (tenant, normalise_host(host))
        with self._lock:
            rec = self._items.get(key)
            if rec is None:
                rec = HostRecord(tenant, key[1], utc(now), utc(now), source="manual")
                self._items[key] = rec
            return replace(rec)

    def list(self, *, tenant: str | None = None) -> builtins.list[HostRecord]:
        with self._lock:
            out = [replace(r) for r in self._items.values() if tenant in (None, r.tenant)]
        return sorted(out, key=lambda r: (r.tenant, r.host))


_ISOLATION_KINDS = (CommandKind.ISOLATE_HOST, CommandKind.RELEASE_HOST)


def isolation_states(commands: Iterable[EndpointCommand]) -> dict[tuple[str, str], str]:
    """(tenant, host) -> isolation state, from the isolate/release commands of the queue.

    The newest command that is pending or succeeded decides: a succeeded isolate means
    ``isolated``, a succeeded release ``released``; a queued or delivered one the matching
    ``..._pending``. Failed, expired and cancelled commands change nothing. Hosts without
    such commands are absent (``not_isolated``).
    """
    states: dict[tuple[str, str], str] = {}
    relevant = sorted(
        (c for c in commands if c.kind in _ISOLATION_KINDS),
        key=lambda c: (c.created_at, c.id),
    )
    for cmd in relevant:
        key = (cmd.tenant, cmd.host.lower())
        isolate = cmd.kind == CommandKind.ISOLATE_HOST
        if cmd.status == CommandStatus.SUCCEEDED:
            states[key] = "isolated" if isolate else "released"
        elif not cmd.status.finished:
            states[key] = "isolation_pending" if isolate else "release_pending"
    return states


__all__ = [
    "ISOLATION_LABELS_JA",
    "HostInventory",
    "HostRecord",
    "HostSource",
    "IsolationState",
    "MemoryHostInventory",
    "isolation_states",
    "normalise_host",
]
