"""Bench: the alert intake over SQL, before and after phase 3 (dedup decided in the database
and the host inventory).

Run: ``.venv/bin/python bench/respond_intake_sql.py [--alerts 3000] [--rounds 2] [--url URL]``

"before" emulates the phase-2 store path on the same code: a new alert record is inserted
once, at grouping time, no dedup claim, no host inventory. "after" is the product path:
claim (an INSERT under the unique index), grouping, the incident id set by one UPDATE, and
the inventory upsert (one UPDATE; known hosts are cached). Both run alternately on fresh
databases with the same alerts; the figures are wall and CPU time (``time.process_time``).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mamori.model import Alert, Severity
from mamori.respond.intake import AlertIntake
from mamori.respond.models import AlertRecord
from mamori.store.db import Database
from mamori.store.repos import tenants
from mamori.store.repos.respond import RespondStore, SqlAlertRepo
from mamori.store.repos.respond_hosts import SqlHostInventory

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class BeforeAlertRepo(SqlAlertRepo):
    """The phase-2 path: no claim; the record is inserted when it is grouped."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._pending: dict[str, AlertRecord] = {}

    def claim(self, record: AlertRecord, bucket: int) -> str | None:  # noqa: ARG002
        self._pending[record.id] = record
        return None

    def assign(self, alert_id: str, incident_id: str) -> None:
        record = self._pending.pop(alert_id)
        record.incident_id = incident_id
        self.add(record)


def alerts(n: int, *, distinct: bool) -> list[Alert]:
    rnd = random.Random(11)
    out = []
    for i in range(n):
        if distinct:
            rule, host = i % 300, i % 700
        elif rnd.random() < 0.9:
            rule, host = rnd.randrange(20), rnd.randrange(40)
        else:
            rule, host = rnd.randrange(200), rnd.randrange(2000)
        out.append(
            Alert(
                rule_id=f"r-{rule}",
                rule_title=f"Rule {rule}",
                level=Severity.HIGH,
                timestamp=T0 + timedelta(milliseconds=50 * i),
                tags=("attack.execution",),
                tenant=f"t{host % 5}",
                host=f"pc-{host:04d}",
                event={"User": f"CORP\\u{host % 97}"},
                matched={"n": i} if distinct else {"Image": f"tool{rule}.exe"},
            )
        )
    return out


def run(url: str, items: list[Alert], *, after: bool) -> tuple[float, float, int]:
    db = Database(url)
    db.upgrade()
    with db.session() as s:
        for i in range(5):
            tenants.create_tenant(s, slug=f"t{i}", name=f"t{i}")
    store = RespondStore(db)
    intake = AlertIntake(
        alerts=store.alerts if after else BeforeAlertRepo(db),
        incidents=store.incidents,
        directory=store.directory,
        inventory=SqlHostInventory(db) if after else None,
    )
    wall, cpu = time.perf_counter(), time.process_time()
    for a in items:
        intake.submit(a)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    records = len(store.alerts.list())
    db.dispose()
    return wall, cpu, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--url", default="", help="a database URL (default: SQLite files)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mamori-bench-"))
    for name, distinct in (("realistic mix (90% dup)", False), ("all distinct", True)):
        items = alerts(args.alerts, distinct=distinct)
        print(f"{name}: {len(items)} alerts")
        for r in range(args.rounds):
            for after in (False, True):
                label = "after " if after else "before"
                url = args.url or f"sqlite:///{tmp / f'{name[:3]}-{r}-{label.strip()}.db'}"
                wall, cpu, records = run(url, items, after=after)
                print(
                    f"  {label} round {r + 1}: {len(items) / wall:8.0f} alerts/s wall "
                    f"({wall:6.2f} s), cpu {cpu:6.2f} s, records={records}"
                )


if __name__ == "__main__":
    main()
