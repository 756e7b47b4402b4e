"""Where the per-event time of the ingest pipeline goes: each stage alone, in-process.

Run: ``.venv/bin/python bench/ingest_stages.py [--events 100000] [--per-request 5000]
[--profile STAGE]``.

The stages of ``mamori up`` for HTTP bulk, timed one after the other on one embedded
spool (``fsync="always"``) and one SQLite database, with CPU time (``process_time``)
next to wall time, in microseconds per event:

1. intake: ``accept_bulk`` (inflate, split, raw records -> spool append);
2. parse: ``ParseConsumer`` (spool read -> parser -> events published on the spool);
3. store: ``StoreConsumer`` (spool read -> decode -> SQLite insert -> ack);
4. detect: the detection consumer (spool read -> decode -> Sigma engine -> ack).

``--profile STAGE`` runs that stage under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gzip
import json
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mamori.bus.embedded import EmbeddedBus
from mamori.cli.wiring.detect import DetectService
from mamori.cli.wiring.ingest import ParseConsumer, StoreConsumer
from mamori.config import Settings
from mamori.ingest.config import IngestConfig
from mamori.ingest.intake import accept_bulk
from mamori.store.db import Database
from mamori.store.repos import tenants


def body(start: int, count: int) -> bytes:
    lines = (
        json.dumps(
            {
                "@timestamp": f"2026-11-25T10:{(i // 60) % 60:02d}:{i % 60:02d}Z",
                "host": f"srv{i % 7}",
                "user": f"u{i % 500}",
                "event": {"action": "logon", "outcome": "success" if i % 9 else "failure"},
                "src_ip": f"10.0.{i % 250}.{i % 200 + 1}",
                "seq": i,
            },
            separators=(",", ":"),
        )
        for i in range(start, start + count)
    )
    return gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1)


async def _inline(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


async def timed(
    name: str, events: int, work: Callable[[], Awaitable[object]], profile: str | None
) -> None:
    prof = cProfile.Profile() if profile == name else None
    if prof is not None:  # run the stage's worker threads inline, so cProfile sees them
        asyncio.to_thread = _inline  # type: ignore[assignment]
    wall, cpu = time.perf_counter(), time.process_time()
    if prof is not None:
        prof.enable()
    await work()
    if prof is not None:
        prof.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"  {name:<7} wall {wall:6.2f} s  cpu {cpu:6.2f} s  "
        f"{cpu / events * 1e6:6.1f} us/event cpu  ({events / wall:,.0f} events/s wall)"
    )
    if prof is not None:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


async def run(root: Path, total: int, per_request: int, profile: str | None) -> None:
    db = Database(f"sqlite:///{root / 'mamori.db'}")
    db.upgrade()
    with db.session() as s:
        tenants.create_tenant(s, slug="acme", name="bench")
    bodies = [body(i, per_request) for i in range(0, total, per_request)]
    bus = EmbeddedBus(root / "spool", fsync="always")
    await bus.start()
    settings = Settings(data_dir=root, _env_file=None)  # type: ignore[call-arg]
    detect = DetectService(settings, bus)
    await detect.start()  # subscribes (so the events stay in the spool for it)
    assert detect.consumer is not None
    await detect.consumer.stop()
    parse = ParseConsumer(bus, IngestConfig())
    store = StoreConsumer(bus, db)
    await store.run_once(timeout=0.01)

    async def intake() -> None:
        for data in bodies:
            await accept_bulk(
                bus, data, source="json_lines", tenant="acme", content_encoding="gzip"
            )

    async def run_detect() -> None:
        assert detect.consumer is not None
        await detect.consumer.drain()

    print(f"{total} events, bodies of {per_request}, spool fsync=always, SQLite")
    await timed("intake", total, intake, profile)
    await timed("parse", total, parse.drain, profile)
    await timed("store", total, store.drain, profile)
    await timed("detect", total, run_detect, profile)
    with db.session() as s:
        from sqlalchemy import text

        n = s.execute(text("SELECT count(*) FROM events")).scalar_one()
    print(f"  stored {n} events; spool {bus.stats()['bytes']:,} bytes")
    await bus.close()
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--per-request", type=int, default=5000)
    parser.add_argument("--profile", choices=("intake", "parse", "store", "detect"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mamori-stages-") as d:
        asyncio.run(run(Path(d), args.events, args.per_request, args.profile))


if __name__ == "__main__":
    main()
