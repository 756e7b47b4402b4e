"""Verdicts as :class:`~mamori.model.Event` objects, so detection and incidents see them.

The scan area does not know the bus: gateways hand these events to an injected
:class:`~mamori.model.EventSink` (or any ``Callable[[Event], None]``); the wiring layer
(``mamori up``) connects that to the bus.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mamori.model import Event
from mamori.scan.verdict import Verdict

DATA_TYPE = "scan:verdict"
EventCallback = Callable[[Event], None]


def verdict_event(
    verdict: Verdict,
    *,
    source: str = "scan",
    tenant: str | None = None,
    host: str | None = None,
    context: dict[str, Any] | None = None,
    timestamp: datetime | None = None,
) -> Event:
    """One flat event for ``verdict`` (ECS-style field names).

    ``context`` adds fields of the surrounding transaction (``mail.from``, ``url.full``,
    ``quarantine.id``...). ``raw`` is the verdict as JSON, so nothing is lost.
    """
    ts = timestamp or datetime.now(UTC)
    fields: dict[str, Any] = {
        "event.kind": "alert" if not verdict.clean else "event",
        "event.category": "malware" if not verdict.clean else "file",
        "event.action": "scan",
        "event.outcome": verdict.outcome.value,
        "scan.outcome": verdict.outcome.value,
        "scan.reasons": [r.code for r in verdict.reasons],
        "scan.categories": sorted({r.category.value for r in verdict.reasons}),
        "scan.signatures": [
            r.detail for r in verdict.reasons if r.code in ("signature", "hash_ioc", "eicar")
        ],
        "scan.summary": verdict.summary("en"),
        "scan.items": verdict.items_scanned,
        "file.name": verdict.name,
        "file.size": verdict.size,
        "file.hash.sha256": verdict.sha256,
        "file.type": verdict.detected_type,
    }
    if verdict.md5:
        fields["file.hash.md5"] = verdict.md5
    if context:
        fields.update(context)
    raw = json.dumps(
        {"@timestamp": ts.isoformat(), "verdict": verdict.to_dict(), "context": context or {}},
        ensure_ascii=False,
        default=str,
        sort_keys=True,
    )
    return Event(
        fields=fields,
        timestamp=ts,
        source=source,
        raw=raw,
        data_type=DATA_TYPE,
        tenant=tenant,
        host=host,
    )


__all__ = ["DATA_TYPE", "EventCallback", "verdict_event"]
