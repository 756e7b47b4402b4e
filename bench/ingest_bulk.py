"""Bulk intake core (what ``POST /api/v1/ingest/{source}`` will call) into the embedded bus.

Run: ``.venv/bin/python bench/ingest_bulk.py [--events 200000] [--per-request 5000]``.
Measures gzip'ed NDJSON bodies through :func:`mamori.ingest.intake.accept_bulk` (inflate,
split, durable publish), then the pipeline parsing them with ``json_lines``. The HTTP layer
itself (FastAPI, auth) is not part of this figure: it does not exist on this branch.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import resource
import tempfile
import time
from pathlib import Path

from mamori.bus.embedded import EmbeddedBus
from mamori.ingest.intake import accept_bulk
from mamori.ingest.pipeline import IngestPipeline
from mamori.model import Event, Quarantined


class CountSink:
    def __init__(self) -> None:
        self.events = 0
        self.quarantined = 0

    def event(self, event: Event) -> None:  # noqa: ARG002
        self.events += 1

    def quarantine(self, item: Quarantined) -> None:  # noqa: ARG002
        self.quarantined += 1

    def warning(self, message: str) -> None:
        pass


def body(start: int, count: int) -> bytes:
    lines = (
        json.dumps(
            {
                "@timestamp": f"2026-11-25T10:00:{i % 60:02d}Z",
                "host": {"name": "srv1"},
                "user": f"u{i}",
                "event": {"action": "logon", "outcome": "success"},
                "source": {"ip": f"10.0.{i % 250}.{i % 200 + 1}"},
                "seq": i,
            }
        )
        for i in range(start, start + count)
    )
    return gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1)


async def run(total: int, per_request: int, spool: Path) -> None:
    bodies = [body(i, per_request) for i in range(0, total, per_request)]
    async with EmbeddedBus(spool, max_bytes=4 << 30) as bus:
        start = time.perf_counter()
        accepted = 0
        for b in bodies:
            result = await accept_bulk(
                bus, b, source="json_lines", tenant="acme", content_encoding="gzip"
            )
            accepted += result.accepted
        took = time.perf_counter() - start
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"bulk intake (gzip NDJSON, {per_request}/request, fsync on): {accepted} records "
            f"in {took:.2f} s = {accepted / took:,.0f} rec/s, peak RSS {rss:.0f} MB"
        )
        sink = CountSink()
        start = time.perf_counter()
        await IngestPipeline(bus, sink, batch_size=1000).drain(idle=0.5)
        took = time.perf_counter() - start - 0.5
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"bus -> json_lines -> sink: {sink.events} events in {took:.2f} s = "
            f"{sink.events / took:,.0f} ev/s (quarantined {sink.quarantined}), "
            f"peak RSS {rss:.0f} MB"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--per-request", type=int, default=5_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.events, args.per_request, Path(tmp) / "spool"))


if __name__ == "__main__":
    main()
