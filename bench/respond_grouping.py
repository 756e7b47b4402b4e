"""Bench: how many alerts/s dedup + grouping keep up with; alert → incident → first notification.

Run: ``.venv/bin/python bench/respond_grouping.py [--alerts 200000] [--incidents 300]``

1. Throughput of the intake (dedup + grouping, in-memory repositories, no subscribers) on
   three mixes: an alert storm (identical alerts), a realistic mix (mostly duplicates,
   some new alerts grouped into incidents), and the worst case (every alert distinct).
2. Latency, with the whole response area wired (default playbooks, e-mail to a local
   aiosmtpd sink): alerts are put on an in-process queue (standing in for the embedded
   bus) as JSON, a worker takes them off and submits them; we time
   queue → incident stored, and queue → first e-mail received by the SMTP sink.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import random
import socket
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller

from mamori.model import Alert, Severity
from mamori.respond.intake import AlertIntake
from mamori.respond.notify.email import EmailNotifier
from mamori.respond.repos import MemoryAlertRepo, MemoryIncidentRepo, MemoryTenantDirectory
from mamori.respond.wiring import Respond, TenantChannels

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
TACTICS = [
    "attack.execution",
    "attack.persistence",
    "attack.credential_access",
    "attack.lateral_movement",
    "attack.command_and_control",
]


def alert(
    i: int, *, rule: int, host: int, tenant: int, ms: int, level: str = "high", user: str = ""
) -> Alert:
    return Alert(
        rule_id=f"rule-{rule}",
        rule_title=f"Rule {rule}",
        level=Severity(level),
        timestamp=T0 + timedelta(milliseconds=ms),
        tags=(TACTICS[rule % len(TACTICS)],),
        tenant=f"t{tenant}",
        host=f"host-{host}",
        event={
            "Image": f"C:\\bin\\tool{rule}.exe",
            "User": user or f"CORP\\user{host % 50}",
            "DestinationIp": f"10.0.{host % 250}.{rule % 250}",
            "n": i,
        },
        matched={"Image": f"C:\\bin\\tool{rule}.exe"},
    )


def intake() -> AlertIntake:
    return AlertIntake(
        alerts=MemoryAlertRepo(),
        incidents=MemoryIncidentRepo(),
        directory=MemoryTenantDirectory({f"t{i}": None for i in range(10)}),
    )


def throughput(name: str, alerts: list[Alert]) -> None:
    target = intake()
    start = time.perf_counter()
    for a in alerts:
        target.submit(a)
    took = time.perf_counter() - start
    s = target.stats
    print(
        f"  {name:<28} {len(alerts):>8} alerts  {len(alerts) / took:>10,.0f} alerts/s   "
        f"records={len(target.alerts.list()):>6} incidents={s.incidents_opened:>5} "
        f"duplicates={s.duplicates:>7} dedup-keys={len(target.dedup)}"
    )


def part1(n: int) -> None:
    rnd = random.Random(7)
    print(
        "1. intake throughput (dedup + grouping, in-memory), 1 thread, "
        f"python {sys.version.split()[0]}"
    )
    storm = [alert(i, rule=1, host=1, tenant=0, ms=i * 6) for i in range(min(n, 10_000))]
    throughput("storm (10k identical/min)", storm)
    mix = []
    for i in range(n):
        if rnd.random() < 0.9:  # noisy rules firing again on the same hosts
            rule, host = rnd.randrange(20), rnd.randrange(40)
        else:
            rule, host = rnd.randrange(200), rnd.randrange(2000)
        mix.append(alert(i, rule=rule, host=host, tenant=host % 10, ms=i * 3))
    throughput("realistic mix (90% dup)", mix)
    distinct = [
        alert(i, rule=i % 500, host=i % 3000, tenant=i % 10, ms=i) for i in range(min(n, 50_000))
    ]
    for i, a in enumerate(distinct):  # make every one unique
        distinct[i] = Alert(
            rule_id=a.rule_id,
            rule_title=a.rule_title,
            level=a.level,
            timestamp=a.timestamp,
            tags=a.tags,
            tenant=a.tenant,
            host=a.host,
            event=a.event,
            matched={"n": i},
        )
    throughput("worst case (all distinct)", distinct)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802, ARG002
        now = time.perf_counter()
        msg = message_from_bytes(envelope.content, policy=policy.default)
        iid = str(msg.get("X-Mamori-Incident") or "")
        self.count += 1
        self.first.setdefault(iid, now)
        return "250 OK"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def part2(incidents: int, background: int, rate: float) -> None:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    mail = EmailNotifier(
        host="127.0.0.1", port=port, sender="soc@mssp.example", to=("soc@mssp.example",)
    )
    customer = EmailNotifier(
        host="127.0.0.1", port=port, sender="soc@mssp.example", to=("it@acme.example",)
    )
    respond = Respond(
        directory=MemoryTenantDirectory({f"t{i}": None for i in range(10)}),
        soc=TenantChannels(channels={"soc": [mail]}),
        tenants={f"t{i}": TenantChannels(channels={"customer": [customer]}) for i in range(10)},
        backoff=(0.1, 0.2),
        background=True,
    )
    stored: dict[str, float] = {}
    repo = respond.service.incidents
    original_add = repo.add

    def add(incident: Any) -> None:
        original_add(incident)
        stored[incident.id] = time.perf_counter()

    repo.add = add  # type: ignore[method-assign]
    bus: queue.Queue[tuple[float, bytes] | None] = queue.Queue()
    results: list[tuple[float, str | None]] = []

    def worker() -> None:
        while True:
            item = bus.get()
            if item is None:
                return
            t_put, payload = item
            data = json.loads(payload)
            res = respond.intake.submit_dict(data)
            if res.status == "new_incident" and data["level"] == "critical":
                results.append((t_put, res.incident_id))

    thread = threading.Thread(target=worker)
    thread.start()
    rnd = random.Random(3)
    for i in range(incidents):
        # background noise: duplicates of alerts already seen
        for _ in range(background):
            a = alert(0, rule=1, host=0, tenant=0, ms=i, level="low")
            bus.put((time.perf_counter(), json.dumps(a.to_dict()).encode()))
        a = alert(
            i,
            rule=rnd.randrange(100),
            host=10_000 + i,
            tenant=i % 10,
            ms=i,
            level="critical",
            user=f"CORP\\victim{i}",
        )
        bus.put((time.perf_counter(), json.dumps(a.to_dict()).encode()))
        time.sleep(1.0 / rate)
    bus.put(None)
    thread.join()
    respond.drain()
    deadline = time.time() + 10
    while time.time() < deadline and len([1 for _, iid in results if iid in sink.first]) < len(
        results
    ):
        time.sleep(0.05)
    controller.stop()
    respond.close()
    to_incident = [(stored[iid] - t) * 1000 for t, iid in results if iid in stored]
    to_mail = [(sink.first[iid] - t) * 1000 for t, iid in results if iid in sink.first]
    print("2. latency, wired response area, default playbooks, e-mail to local aiosmtpd sink")
    print(
        f"   {len(results)} critical incidents, "
        f"{background} duplicate alert(s) before each on the queue, {rate:g} incidents/s"
    )
    for name, vals in (
        ("queue → incident stored", to_incident),
        ("queue → first e-mail received", to_mail),
    ):
        if vals:
            print(
                f"   {name:<32} median {statistics.median(vals):7.2f} ms"
                f"   p99 {pct(vals, 99):7.2f} ms"
                f"   max {max(vals):7.2f} ms   (n={len(vals)})"
            )
    print(
        f"   e-mails received: {sink.count}; notifications failed: "
        f"{len(respond.deliverer.repo.list(status='failed'))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=200_000)
    parser.add_argument("--incidents", type=int, default=300)
    parser.add_argument("--background", type=int, default=5)
    parser.add_argument("--rate", type=float, default=10.0, help="new incidents per second")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(f"cpus: {os.cpu_count()}")
    part1(args.alerts)
    part2(args.incidents, args.background, args.rate)


if __name__ == "__main__":
    main()
