"""The notifier protocol and registry.

Writing a notifier: subclass :class:`Notifier`, set ``NAME`` (snake_case, unique),
implement :meth:`Notifier.send` to deliver one :class:`Notification` or raise (any
exception counts as a failed attempt; :class:`~mamori.respond.delivery` retries with
back-off and records the outcome), decorate the class with ``@notifiers.register`` and add
the module to the import list in ``mamori/respond/notify/__init__.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mamori.registry import Registry


@dataclass(frozen=True, slots=True)
class Notification:
    """One message, rendered: subject and text (and HTML for mail), plus structured data."""

    tenant: str
    kind: str
    subject: str
    text: str
    html: str | None = None
    to: tuple[str, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)
    incident_id: str | None = None


class Notifier(ABC):
    NAME: ClassVar[str]

    @property
    def target(self) -> str:
        """Where it goes (recipients, URL without secrets), for the delivery record."""
        return self.NAME

    @abstractmethod
    def send(self, notification: Notification) -> None:
        """Deliver once; raise on failure."""


notifiers: Registry[type[Notifier]] = Registry("notifier", entry_point_group="mamori.notifiers")

__all__ = ["Notification", "Notifier", "notifiers"]
