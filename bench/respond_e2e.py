"""Bench: alert on the bus → incident stored in SQLite → first notification (e-mail).

Run: ``.venv/bin/python bench/respond_e2e.py [--incidents 200] [--storm 10000]``

Everything is the running product's wiring (``mamori.cli.wiring.respond``): the embedded
bus (on-disk spool), the ``respond`` consumer, the SQL repositories on a migrated SQLite
file, the default playbooks, and e-mail to a local aiosmtpd sink. We time, per critical
alert published on ``mamori.alerts.<tenant>``:

* publish → incident committed (the consumer's intake result), and
* publish → the SOC e-mail received by the SMTP sink,

then the alert-storm rate (identical alerts through the bus folded into one row).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from mamori.bus.embedded import EmbeddedBus
from mamori.bus.subjects import alerts_subject
from mamori.cli.wiring.respond import RespondService, build_respond
from mamori.config import Settings
from mamori.model import Alert, Severity
from mamori.respond.intake import IntakeResult
from mamori.store.db import Database
from mamori.store.repos import tenants
from mamori.store.repos.respond import RespondStore


class Sink:
    def __init__(self) -> None:
        self.received: dict[str, float] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802, ARG002
        msg = message_from_bytes(envelope.content, policy=policy.default)
        incident = str(msg.get("X-Mamori-Incident") or "")
        self.received.setdefault(incident, time.perf_counter())
        return "250 OK"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alert(n: int, host: str, level: str = "critical") -> bytes:
    alert = Alert(
        rule_id=f"bench-{n}",
        rule_title=f"Bench rule {n}",
        level=Severity.parse(level),
        timestamp=datetime.now(UTC) + timedelta(microseconds=n),
        tags=("attack.execution",),
        tenant="acme",
        host=host,
        event={"Image": "C:\\evil.exe", "User": f"ACME\\user{n}"},
        matched={"Image": "C:\\evil.exe"},
    )
    return json.dumps(alert.to_dict()).encode()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(incidents: int, storm: int) -> None:
    logging.basicConfig(level=logging.ERROR)  # "no customer channel" is expected
    root = Path(tempfile.mkdtemp(prefix="mamori-bench-"))
    sink = Sink()
    port = _port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings = Settings(
        data_dir=root,
        secret_key="x" * 40,
        respond_smtp_host="127.0.0.1",
        respond_smtp_port=port,
        respond_soc_emails="soc@mssp.example",
    )
    db = Database(settings)
    db.upgrade()
    with db.session() as s:
        tenants.create_tenant(s, slug="acme", name="アクメ")
    bus = EmbeddedBus(root / "spool")
    await bus.start()
    respond = build_respond(settings, db)
    committed: dict[str, float] = {}
    published: dict[str, float] = {}
    by_host: dict[str, str] = {}
    results: list[IntakeResult] = []

    def on_result(result: IntakeResult) -> None:
        results.append(result)
        if result.status == "new_incident" and result.incident_id:
            committed[result.incident_id] = time.perf_counter()

    service = RespondService(
        respond=respond, bus=bus, tick_seconds=3600, seen_path=root / "seen", on_result=on_result
    )
    await service.start()
    subject = alerts_subject("acme")
    try:
        # 1. latency: one critical alert at a time (each opens an incident and mails the SOC)
        for n in range(incidents):
            host = f"pc-{n:05d}"
            published[host] = time.perf_counter()
            await bus.publish(subject, _alert(n, host), msg_id=f"lat-{n}")
            want = len(results) + 1
            while len(results) < want:
                await asyncio.sleep(0.0005)
            incident_id = results[-1].incident_id or ""
            by_host[host] = incident_id
            deadline = time.monotonic() + 30
            while incident_id not in sink.received and time.monotonic() < deadline:
                await asyncio.sleep(0.0005)
        to_incident = [(committed[i] - published[h]) * 1000 for h, i in by_host.items()]
        to_mail = [
            (sink.received[i] - published[h]) * 1000
            for h, i in by_host.items()
            if i in sink.received
        ]
        print(f"alert on the bus → incident in SQLite ({incidents} alerts, one at a time):")
        print(
            f"  median {statistics.median(to_incident):.1f} ms   p99 {pct(to_incident, 99):.1f} ms"
            f"   max {max(to_incident):.1f} ms"
        )
        print(f"alert on the bus → first notification (SMTP sink), {len(to_mail)} mails:")
        print(
            f"  median {statistics.median(to_mail):.1f} ms   p99 {pct(to_mail, 99):.1f} ms"
            f"   max {max(to_mail):.1f} ms"
        )
        # 2. storm: identical alerts published in one go, folded into one row
        before = len(results)
        storm_alert = _alert(999_999, "storm-host", level="high")
        start = time.perf_counter()
        for n in range(storm):
            await bus.publish(subject, storm_alert, msg_id=f"storm-{n}")
        published_s = time.perf_counter() - start
        while len(results) < before + storm:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - start
        store = RespondStore(db)
        rows = [r for r in store.alerts.list(tenant="acme") if r.host == "storm-host"]
        print(
            f"alert storm: {storm} identical alerts via the bus in {elapsed:.1f} s "
            f"({storm / elapsed:.0f} alerts/s; publishing {published_s:.1f} s) → "
            f"{len(rows)} row(s), count {rows[0].count if rows else 0}"
        )
    finally:
        await service.stop()
        await bus.close()
        controller.stop()
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=200)
    parser.add_argument("--storm", type=int, default=10_000)
    args = parser.parse_args(argv)
    asyncio.run(run(args.incidents, args.storm))
    return 0


if __name__ == "__main__":
    sys.exit(main())
