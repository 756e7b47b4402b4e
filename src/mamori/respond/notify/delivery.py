"""Delivering notifications: retries with back-off, and a record of every outcome.

A notification that cannot be delivered ends as a ``failed`` :class:`DeliveryRecord` with
every attempt's error, kept in the repository and reported to ``on_result`` (which the
wiring uses to put it on the incident's timeline). Nothing is dropped silently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from mamori.respond.clock import Clock, system_clock
from mamori.respond.models import new_id
from mamori.respond.notify.base import Notification, Notifier

log = logging.getLogger(__name__)

DeliveryStatus = Literal["delivered", "failed"]


@dataclass(slots=True)
class DeliveryRecord:
    id: str
    channel: str
    target: str
    tenant: str
    kind: str
    subject: str
    incident_id: str | None
    created_at: datetime
    status: DeliveryStatus = "failed"
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    finished_at: datetime | None = None


class DeliveryRepo(Protocol):
    def add(self, record: DeliveryRecord) -> None: ...

    def list(
        self, *, tenant: str | None = None, status: str | None = None
    ) -> list[DeliveryRecord]: ...


class MemoryDeliveryRepo:
    def __init__(self) -> None:
        self._items: list[DeliveryRecord] = []
        self._lock = threading.Lock()

    def add(self, record: DeliveryRecord) -> None:
        with self._lock:
            self._items.append(record)

    def list(self, *, tenant: str | None = None, status: str | None = None) -> list[DeliveryRecord]:
        with self._lock:
            return [
                r for r in self._items if tenant in (None, r.tenant) and status in (None, r.status)
            ]


class Deliverer:
    """Sends through a notifier with ``1 + len(backoff)`` attempts.

    Args:
        backoff: seconds to wait before each retry (default 1, 2, 4).
        sleep: injectable for tests.
        on_result: called with every finished record (delivered or failed).
    """

    def __init__(
        self,
        *,
        repo: DeliveryRepo | None = None,
        backoff: Sequence[float] = (1.0, 2.0, 4.0),
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = system_clock,
        on_result: Callable[[DeliveryRecord], None] | None = None,
    ) -> None:
        self.repo = repo or MemoryDeliveryRepo()
        self.backoff = tuple(backoff)
        self.sleep = sleep
        self.clock = clock
        self.on_result = on_result

    def deliver(self, notifier: Notifier, notification: Notification) -> DeliveryRecord:
        record = DeliveryRecord(
            id=new_id("ntf"),
            channel=notifier.NAME,
            target=notifier.target,
            tenant=notification.tenant,
            kind=notification.kind,
            subject=notification.subject,
            incident_id=notification.incident_id,
            created_at=self.clock(),
        )
        waits = (0.0, *self.backoff)
        for attempt, wait in enumerate(waits, start=1):
            if wait:
                self.sleep(wait)
            record.attempts = attempt
            try:
                notifier.send(notification)
            except Exception as exc:  # every failure is an attempt, recorded
                record.errors.append(f"attempt {attempt}: {type(exc).__name__}: {exc}")
                log.warning("notification %s via %s failed: %s", record.id, notifier.NAME, exc)
                continue
            record.status = "delivered"
            break
        record.finished_at = self.clock()
        if record.status == "failed":
            log.error(
                "notification %s via %s to %s FAILED after %d attempts",
                record.id,
                notifier.NAME,
                record.target,
                record.attempts,
            )
        self.repo.add(record)
        if self.on_result is not None:
            try:
                self.on_result(record)
            except Exception:
                log.exception("recording notification %s failed", record.id)
        return record


__all__ = ["Deliverer", "DeliveryRecord", "DeliveryRepo", "MemoryDeliveryRepo"]
