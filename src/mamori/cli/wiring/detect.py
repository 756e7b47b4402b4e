"""The detection consumer of ``mamori up`` and ``mamori worker``.

Runs in both roles (it is a bus consumer, not a listener): the durable consumer ``detect`` on
``mamori.events.>`` matches every event against mamori's bundled Sigma rules plus the folders
in ``Settings.rules_dirs`` and publishes alerts on ``mamori.alerts.<tenant>``. Compiled rules
are cached in ``<data_dir>/cache/sigma``. Switched off with ``MAMORI_DETECT_ENABLED=false``.
Open correlation windows are kept in ``<data_dir>/state/detect-correlation.json`` across a
clean restart (:func:`correlation_state_path`). Values of Sigma placeholders (``expand``
modifier) come from ``Settings.detect_placeholders_file`` and
``Settings.detect_placeholders`` (:func:`stream_placeholders`).
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


def correlation_state_path(settings: Settings) -> Path | None:
    """Where open correlation windows are kept across restarts (None when the data
    directory is not writable: windows then start afresh)."""
    try:
        return settings.ensure_data_dir() / "state" / "detect-correlation.json"
    except (ConfigError, OSError) as exc:
        log.warning("detection: correlation windows will not survive a restart (%s)", exc)
        return None


def stream_placeholders(settings: Settings) -> dict[str, list[str]]:
    """Placeholder values for streaming detection: the file's, then the settings' (a name
    in ``detect_placeholders`` replaces the file's values). A file or value that is not
    valid is logged and left out, so detection still starts (the rules that need it stay
    refused, each with its reason)."""
    from mamori.detect.sigma.placeholders import (
        from_mapping,
        load_placeholder_file,
        merge_placeholders,
    )

    sources: list[dict[str, list[str]]] = []
    if settings.detect_placeholders_file is not None:
        try:
            sources.append(load_placeholder_file(settings.detect_placeholders_file))
        except ConfigError as exc:
            log.error("detection: placeholder file skipped: %s", exc)
    try:
        sources.append(from_mapping(settings.detect_placeholders, "detect_placeholders"))
    except ConfigError as exc:
        log.error("detection: placeholder settings skipped: %s", exc)
    return merge_placeholders(*sources)


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
            load_stream_rules,
            self.settings.rules_dirs,
            cache_dir=rule_cache_dir(self.settings),
            placeholders=stream_placeholders(self.settings),
        )
        engine = SigmaEngine(ruleset)
        # events travel in batch envelopes (mamori.bus.batch); the consumer reads one
        # event per delivery, and a batch is acked once all of its events are
        self.consumer = DetectionConsumer(
            UnbatchingBus(self.bus), engine, state_path=correlation_state_path(self.settings)
        )
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


__all__ = [
    "DetectService",
    "correlation_state_path",
    "make_detect",
    "rule_cache_dir",
    "stream_placeholders",
]
