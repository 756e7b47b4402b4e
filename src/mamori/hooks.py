"""Typed hooks and a tiny dispatcher: features that react to things subscribe here.

A hook is a frozen dataclass naming something that happened (an event parsed, an alert
raised, an incident opened). Subscribers are plain callables registered per hook type;
``default_handlers()`` of the wiring layer (``web``/``cli``) lists which ones run.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mamori.model import Alert, Event

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Hook:
    """Base of every hook."""


@dataclass(frozen=True, slots=True)
class EventParsed(Hook):
    event: Event


@dataclass(frozen=True, slots=True)
class AlertRaised(Hook):
    alert: Alert


@dataclass(frozen=True, slots=True)
class AuditRecorded(Hook):
    action: str
    actor: str | None
    tenant: str | None
    detail: dict[str, Any]


H = TypeVar("H", bound=Hook)
Handler = Callable[[Any], None]


class Dispatcher:
    """Calls every subscriber of a hook's type; one failing subscriber never stops the rest."""

    def __init__(self) -> None:
        self._subscribers: dict[type[Hook], list[Handler]] = defaultdict(list)
        self.failures = 0

    def subscribe(self, hook_type: type[H], handler: Callable[[H], None]) -> None:
        self._subscribers[hook_type].append(handler)

    def emit(self, hook: Hook) -> None:
        for handler in self._subscribers.get(type(hook), ()):
            try:
                handler(hook)
            except Exception:  # a subscriber's bug must not break the pipeline
                self.failures += 1
                log.exception("hook handler %r failed on %s", handler, type(hook).__name__)


__all__ = ["AlertRaised", "AuditRecorded", "Dispatcher", "EventParsed", "Hook"]
