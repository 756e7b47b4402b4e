"""Log collection as one service for ``mamori up`` / ``mamori worker``.

``IngestService(config, bus, sink)`` runs the syslog listener (when a port is
configured) and the parsing pipeline on the given bus, handing events to ``sink``. The
wiring layer chooses the bus (:func:`mamori.bus.factory.open_bus`) and the sink (the
store); this module imports neither ``store`` nor ``web``.
"""

from __future__ import annotations

from mamori.bus.base import Bus
from mamori.ingest.collectors.syslog_listener import SyslogListener
from mamori.ingest.config import IngestConfig
from mamori.ingest.pipeline import IngestPipeline
from mamori.model import EventSink


class IngestService:
    """Listener + pipeline with ``start()``/``stop()``; ``listen``/``parse`` pick the parts."""

    def __init__(
        self,
        config: IngestConfig,
        bus: Bus,
        sink: EventSink,
        *,
        listen: bool = True,
        parse: bool = True,
    ) -> None:
        self.config = config
        self.bus = bus
        cfg = config.syslog
        wants_listener = listen and any(
            port is not None for port in (cfg.udp_port, cfg.tcp_port, cfg.tls_port)
        )
        self.listener = SyslogListener(cfg, bus) if wants_listener else None
        self.pipeline = IngestPipeline(bus, sink, config) if parse else None

    async def start(self) -> None:
        """Start the bus, then the pipeline (so its consumer exists), then the listener."""
        await self.bus.start()
        if self.pipeline is not None:
            await self.pipeline.start()
        if self.listener is not None:
            await self.listener.start()

    async def stop(self) -> None:
        """Stop reading first, then let the pipeline finish its batch, then the bus."""
        try:
            if self.listener is not None:
                await self.listener.stop()
            if self.pipeline is not None:
                await self.pipeline.stop()
        finally:
            await self.bus.close()


__all__ = ["IngestService"]
