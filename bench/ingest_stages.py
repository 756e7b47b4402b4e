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

``--worker [ROUNDS]`` instead times what the pipeline worker process of ``mamori up``
(``MAMORI_INGEST_WORKER_PROCESSES=1``) does per event - parse the raw records, write the
events through to SQLite, pack the envelopes - in-process, on batches as the parse
consumer hands them over; each round runs parse-only and parse+write alternately on a
fresh database and the best CPU figures are printed. ``--dump FILE`` writes the stored
rows (all columns but the row id and ``received_at``, ordered by event id) as JSON lines,
to compare what two versions of the code store for the same input.
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


class _Capture:
    """A bus that only collects what is published (the raw records of the intake)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def publish_many(self, messages: Any) -> None:
        self.messages.extend(messages)


def _dump(db: Database, path: Path) -> None:
    with db.session() as s:
        from sqlalchemy import text

        rows = s.execute(
            text(
                "SELECT tenant_id, event_id, ts, host, source, data_type, fields, raw"
                " FROM events ORDER BY event_id"
            )
        ).all()
    with path.open("w") as out:
        for row in rows:
            out.write(json.dumps(list(row), ensure_ascii=False) + "\n")
    print(f"  dumped {len(rows)} rows to {path}")


async def run_worker(
    root: Path, total: int, per_request: int, rounds: int, dump: Path | None
) -> None:
    from mamori.cli.wiring import ingest as wiring
    from mamori.ingest.pipeline import ParserCache

    capture = _Capture()
    for start in range(0, total, per_request):
        await accept_bulk(
            capture,  # type: ignore[arg-type]
            body(start, per_request),
            source="json_lines",
            tenant="acme",
            content_encoding="gzip",
        )
    wires = [wiring._to_wire(m) for m in capture.messages]
    # the parse consumer hands the worker up to max_batch_bytes of raw records per call
    limit = wiring.ParseConsumer.max_batch_bytes
    calls: list[list[Any]] = []
    size = 0
    for wire in wires:
        if not calls or size + len(wire[1]) > limit:
            calls.append([])
            size = 0
        calls[-1].append(wire)
        size += len(wire[1])
    wiring._WORKER["parsers"] = ParserCache(IngestConfig())
    best: dict[Any, float] = {}
    print(f"worker process work: {total} events, {len(calls)} calls, best of {rounds} rounds")
    for n in range(rounds):
        for write in (False, True):
            db = Database(f"sqlite:///{root / f'worker-{n}-{write}.db'}")
            db.upgrade()
            with db.session() as s:
                tenants.create_tenant(s, slug="acme", name="bench")
            writer = getattr(wiring, "worker_writer", wiring.StoreWriter)
            wiring._WORKER["writer"] = writer(db)
            out = []
            times = []
            for call in calls:
                cpu = time.process_time()
                out.append(wiring._worker_parse(call, write))
                times.append(time.process_time() - cpu)
            cpu = sum(times)
            best[write] = min(best.get(write, cpu), cpu)
            late = sum(times[len(times) // 2 :])
            best[(write, "late")] = min(best.get((write, "late"), late), late)
            if write and dump is not None and n == 0:
                _dump(db, dump)
                with dump.with_suffix(".bus").open("wb") as bus_out:  # the messages sent on
                    for messages, _count in out:
                        for subject, data, msg_id, headers in messages:
                            bus_out.write(
                                f"{subject} {msg_id} {sorted(headers.items())}\n".encode()
                            )
                            bus_out.write(data + b"\n")
            db.dispose()
    parse, both = best[False] / total * 1e6, best[True] / total * 1e6
    print(f"  parse+pack        {parse:6.1f} us/event cpu")
    print(f"  parse+write+pack  {both:6.1f} us/event cpu  (write {both - parse:.1f})")
    late_events = sum(len(c) for c in calls[len(calls) // 2 :]) * total / len(wires)
    parse, both = (best[(w, "late")] / late_events * 1e6 for w in (False, True))
    print(
        f"  second half of the calls (a bigger table): parse+pack {parse:.1f},"
        f" parse+write+pack {both:.1f} us/event cpu (write {both - parse:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--per-request", type=int, default=5000)
    parser.add_argument("--profile", choices=("intake", "parse", "store", "detect"))
    parser.add_argument("--worker", type=int, nargs="?", const=3, metavar="ROUNDS")
    parser.add_argument("--dump", type=Path, help="with --worker: the stored rows to FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mamori-stages-") as d:
        if args.worker:
            asyncio.run(run_worker(Path(d), args.events, args.per_request, args.worker, args.dump))
        else:
            asyncio.run(run(Path(d), args.events, args.per_request, args.profile))


if __name__ == "__main__":
    main()
