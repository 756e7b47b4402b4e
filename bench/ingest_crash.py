"""Crash figures: publish N events to the embedded bus, ``kill -9`` the publisher half-way,
``kill -9`` a consumer mid-way, restart, and count.

Run: ``.venv/bin/python bench/ingest_crash.py [--events 100000]``. Prints how many events
were acknowledged before the kill, how many the restarted consumer stored, how many
redeliveries the de-duplication removed, and how many acknowledged events were lost
(must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from mamori.bus.dedup import Deduplicator
from mamori.bus.embedded import EmbeddedBus

PUBLISHER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from mamori.bus.base import Message
    from mamori.bus.embedded import EmbeddedBus

    async def worker(bus, w, n, lock):
        for start in range(w * n, (w + 1) * n, 100):
            batch = [Message("mamori.raw.acme.syslog", b"<13>Nov 25 10:00:00 h app: event %d" % i,
                             f"ev-{i}") for i in range(start, start + 100)]
            await bus.publish_many(batch)
            async with lock:
                sys.stdout.write("".join(m.msg_id + "\\n" for m in batch))
                sys.stdout.flush()

    async def main():
        bus = EmbeddedBus(Path(sys.argv[1]))
        await bus.start()
        lock = asyncio.Lock()
        n = int(sys.argv[2]) // 4
        await asyncio.gather(*(worker(bus, w, n, lock) for w in range(4)))
        await bus.close()

    asyncio.run(main())
    """
)

CONSUMER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from mamori.bus.dedup import Deduplicator
    from mamori.bus.embedded import EmbeddedBus

    async def main():
        bus = EmbeddedBus(Path(sys.argv[1]), state_interval=0.05)
        await bus.start()
        store = Deduplicator(path=Path(sys.argv[2]))
        sub = await bus.subscribe("mamori.raw.>", "store")
        done = 0
        while batch := await sub.fetch(500, timeout=5):
            for d in batch:
                store.add(d.message.msg_id)
            store.flush()
            for d in batch:
                await d.ack()
            done += len(batch)
            print(done, flush=True)

    asyncio.run(main())
    """
)


def run_until(script: str, args: list[str], lines_wanted: int) -> list[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line.strip())
        if len(lines) >= lines_wanted:
            os.kill(proc.pid, signal.SIGKILL)
            break
    lines.extend(x.strip() for x in proc.stdout.read().splitlines())
    proc.wait()
    if proc.returncode != -signal.SIGKILL:
        raise SystemExit("the process ended before it could be killed; use more events")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    n = ap.parse_args().events
    with tempfile.TemporaryDirectory() as tmp:
        spool, journal = Path(tmp) / "spool", Path(tmp) / "stored.ids"
        start = time.perf_counter()
        acked = {x for x in run_until(PUBLISHER, [str(spool), str(n)], n // 2) if x}
        took = time.perf_counter() - start
        print(f"publisher killed after {len(acked)} acknowledged events ({took:.1f} s, fsync on)")
        progress = run_until(CONSUMER, [str(spool), str(journal)], 20)
        print(f"consumer killed after storing {progress[-1] if progress else 0} events")

        async def finish() -> tuple[int, int]:
            async with EmbeddedBus(spool) as bus:
                store = Deduplicator(path=journal)
                sub = await bus.subscribe("mamori.raw.>", "store")
                delivered = duplicates = 0
                while batch := await sub.fetch(1000, timeout=0.5):
                    for d in batch:
                        delivered += 1
                        duplicates += not store.add(d.message.msg_id)
                        await d.ack()
                store.close()
                return delivered, duplicates

        delivered, duplicates = asyncio.run(finish())
        stored_lines = journal.read_text().splitlines()
        stored = set(stored_lines)
        print(
            f"after restart: {delivered} delivered, {duplicates} redeliveries removed by "
            f"de-duplication"
        )
        print(
            f"stored {len(stored)} distinct events ({len(stored_lines) - len(stored)} stored "
            f"twice); acknowledged but lost: {len(acked - stored)}"
        )
        if acked - stored or len(stored_lines) != len(stored):
            raise SystemExit("FAILED")


if __name__ == "__main__":
    main()
