"""The detection consumer of ``mamori up`` and ``mamori worker``.

Runs in both roles (it is a bus consumer, not a listener): the durable consumer ``detect`` on
``mamori.events.>`` matches every event against mamori's bundled Sigma rules plus the folders
in ``Settings.rules_dirs`` and publishes alerts on ``mamori.alerts.<tenant>``. Compiled rules
are cached in ``<data_dir>/cache/sigma``. Switched off with ``MAMORI_DETECT_ENABLED=false``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from mamori.bus.base import Bus
from mamori.bus.batch import UnbatchingBus
from mamori.config import Settings
from mamori.errors import ConfigError

if TYPE_CHECKING:  # runtime.py lists this factory: no import of it at run time
    from mamori.cli.runtime import BackgroundService, ServiceContext
    from mamori.detect.stream import DetectionConsumer

log = logging.getLogger(__name__)


def rule_cache_dir(settings: Settings) -> Path | None:
    """Where compiled rules are cached (None when the data directory is not writable)."""
    try:
        return settings.ensure_data_dir() / "cache" / "sigma"
    except (ConfigError, OSError) as exc:
        log.warning("detection: no rule cache (%s)", exc)
        return None


class DetectService:
    """Loads the rules (off the event loop) and runs a :class:`DetectionConsumer`."""

    name = "detect"

    def __init__(self, settings: Settings, bus: Bus) -> None:
        self.settings = settings
        self.bus = bus
        self.consumer: DetectionConsumer | None = None

    async def start(self) -> None:
        # imported here: pySigma and the engine cost ~0.5 s, paid only when detection runs
        from mamori.detect.engine import SigmaEngine
        from mamori.detect.stream import DetectionConsumer, load_stream_rules

        ruleset = await asyncio.to_thread(
            load_stream_rules, self.settings.rules_dirs, cache_dir=rule_cache_dir(self.settings)
        )
        engine = SigmaEngine(ruleset)
        # events travel in batch envelopes (mamori.bus.batch); the consumer reads one
        # event per delivery, and a batch is acked once all of its events are
        self.consumer = DetectionConsumer(UnbatchingBus(self.bus), engine)
        await self.consumer.start()

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None


def make_detect(ctx: ServiceContext) -> BackgroundService | None:
    """The detection consumer, for both ``up`` and ``worker``; None when switched off."""
    if not ctx.settings.detect_enabled or ctx.bus is None:
        return None
    return DetectService(ctx.settings, ctx.bus)


__all__ = ["DetectService", "make_detect", "rule_cache_dir"]
