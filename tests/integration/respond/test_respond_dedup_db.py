"""Duplicate folding decided by the database: two workers (each with its own in-memory
dedup window and grouping index, as two ``mamori worker`` processes have) on one store."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mamori.respond.dedup import Deduplicator
from mamori.respond.intake import AlertIntake, IntakeResult
from mamori.respond.testing import T0, make_alert
from mamori.store.db import Database
from mamori.store.repos import tenants
from mamori.store.repos.respond import RespondStore
from mamori.store.tables.respond import RespondAlert, RespondIncident


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.db)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'd.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = Database(url)
    database.upgrade()
    with database.session() as s:
        tenants.create_tenant(s, slug="acme", name="アクメ")
    database.dispose()
    return url


def _worker(url: str) -> tuple[Database, AlertIntake]:
    """One worker's view: its own engine, repositories and in-memory windows."""
    database = Database(url)
    store = RespondStore(database)
    intake = AlertIntake(
        alerts=store.alerts,
        incidents=store.incidents,
        directory=store.directory,
        dedup=Deduplicator(window=timedelta(minutes=10)),
    )
    return database, intake


def _counts(url: str) -> tuple[int, int, int]:
    database = Database(url)
    try:
        with database.session() as s:
            rows = s.scalar(select(func.count()).select_from(RespondAlert))
            total = s.scalar(select(func.sum(RespondAlert.count)))
            incidents = s.scalar(select(func.count()).select_from(RespondIncident))
        return int(rows or 0), int(total or 0), int(incidents or 0)
    finally:
        database.dispose()


def test_two_concurrent_workers_fold_one_duplicate_stream_into_one_row(db_url):
    per_worker = 60
    workers = [_worker(db_url) for _ in range(2)]
    barrier = threading.Barrier(len(workers))
    results: list[list[IntakeResult]] = [[] for _ in workers]
    errors: list[BaseException] = []

    def run(n: int) -> None:
        intake = workers[n][1]
        try:
            barrier.wait(timeout=30)
            for i in range(per_worker):
                alert = make_alert("r-storm", ts=T0 + timedelta(milliseconds=10 * i))
                results[n].append(intake.submit(alert))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert not errors, errors
        rows, total, incidents = _counts(db_url)
        assert (rows, total, incidents) == (1, 2 * per_worker, 1)
        flat = [r for rs in results for r in rs]
        assert sum(r.status == "new_incident" for r in flat) == 1
        assert sum(r.status == "duplicate" for r in flat) == 2 * per_worker - 1
        assert len({r.alert_id for r in flat}) == 1
        # the worker that lost the race folded into the winner's record
        assert all(r.status == "duplicate" for r in results[0]) or all(
            r.status == "duplicate" for r in results[1]
        )
    finally:
        for database, _ in workers:
            database.dispose()


def test_a_new_window_opens_a_new_record_and_other_keys_are_separate(db_url):
    (db_a, a), (db_b, b) = _worker(db_url), _worker(db_url)
    try:
        first = a.submit(make_alert("r-1", ts=T0))
        assert b.submit(make_alert("r-1", ts=T0 + timedelta(seconds=5))).status == "duplicate"
        assert b.submit(make_alert("r-1", host="pc-02", ts=T0)).status != "duplicate"
        later = b.submit(make_alert("r-1", ts=T0 + timedelta(minutes=25)))
        assert later.status != "duplicate" and later.alert_id != first.alert_id
        rows, total, _ = _counts(db_url)
        assert (rows, total) == (3, 4)
    finally:
        db_a.dispose()
        db_b.dispose()


def test_failed_grouping_releases_the_claim_so_a_retry_is_not_lost(db_url, monkeypatch):
    database, intake = _worker(db_url)
    try:
        calls = {"n": 0}
        real_add = intake.incidents.add

        def flaky_add(incident):
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("database hiccup")
            real_add(incident)

        monkeypatch.setattr(intake.incidents, "add", flaky_add)
        with pytest.raises(RuntimeError):
            intake.submit(make_alert("r-1", ts=T0))
        assert _counts(db_url)[0] == 0  # the half-done record is gone
        retry = intake.submit(make_alert("r-1", ts=T0))  # the bus redelivers
        assert retry.status == "new_incident" and retry.incident_id
        assert _counts(db_url) == (1, 1, 1)
    finally:
        database.dispose()


def test_a_record_claimed_by_a_stopped_worker_is_grouped_on_restart(settings, db, world):
    from mamori.cli.wiring.respond import build_respond
    from mamori.respond.models import AlertRecord, new_id
    from mamori.store.types import utcnow

    del world
    store = RespondStore(db)
    now = utcnow()
    alert = make_alert("r-orphan", tenant="tenant-a", level="high", ts=now)
    orphan = AlertRecord(
        id=new_id("alr"),
        tenant="tenant-a",
        rule_id=alert.rule_id,
        rule_title=alert.rule_title,
        level=alert.level,
        host=alert.host,
        user=None,
        tags=alert.tags,
        dedup_key=Deduplicator(window=timedelta(minutes=10)).key(alert),
        first_seen=now,
        last_seen=now,
        count=1,
        sample=alert,
    )
    bucket = int(now.timestamp() // 600)  # the intake's default 10-minute window
    assert store.alerts.claim(orphan, bucket) is None  # ... and the worker stopped here
    store.alerts.fold(orphan.id, now)  # a duplicate folded meanwhile by another worker
    respond = build_respond(settings, db, background=False)
    try:
        adopted = store.alerts.get(orphan.id)
        assert adopted.incident_id is not None and adopted.count == 2
        incident = store.incidents.get(adopted.incident_id)
        assert incident.alert_ids == [orphan.id]
        # it is remembered: the next duplicate folds into it
        again = respond.intake.submit(make_alert("r-orphan", tenant="tenant-a", ts=now))
        assert (again.status, again.alert_id, again.count) == ("duplicate", orphan.id, 3)
    finally:
        respond.close()
