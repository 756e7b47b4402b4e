"""``kill -9`` of ``mamori up`` while its TCP syslog listener is reading a stream.

What "acknowledged" means for syslog over TCP: plain syslog (RFC 6587) has no
application-level acknowledgement, so the sender never learns which lines were taken.
The listener's promise is this: it reads a chunk from the socket, frames it, appends the
frames to the on-disk spool (``publish_many`` returns once they are stored) and only then
reads the next chunk. A line counts as acknowledged once the listener has read it *and*
its spool append has completed - exactly the lines found in the spool after the crash.
Lines still in the kernel's socket buffers, or read but not yet appended, are lost with
the process; the TCP sender sees its connection reset and must resend (that is the limit
of the protocol, not of mamori).

The test sends numbered lines on one connection, ``kill -9``s the server half way, reads
the spool the dead server left (the lines acknowledged in the above sense), restarts the
server on the same data directory and checks that every acknowledged line is stored
exactly once and that nothing else is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from mamori.bus.embedded import EmbeddedBus
from mamori.store.db import Database
from mamori.store.repos import tenants

MAMORI = [sys.executable, "-m", "mamori"]
LINES = 20_000
SEQ = re.compile(rb"seq=(\d+)\b")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _line(i: int) -> bytes:
    return (
        f"<38>Nov 25 10:{(i // 60) % 60:02d}:{i % 60:02d} fw1 sshd[{i}]: Failed password for "
        f"user{i % 50} from 10.1.{i % 250}.{i % 200} port 22 ssh2 seq={i}\n"
    ).encode()


def _stored(db_path: Path) -> Counter[int]:
    """How often each line number is stored in the events table."""
    with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as conn:
        rows = conn.execute("SELECT raw FROM events WHERE source = 'syslog'").fetchall()
    counts: Counter[int] = Counter()
    for (raw,) in rows:
        match = SEQ.search(raw.encode())
        assert match is not None, raw
        counts[int(match.group(1))] += 1
    return counts


def _spooled(spool: Path) -> set[int]:
    """Line numbers the dead server had appended to its spool (raw records)."""

    async def read() -> set[int]:
        seen: set[int] = set()
        async with EmbeddedBus(spool, fsync="never") as bus:
            sub = await bus.subscribe("mamori.raw.>", "crash-check")
            while batch := await sub.fetch(5000, timeout=0.2):
                for delivery in batch:
                    seen.update(int(m) for m in SEQ.findall(delivery.message.data))
            await sub.close()
            assert await bus.delete_consumer("crash-check")
        return seen

    return asyncio.run(read())


class _Server:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [*MAMORI, "up", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, "mamori up ended early"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success:
                    return
            assert time.monotonic() < deadline, "mamori up did not start"
            time.sleep(0.2)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def test_kill_9_mid_stream_stores_every_acknowledged_syslog_line_once(cli_env, tmp_path):
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    db = Database(f"sqlite:///{data_dir / 'mamori.db'}")
    db.upgrade()
    with db.session() as s:
        tenants.create_tenant(s, slug="acme", name="アクメ")
    db.dispose()
    syslog_port = _free_port()
    env = {
        **cli_env,
        "MAMORI_SYSLOG_TCP_PORT": str(syslog_port),
        "MAMORI_SYSLOG_BIND": "127.0.0.1",
        "MAMORI_SYSLOG_SENDERS": json.dumps([{"network": "127.0.0.0/8", "tenant": "acme"}]),
        "MAMORI_DETECT_ENABLED": "false",
        "MAMORI_RETENTION_INTERVAL": "0",
    }
    server = _Server(env, tmp_path)
    server.start()
    sent = 0
    send_error: list[BaseException] = []
    half_sent = threading.Event()

    def send() -> None:
        nonlocal sent
        try:
            with socket.create_connection(("127.0.0.1", syslog_port), timeout=30) as conn:
                for start in range(0, LINES, 500):
                    conn.sendall(b"".join(_line(i) for i in range(start, start + 500)))
                    sent = start + 500
                    if sent >= LINES // 2:
                        half_sent.set()
                    time.sleep(0.01)  # a steady stream, so the kill lands inside it
        except OSError as exc:  # the server died under the connection
            send_error.append(exc)
        finally:
            half_sent.set()

    sender = threading.Thread(target=send, daemon=True)
    try:
        sender.start()
        assert half_sent.wait(timeout=120)
        server.kill9()
        sender.join(timeout=60)
        spooled = _spooled(data_dir / "spool")
        # the listener reads one connection in order: what it took is a prefix of the stream
        assert spooled, "the listener appended nothing before the kill"
        assert spooled == set(range(len(spooled))), "acknowledged lines are not a prefix"
        assert len(spooled) < LINES, "the kill came after the whole stream was taken"
        before = _stored(data_dir / "mamori.db")
        assert set(before) <= spooled and max(before.values(), default=1) == 1

        server.start()  # the same data directory: the spool is recovered and consumed
        deadline = time.monotonic() + 120
        while True:
            after = _stored(data_dir / "mamori.db")
            if set(after) >= spooled or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        time.sleep(1.0)  # anything replayed twice would land now
        after = _stored(data_dir / "mamori.db")
    finally:
        server.stop()
    assert set(after) == spooled, (
        f"lost {len(spooled - set(after))} acknowledged lines, "
        f"stored {len(set(after) - spooled)} never acknowledged"
    )
    assert all(n == 1 for n in after.values()), "a line was stored more than once"
