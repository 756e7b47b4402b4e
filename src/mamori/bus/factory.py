"""Choosing the bus engine from configuration, so wiring code never names one."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mamori.bus.base import Bus, BusError
from mamori.bus.embedded import EmbeddedBus


def open_bus(
    url: str,
    *,
    data_dir: Path,
    max_bytes: int = 1 << 30,
    fsync: str = "always",
    consumers: Mapping[str, str] | None = None,
) -> Bus:
    """A bus for ``url``: ``embedded`` (spool in ``data_dir/spool``) or ``nats://host:port``.

    The bus is returned unstarted; call ``await bus.start()``.

    Raises:
        BusError: the URL names no known engine.
    """
    if url in ("", "embedded") or url.startswith("embedded:"):
        directory = (
            Path(url.partition(":")[2]) if url.startswith("embedded:") else data_dir / "spool"
        )
        if fsync not in ("always", "never"):
            raise BusError(f"unknown fsync policy {fsync!r} (expected 'always' or 'never')")
        return EmbeddedBus(directory, max_bytes=max_bytes, fsync=fsync)  # type: ignore[arg-type]
    if url.startswith(("nats://", "tls://")):
        from mamori.bus.jetstream import JetStreamBus

        return JetStreamBus(
            [u.strip() for u in url.split(",")], max_bytes=max_bytes, consumers=consumers
        )
    raise BusError(f"unknown bus URL {url!r} (expected 'embedded' or 'nats://host:port')")


__all__ = ["open_bus"]
