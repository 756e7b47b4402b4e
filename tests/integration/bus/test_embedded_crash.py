"""kill -9 tests: what publish() acknowledged survives, and dedup makes delivery exactly-once."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap

from mamori.bus.dedup import Deduplicator
from mamori.bus.embedded import EmbeddedBus

N = 20_000

PUBLISHER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from mamori.bus.base import Message
    from mamori.bus.embedded import EmbeddedBus

    async def worker(bus, w, n, lock):
        for start in range(w * n, (w + 1) * n, 50):
            batch = [Message("mamori.raw.acme.syslog", b"event %d" % i, f"ev-{i}")
                     for i in range(start, start + 50)]
            await bus.publish_many(batch)
            async with lock:
                sys.stdout.write("".join(m.msg_id + "\\n" for m in batch))
                sys.stdout.flush()

    async def main():
        bus = EmbeddedBus(Path(sys.argv[1]), segment_bytes=64 * 1024)
        await bus.start()
        lock = asyncio.Lock()
        n = int(sys.argv[2]) // 4
        await asyncio.gather(*(worker(bus, w, n, lock) for w in range(4)))
        await bus.close()
        print("DONE", flush=True)

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
        bus = EmbeddedBus(Path(sys.argv[1]), state_interval=0.01)
        await bus.start()
        store = Deduplicator(path=Path(sys.argv[2]))
        sub = await bus.subscribe("mamori.raw.>", "store")
        done = 0
        while True:
            batch = await sub.fetch(200, timeout=5)
            if not batch:
                break
            for d in batch:
                store.add(d.message.msg_id)   # the "insert", idempotent by id
            store.flush()                     # stored before acked
            for d in batch:
                await d.ack()
            done += len(batch)
            print(done, flush=True)
            await asyncio.sleep(0)

    asyncio.run(main())
    """
)


def _run_until(script, args, lines_wanted):
    """Start ``script``, read stdout lines until ``lines_wanted``, then kill -9 it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.strip())
        if len(lines) >= lines_wanted:
            os.kill(proc.pid, signal.SIGKILL)
            break
    lines.extend(x.strip() for x in proc.stdout.read().splitlines())
    proc.wait(timeout=30)
    return proc.returncode, lines


def test_kill_9_publisher_and_consumer_lose_nothing_acknowledged(tmp_path):
    spool = tmp_path / "spool"
    journal = tmp_path / "stored.ids"

    code, acked_lines = _run_until(PUBLISHER, [str(spool), str(N)], N // 2)
    assert code == -signal.SIGKILL, "the publisher finished before it could be killed"
    acked = {line for line in acked_lines if line.startswith("ev-")}
    assert N // 2 <= len(acked) < N

    code, progress = _run_until(CONSUMER, [str(spool), str(journal)], 10)
    assert code == -signal.SIGKILL

    async def finish():
        async with EmbeddedBus(spool) as bus:
            store = Deduplicator(path=journal)
            sub = await bus.subscribe("mamori.raw.>", "store")
            duplicates = 0
            while batch := await sub.fetch(500, timeout=0.3):
                for d in batch:
                    if not store.add(d.message.msg_id):
                        duplicates += 1
                    await d.ack()
            store.close()
            return duplicates

    asyncio.run(finish())
    stored_lines = journal.read_text().splitlines()
    stored = set(stored_lines)
    assert len(stored_lines) == len(stored), "an event was stored twice"
    assert acked <= stored, f"{len(acked - stored)} acknowledged events were lost"
    assert stored <= {f"ev-{i}" for i in range(N)}
