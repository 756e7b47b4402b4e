"""TCP syslog into the embedded bus: events/s with no loss, then parsing; peak memory.

Run: ``.venv/bin/python bench/ingest_syslog.py [--events 200000] [--connections 4]
[--fsync always|never]``. A separate sender process writes the events over TCP (newline
framing) as fast as the listener takes them; the figure is the time until every event is
durably in the spool. Then the pipeline parses everything (syslog parser, sshd mapping)
into a counting sink, and the run checks that every event arrived exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mamori.bus.embedded import EmbeddedBus
from mamori.ingest.collectors.syslog_listener import SyslogListener
from mamori.ingest.config import SyslogConfig
from mamori.ingest.pipeline import IngestPipeline
from mamori.model import Event, Quarantined

SENDER = r"""
import socket, sys, threading
port, total, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def send(c):
    s = socket.create_connection(("127.0.0.1", port))
    buf = []
    for i in range(c, total, conns):
        buf.append(b"<38>Nov 25 10:00:%02d web01 sshd[%d]: Failed password for invalid user "
                   b"u%d from 10.%d.%d.%d port %d ssh2\n"
                   % (i % 60, i, i, i % 250, (i // 250) % 250, i % 200 + 1, 1024 + i % 60000))
        if len(buf) == 1000:
            s.sendall(b"".join(buf)); buf = []
    if buf:
        s.sendall(b"".join(buf))
    s.close()
threads = [threading.Thread(target=send, args=(c,)) for c in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
"""


class CountSink:
    def __init__(self) -> None:
        self.users: set[str] = set()
        self.events = 0
        self.quarantined = 0

    def event(self, event: Event) -> None:
        self.events += 1
        self.users.add(event.fields["user"])

    def quarantine(self, item: Quarantined) -> None:  # noqa: ARG002
        self.quarantined += 1

    def warning(self, message: str) -> None:
        pass


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(total: int, connections: int, fsync: str, spool: Path) -> None:
    bus = EmbeddedBus(spool, fsync=fsync, max_bytes=4 << 30)  # type: ignore[arg-type]
    await bus.start()
    listener = SyslogListener(
        SyslogConfig(bind="127.0.0.1", tcp_port=0, default_tenant="acme"), bus
    )
    await listener.start()
    start = time.perf_counter()
    sender = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SENDER,
        str(listener.tcp_port),
        str(total),
        str(connections),
        stdout=subprocess.DEVNULL,
    )
    while listener.stats["records"] < total:
        await asyncio.sleep(0.01)
        if sender.returncode is not None and sender.returncode != 0:
            raise SystemExit(f"sender failed with {sender.returncode}")
    queued = time.perf_counter() - start
    await sender.wait()
    rss_intake = peak_rss_mb()
    print(
        f"tcp syslog -> embedded bus (fsync={fsync}, {connections} connections): "
        f"{total} events in {queued:.2f} s = {total / queued:,.0f} ev/s, "
        f"spool {bus.size_bytes / 1e6:.1f} MB, peak RSS {rss_intake:.0f} MB"
    )
    sink = CountSink()
    pipeline = IngestPipeline(bus, sink, batch_size=1000)
    start = time.perf_counter()
    await pipeline.drain(idle=0.5)
    parsed = time.perf_counter() - start - 0.5
    print(
        f"bus -> syslog parser -> sink: {sink.events} events in {parsed:.2f} s = "
        f"{sink.events / parsed:,.0f} ev/s, peak RSS {peak_rss_mb():.0f} MB"
    )
    lost = total - len(sink.users)
    print(
        f"check: {len(sink.users)} distinct events of {total} sent, lost {lost}, "
        f"duplicates {sink.events - len(sink.users)}, quarantined {sink.quarantined}"
    )
    await listener.stop()
    await bus.close()
    if lost or sink.events != total:
        raise SystemExit("LOSS OR DUPLICATES")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--fsync", choices=("always", "never"), default="always")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.events, args.connections, args.fsync, Path(tmp) / "spool"))


if __name__ == "__main__":
    main()
