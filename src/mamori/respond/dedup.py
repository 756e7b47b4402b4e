"""Folding duplicate alerts: same tenant, rule, host and key fields within a window.

Memory is bounded: at most ``max_keys`` keys are remembered (least recently seen evicted
first) and keys whose window has passed are dropped as newer alerts arrive. An evicted
key only means the next duplicate opens a new alert record; nothing is lost.

This is each process's fast path. Between processes the store decides: the intake claims
one record per key and window bucket (``floor(first_seen / window)``) through
:meth:`~mamori.respond.repos.AlertRepo.claim`, so a worker that has not seen the first
alert folds into the record another worker made. An alert storm that straddles a bucket
boundary and is split across workers can thus make at most one extra record per key.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mamori.model import Alert, utc


@dataclass(slots=True)
class _Entry:
    record_id: str
    first_seen: datetime


class Deduplicator:
    """Maps an alert to the id of the alert record it duplicates, if any.

    Args:
        window: duplicates within this time of the first alert are folded.
        max_keys: bound on remembered keys.
        key_fields: per rule id, the event fields that make two alerts "the same"; rules
            not listed use their ``matched`` fields.
    """

    def __init__(
        self,
        *,
        window: timedelta = timedelta(minutes=10),
        max_keys: int = 100_000,
        key_fields: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.window = window
        self.max_keys = max_keys
        self.key_fields = {k: tuple(v) for k, v in (key_fields or {}).items()}
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._newest: datetime | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def key(self, alert: Alert) -> str:
        fields = self.key_fields.get(alert.rule_id)
        if fields is None:
            keyed: dict[str, Any] = dict(alert.matched)
        else:
            keyed = {f: alert.event.get(f, alert.matched.get(f)) for f in fields}
        payload = json.dumps(
            [alert.tenant, alert.rule_id, (alert.host or "").lower(), sorted(keyed.items())],
            ensure_ascii=False,
            default=str,
            sort_keys=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]

    def lookup(self, key: str, ts: datetime) -> str | None:
        """The record id an alert with ``key`` at ``ts`` folds into, or None."""
        ts = utc(ts)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if abs(ts - entry.first_seen) > self.window:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.record_id

    def remember(self, key: str, record_id: str, first_seen: datetime) -> None:
        first_seen = utc(first_seen)
        self._entries[key] = _Entry(record_id, first_seen)
        self._entries.move_to_end(key)
        if self._newest is None or first_seen > self._newest:
            self._newest = first_seen
        self._prune()

    def _prune(self) -> None:
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)
        if self._newest is None:
            return
        horizon = self._newest - self.window
        # entries are in least-recently-seen order; drop expired ones from the front
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.first_seen >= horizon:
                break
            del self._entries[key]


__all__ = ["Deduplicator"]
