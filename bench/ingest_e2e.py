"""End-to-end log collection figures of ``mamori up`` (a real process, SQLite store).

Run: ``.venv/bin/python bench/ingest_e2e.py [--events 200000] [--per-request 5000]
[--clients 4] [--syslog-events 100000] [--crash-events 100000]``.

1. HTTP bulk: gzip'ed NDJSON bodies to ``POST /api/v1/ingest/json_lines`` from several
   clients. Prints the rate at which the server acknowledged them (2xx = durably queued)
   and the rate until every event was in the ``events`` table (parse + store included),
   plus the server's peak RSS (VmHWM). Retries on 429/503 (Retry-After) are counted.
2. Syslog over TCP: newline-framed RFC 3164 lines on one connection; the rate until all
   are stored; loss is checked by count.
3. Crash: 100,000 events over HTTP in bodies of 1,000; the server is ``kill -9``'ed half
   way; after a restart the bench checks that every acknowledged event is stored exactly
   once, then resends everything that was not acknowledged and checks the total.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from mamori.store.db import Database
from mamori.store.repos import apikeys, tenants


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


WORKER_PROCESSES = 1  # --worker-processes


def prepare(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{data_dir / 'mamori.db'}")
    db.upgrade()
    with db.session() as s:
        tenant = tenants.create_tenant(s, slug="acme", name="bench")
        _key, token = apikeys.create_api_key(s, tenant_id=tenant.id, purpose="ingest")
    db.dispose()
    return token


class Server:
    def __init__(self, data_dir: Path, syslog_port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.syslog_port = syslog_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.peak_rss_kb = 0
        self.child_peak_rss_kb = 0
        self._sampler: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
        env.update(
            {
                "MAMORI_DATA_DIR": str(self.data_dir),
                "MAMORI_FAST_PASSWORD_HASHING": "1",
                "MAMORI_ADMIN_PASSWORD": "bench-password-1234",
                "MAMORI_RETENTION_INTERVAL": "0",
                "MAMORI_INGEST_WORKER_PROCESSES": str(WORKER_PROCESSES),
            }
        )
        if self.syslog_port:
            env["MAMORI_SYSLOG_TCP_PORT"] = str(self.syslog_port)
            env["MAMORI_SYSLOG_BIND"] = "127.0.0.1"
            env["MAMORI_SYSLOG_DEFAULT_TENANT"] = "acme"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mamori", "up", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            cwd=self.data_dir,
            stdout=subprocess.DEVNULL,
            stderr=open(self.data_dir / "server.log", "ab"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("server did not start; see server.log")
            time.sleep(0.1)

    def rss_kb(self) -> int:
        assert self.proc is not None
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return self.peak_rss_kb
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                self.peak_rss_kb = max(self.peak_rss_kb, int(line.split()[1]))
        return self.peak_rss_kb

    def cpu(self) -> tuple[float, float]:
        """CPU seconds (user + system) of the server process and of its child processes
        (the pipeline worker), as far as they run now."""
        assert self.proc is not None
        tick = os.sysconf("SC_CLK_TCK")

        def seconds(pid: int) -> float:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return 0.0
            return (int(fields[11]) + int(fields[12])) / tick

        children: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                children += [int(x) for x in task.read_text().split()]
        for pid in children:
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text()
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.child_peak_rss_kb = max(self.child_peak_rss_kb, int(line.split()[1]))
        return seconds(self.proc.pid), sum(seconds(pid) for pid in children)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.rss_kb()
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=120)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def stored(data_dir: Path, source: str | None = None) -> int:
    with sqlite3.connect(data_dir / "mamori.db", timeout=30) as conn:
        if source:
            return int(
                conn.execute("SELECT count(*) FROM events WHERE source=?", (source,)).fetchone()[0]
            )
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


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


def post(client: httpx.Client, token: str, data: bytes, retries: list[int]) -> bool:
    headers = {"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"}
    while True:
        try:
            r = client.post("/api/v1/ingest/json_lines", content=data, headers=headers, timeout=120)
        except httpx.TransportError:
            return False
        if r.status_code == 200:
            return True
        if r.status_code in (429, 503):
            retries.append(1)
            time.sleep(float(r.headers.get("retry-after", "1")))
            continue
        raise SystemExit(f"unexpected answer {r.status_code}: {r.text[:200]}")


def wait_stored(data_dir: Path, want: int, timeout: float, server: Server) -> float:
    deadline = time.monotonic() + timeout
    while True:
        server.rss_kb()
        server.cpu()
        if stored(data_dir) >= want:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise SystemExit(f"only {stored(data_dir)} of {want} events stored in {timeout}s")
        time.sleep(0.2)


@contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    if keep:
        yield Path(tempfile.mkdtemp(prefix="mamori-bench-"))
    else:
        with tempfile.TemporaryDirectory(prefix="mamori-bench-") as d:
            yield Path(d)


def bench_http(root: Path, total: int, per_request: int, clients: int) -> None:
    data_dir = root / "http"
    token = prepare(data_dir)
    bodies = [body(i, per_request) for i in range(0, total, per_request)]
    server = Server(data_dir)
    server.start()
    retries: list[int] = []
    try:
        with httpx.Client(base_url=server.base) as client:
            cpu0 = server.cpu()
            started = time.monotonic()
            with ThreadPoolExecutor(clients) as pool:
                ok = list(pool.map(lambda b: post(client, token, b, retries), bodies))
            acked = time.monotonic()
        assert all(ok)
        done = wait_stored(data_dir, total, 600, server)
        cpu1 = server.cpu()
    finally:
        server.stop()
    assert stored(data_dir) == total, "events lost or duplicated"
    print(
        f"HTTP bulk: {total} events in {len(bodies)} requests of {per_request} ({clients} clients)"
    )
    print(f"  acknowledged (durably queued): {total / (acked - started):,.0f} events/s")
    print(f"  stored in SQLite (end to end): {total / (done - started):,.0f} events/s")
    print(f"  429/503 answers retried: {len(retries)}; stored exactly {stored(data_dir)}")
    print_resources(server, cpu0, cpu1, total)


def print_resources(
    server: Server, cpu0: tuple[float, float], cpu1: tuple[float, float], total: int
) -> None:
    main, child = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    print(
        f"  server CPU: {main:.1f} s main process + {child:.1f} s worker process"
        f" = {(main + child) / total * 1e6:.0f} us/event"
    )
    print(
        f"  server peak RSS: {server.peak_rss_kb / 1024:,.0f} MB main process,"
        f" {server.child_peak_rss_kb / 1024:,.0f} MB worker process"
    )


def bench_syslog(root: Path, total: int) -> None:
    data_dir = root / "syslog"
    prepare(data_dir)
    server = Server(data_dir, syslog_port=free_port())
    server.start()
    assert server.syslog_port is not None
    lines = [
        f"<38>Nov 25 10:{(i // 60) % 60:02d}:{i % 60:02d} fw1 sshd[{i}]: Failed password for "
        f"user{i % 50} from 10.1.{i % 250}.{i % 200} port {1024 + i % 60000} ssh2\n".encode()
        for i in range(total)
    ]
    try:
        cpu0 = server.cpu()
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.syslog_port)) as conn:
            for i in range(0, total, 2000):
                conn.sendall(b"".join(lines[i : i + 2000]))
        sent = time.monotonic()
        done = wait_stored(data_dir, total, 600, server)
        cpu1 = server.cpu()
    finally:
        server.stop()
    print(f"syslog TCP: {total} lines on one connection")
    print(f"  read by the listener: {total / (sent - started):,.0f} events/s")
    print(f"  stored in SQLite (end to end): {total / (done - started):,.0f} events/s")
    print(f"  stored {stored(data_dir)} (lost {total - stored(data_dir)})")
    print_resources(server, cpu0, cpu1, total)


def seq_counts(data_dir: Path) -> dict[int, int]:
    with sqlite3.connect(data_dir / "mamori.db", timeout=30) as conn:
        rows = conn.execute(
            "SELECT json_extract(fields, '$.seq'), count(*) FROM events GROUP BY 1"
        ).fetchall()
    return {int(seq): int(n) for seq, n in rows}


def bench_crash(root: Path, total: int, per_request: int = 1000) -> None:
    data_dir = root / "crash"
    token = prepare(data_dir)
    starts = list(range(0, total, per_request))
    bodies = {s: body(s, per_request) for s in starts}
    server = Server(data_dir)
    server.start()
    acked: set[int] = set()
    lock = threading.Lock()
    retries: list[int] = []
    killed = threading.Event()

    def send(start: int) -> None:
        if killed.is_set():
            return
        with httpx.Client(base_url=server.base) as client:
            if post(client, token, bodies[start], retries):
                with lock:
                    acked.add(start)
                    if len(acked) * per_request >= total // 2 and not killed.is_set():
                        killed.set()
                        server.kill9()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, starts))
    if not killed.is_set():
        server.kill9()
    acked_events = len(acked) * per_request
    print(
        f"crash: {total} events in bodies of {per_request}; kill -9 after {acked_events}"
        " acknowledged"
    )
    server.start()  # restart on the same data directory
    try:
        want = {s + i for s in acked for i in range(per_request)}
        deadline = time.monotonic() + 300
        while True:
            counts = seq_counts(data_dir)
            if want <= set(counts) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        missing = len(want - set(counts))
        duplicated = sum(1 for s in want if counts.get(s, 0) > 1)
        extra = len(set(counts) - want)
        print(
            f"  after restart: acknowledged {len(want)}, stored {len(want & set(counts))},"
            f" lost {missing}, stored twice {duplicated}"
            f" (+{extra} stored from requests cut by the kill)"
        )
        # the client resends everything it has no 2xx for
        with httpx.Client(base_url=server.base) as client:
            for start in starts:
                if start not in acked:
                    assert post(client, token, bodies[start], retries)
        wait_stored(data_dir, total, 300, server)
        time.sleep(1.0)
        counts = seq_counts(data_dir)
        twice = sum(1 for n in counts.values() if n > 1)
        print(
            f"  after resending the unacknowledged: {len(counts)} distinct of {total},"
            f" stored twice {twice}, rows {stored(data_dir)}"
        )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--per-request", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--syslog-events", type=int, default=100_000)
    parser.add_argument("--crash-events", type=int, default=100_000)
    parser.add_argument("--only", choices=("http", "syslog", "crash"))
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=1,
        help="MAMORI_INGEST_WORKER_PROCESSES of the server (0, 1 or 2)",
    )
    args = parser.parse_args()
    global WORKER_PROCESSES
    WORKER_PROCESSES = args.worker_processes
    with workdir(args.keep) as root:
        print(
            f"machine: {os.cpu_count()} CPUs; data in {root};"
            f" MAMORI_INGEST_WORKER_PROCESSES={WORKER_PROCESSES}"
        )
        if args.only in (None, "http"):
            bench_http(root, args.events, args.per_request, args.clients)
        if args.only in (None, "syslog"):
            bench_syslog(root, args.syslog_events)
        if args.only in (None, "crash"):
            bench_crash(root, args.crash_events)


if __name__ == "__main__":
    main()
