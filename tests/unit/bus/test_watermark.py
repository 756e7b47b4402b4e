"""Collectors are pushed back at the high-water mark; consumers keep room to publish."""

from __future__ import annotations

import pytest

from mamori.bus.base import BusFull, Message
from mamori.bus.embedded import EmbeddedBus
from mamori.bus.watermark import HighWaterBus, over_high_water


def _msg(i: int, size: int = 1000) -> Message:
    return Message("mamori.raw.acme.syslog", b"x" * size, f"m{i}")


async def test_collectors_stop_at_the_mark_and_the_parser_still_publishes(tmp_path):
    async with EmbeddedBus(tmp_path / "spool", max_bytes=20_000, fsync="never") as bus:
        collector = HighWaterBus(bus, 0.5)
        i = 0
        with pytest.raises(BusFull, match="high-water"):
            while True:
                await collector.publish_many([_msg(i)])
                i += 1
        assert 9 <= i <= 11  # about half of 20 kB
        assert collector.is_full() and not bus.is_full()
        assert over_high_water(bus, 0.5) and not over_high_water(bus, 0.9)
        # the parsing consumer publishes on the bus itself: the reserve is there for it
        await bus.publish_many([Message("mamori.events.acme.syslog", b"e" * 1000, "e1")])
        with pytest.raises(BusFull):
            await collector.publish("mamori.raw.acme.syslog", b"y", msg_id="late")
        # draining frees the spool; the collector may publish again
        sub = await collector.subscribe("mamori.>", "drain")
        while batch := await sub.fetch(100, timeout=0.2):
            for delivery in batch:
                await delivery.ack()
        await sub.close()
        assert await collector.delete_consumer("drain")


class _Sizeless:
    def __init__(self, full: bool) -> None:
        self.full = full

    def is_full(self) -> bool:
        return self.full


def test_engines_without_a_size_are_judged_by_is_full():
    assert not over_high_water(_Sizeless(False), 0.1)  # type: ignore[arg-type]
    assert over_high_water(_Sizeless(True), 0.9)  # type: ignore[arg-type]
