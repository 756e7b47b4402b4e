"""The endpoint command queue: what response actions ask an agent to do on a host.

Actions enqueue :class:`EndpointCommand` s; the endpoint agent (a later area) polls
:meth:`CommandQueue.pending` for its host and reports back with :meth:`CommandQueue.complete`.
Commands expire when no agent picks them up in time, so a dead agent is visible.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from mamori.errors import NotFoundError, ValidationError
from mamori.model import utc
from mamori.respond.models import new_id


class CommandKind(StrEnum):
    ISOLATE_HOST = "isolate_host"
    RELEASE_HOST = "release_host"
    KILL_PROCESS = "kill_process"
    QUARANTINE_FILE = "quarantine_file"
    RESTORE_FILE = "restore_file"


class CommandStatus(StrEnum):
    QUEUED = "queued"
    DELIVERED = "delivered"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (CommandStatus.QUEUED, CommandStatus.DELIVERED)


@dataclass(slots=True)
class EndpointCommand:
    id: str
    tenant: str
    host: str
    kind: CommandKind
    args: dict[str, Any]
    created_at: datetime
    created_by: str
    expires_at: datetime
    incident_id: str | None = None
    status: CommandStatus = CommandStatus.QUEUED
    delivered_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(
        cls,
        *,
        tenant: str,
        host: str,
        kind: CommandKind,
        args: dict[str, Any],
        created_by: str,
        now: datetime,
        ttl: timedelta = timedelta(hours=24),
        incident_id: str | None = None,
    ) -> EndpointCommand:
        if not host:
            raise ValidationError(f"{kind.value} needs a host")
        return cls(
            id=new_id("cmd"),
            tenant=tenant,
            host=host.lower(),
            kind=kind,
            args=dict(args),
            created_at=utc(now),
            created_by=created_by,
            expires_at=utc(now) + ttl,
            incident_id=incident_id,
        )


class CommandQueue(Protocol):
    def enqueue(self, command: EndpointCommand) -> EndpointCommand: ...

    def get(self, command_id: str) -> EndpointCommand: ...

    def pending(self, tenant: str, host: str, now: datetime) -> list[EndpointCommand]:
        """Queued commands for the host, marked delivered (what the agent's poll gets)."""

    def complete(
        self, command_id: str, *, ok: bool, result: dict[str, Any], now: datetime
    ) -> EndpointCommand: ...

    def cancel(self, command_id: str, now: datetime) -> EndpointCommand: ...

    def expire(self, now: datetime) -> list[EndpointCommand]: ...


class MemoryCommandQueue:
    def __init__(self) -> None:
        self._items: dict[str, EndpointCommand] = {}
        self._lock = threading.Lock()

    def enqueue(self, command: EndpointCommand) -> EndpointCommand:
        with self._lock:
            self._items[command.id] = replace(command)
        return command

    def get(self, command_id: str) -> EndpointCommand:
        with self._lock:
            try:
                return replace(self._items[command_id])
            except KeyError:
                raise NotFoundError(f"command {command_id} not found") from None

    def pending(self, tenant: str, host: str, now: datetime) -> list[EndpointCommand]:
        out = []
        with self._lock:
            for cmd in self._items.values():
                if (
                    cmd.tenant == tenant
                    and cmd.host == host.lower()
                    and cmd.status is CommandStatus.QUEUED
                    and cmd.expires_at > utc(now)
                ):
                    cmd.status = CommandStatus.DELIVERED
                    cmd.delivered_at = utc(now)
                    out.append(replace(cmd))
        return sorted(out, key=lambda c: c.created_at)

    def complete(
        self, command_id: str, *, ok: bool, result: dict[str, Any], now: datetime
    ) -> EndpointCommand:
        with self._lock:
            cmd = self._items.get(command_id)
            if cmd is None:
                raise NotFoundError(f"command {command_id} not found")
            if cmd.status.finished:
                raise ValidationError(f"command {command_id} is already {cmd.status.value}")
            cmd.status = CommandStatus.SUCCEEDED if ok else CommandStatus.FAILED
            cmd.finished_at = utc(now)
            cmd.result = dict(result)
            return replace(cmd)

    def cancel(self, command_id: str, now: datetime) -> EndpointCommand:
        with self._lock:
            cmd = self._items.get(command_id)
            if cmd is None:
                raise NotFoundError(f"command {command_id} not found")
            if not cmd.status.finished:
                cmd.status = CommandStatus.CANCELLED
                cmd.finished_at = utc(now)
            return replace(cmd)

    def expire(self, now: datetime) -> list[EndpointCommand]:
        out = []
        with self._lock:
            for cmd in self._items.values():
                if not cmd.status.finished and cmd.expires_at <= utc(now):
                    cmd.status = CommandStatus.EXPIRED
                    cmd.finished_at = utc(now)
                    out.append(replace(cmd))
        return out


__all__ = ["CommandKind", "CommandQueue", "CommandStatus", "EndpointCommand", "MemoryCommandQueue"]
