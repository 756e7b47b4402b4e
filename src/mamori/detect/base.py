"""The detector contract: events in, alerts out.

To write a detector (an IOC matcher, an anomaly model...), subclass :class:`Detector` in its own
module, set ``NAME`` (snake_case, unique), implement :meth:`Detector.match` (alerts for one
event; never raise on odd input) and, when it keeps state across events, :meth:`Detector.flush`
(alerts that only the end of input decides), then register it with ``@detectors.register``.
A detector never writes storage: the caller hands its alerts to a sink. The same instance
serves batch hunts and the streaming pipeline.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from mamori.model import Alert, AlertSink, Event
from mamori.registry import Registry


class Detector(ABC):
    """Turns events into alerts."""

    NAME: ClassVar[str]

    @abstractmethod
    def match(self, event: Event, *, source_file: str | None = None) -> list[Alert]:
        """Alerts for one event."""

    def flush(self) -> list[Alert]:
        """End of input: alerts of state kept across events (none by default)."""
        return []

    def process(self, event: Event, sink: AlertSink, *, source_file: str | None = None) -> int:
        """Match one event and hand its alerts to ``sink``; returns how many."""
        alerts = self.match(event, source_file=source_file)
        for alert in alerts:
            sink.alert(alert)
        return len(alerts)


detectors: Registry[type[Detector]] = Registry("detector", entry_point_group="mamori.detectors")

__all__ = ["Detector", "detectors"]
