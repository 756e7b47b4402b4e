"""Stored events and quarantined records on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from mamori.errors import NotFoundError, ValidationError
from mamori.store.db import Database
from mamori.store.repos import ingest as repo
from mamori.store.repos import tenants
from mamori.store.tables import QuarantinedRecord, StoredEvent

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.db)])
def store_db(request, tmp_path):
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        database = Database(request.getfixturevalue("postgres_url"))
    database.upgrade()
    with database.session() as s:
        a = tenants.create_tenant(s, slug="acme", name="アクメ", retention_days=30)
        b = tenants.create_tenant(s, slug="beta", name="ベータ", retention_days=90)
    database.ids = (a.id, b.id)  # type: ignore[attr-defined]
    yield database
    database.dispose()


def _row(tenant_id: int, n: int, **kw):
    row = {
        "tenant_id": tenant_id,
        "event_id": f"ev-{n}",
        "ts": T0 + timedelta(minutes=n),
        "host": f"host{n % 3}",
        "source": "syslog" if n % 2 else "squid",
        "data_type": "syslog:line",
        "fields": {"user": f"u{n % 4}", "EventID": n % 5, "ユーザー": "太郎"},
        "raw": f"line {n} user=u{n % 4} 100%_done",
    }
    row.update(kw)
    return row


def test_same_events_twice_are_stored_once(store_db):
    a, b = store_db.ids
    rows = [_row(a, n) for n in range(1200)]
    with store_db.session() as s:
        assert repo.insert_events(s, rows=rows) == 1200
    with store_db.session() as s:
        assert repo.insert_events(s, rows=rows[:700] + [_row(a, 5000)]) == 1
        # the same event id in another tenant is another event
        assert repo.insert_events(s, rows=[_row(b, 1)]) == 1
    with store_db.session() as s:
        assert s.scalar(select(func.count()).select_from(StoredEvent)) == 1202


def test_quarantined_records_are_idempotent_and_keep_bytes(store_db):
    a, _b = store_db.ids
    raw = b"\xff\xfe<1>\x00 bad \xe3\x81"
    row = {"tenant_id": a, "record_key": "k1", "source": "syslog", "reason": "bad", "raw": raw}
    with store_db.session() as s:
        assert repo.insert_quarantined(s, rows=[row, {**row, "record_key": "k2"}]) == 2
        assert repo.insert_quarantined(s, rows=[row]) == 0
        orphan = {"tenant_id": None, "record_key": "k3", "reason": "unknown tenant 'x'"}
        assert repo.insert_quarantined(s, rows=[orphan]) == 1
    with store_db.session() as s:
        items, more = repo.list_quarantined(s, tenant_ids=[a])
        assert len(items) == 2 and not more and items[0].raw == raw
        assert repo.count_quarantined(s, tenant_ids=[a]) == {"total": 2, "syslog": 2}
        assert repo.count_quarantined(s)["total"] == 3  # administrators see the orphan
        with pytest.raises(NotFoundError):
            repo.get_quarantined(s, row_id=items[0].id, tenant_ids=[a + 100])


def test_search_filters_and_paging(store_db):
    a, b = store_db.ids
    with store_db.session() as s:
        repo.insert_events(s, rows=[_row(a, n) for n in range(40)])
        repo.insert_events(s, rows=[_row(b, n, raw=f"beta secret {n}") for n in range(10)])
    with store_db.session() as s:

        def find(**kw):
            items, more = repo.search_events(
                s,
                query=repo.EventQuery(tenant_ids=[a], **kw),
                limit=kw.pop("limit", 100) if "limit" in kw else 100,
            )
            return items

        assert len(find()) == 40
        assert [e.event_id for e in find()][:2] == ["ev-39", "ev-38"]  # newest first
        window = find(start=T0 + timedelta(minutes=10), end=T0 + timedelta(minutes=20))
        assert sorted(int(e.event_id[3:]) for e in window) == list(range(10, 20))
        assert {e.host for e in find(host="host1")} == {"host1"}
        assert len(find(source="squid")) == 20
        assert len(find(text="LINE 7 ")) == 1  # case-insensitive substring
        assert len(find(text="100%_")) == 40 and find(text="%") != []
        assert find(text="0%x") == []  # % and _ are literal, not wildcards
        assert {e.fields["user"] for e in find(fields={"user": "u2"})} == {"u2"}
        assert len(find(fields={"EventID": "3"})) == 8
        assert len(find(fields={"ユーザー": "太郎", "user": "u1"})) == 10
    with store_db.session() as s, pytest.raises(ValidationError):
        repo.search_events(s, query=repo.EventQuery(fields={"a'b": "x"}))
    with store_db.session() as s:
        page1, more1 = repo.search_events(s, query=repo.EventQuery(tenant_ids=[a]), limit=15)
        page3, more3 = repo.search_events(
            s, query=repo.EventQuery(tenant_ids=[a]), limit=15, offset=30
        )
        assert len(page1) == 15 and more1 and len(page3) == 10 and not more3
        assert not {e.id for e in page1} & {e.id for e in page3}
        # tenant A's search never returns tenant B's events
        assert all(
            "beta" not in e.raw
            for e in repo.search_events(s, query=repo.EventQuery(tenant_ids=[a], text="secret"))[0]
        )
        assert repo.count_events(s, query=repo.EventQuery(tenant_ids=[b])) == 10
        with pytest.raises(NotFoundError):
            repo.get_event(s, row_id=page1[0].id, tenant_ids=[b])
        with pytest.raises(ValidationError):
            repo.search_events(s, query=repo.EventQuery(start=T0, end=T0 - timedelta(1)))


def test_purge_removes_what_each_tenants_retention_no_covers(store_db):
    a, b = store_db.ids
    now = T0 + timedelta(days=60)
    with store_db.session() as s:
        repo.insert_events(
            s,
            rows=[
                _row(a, 1, ts=now - timedelta(days=31)),  # acme keeps 30 days: purged
                _row(a, 2, ts=now - timedelta(days=29)),
                _row(b, 3, ts=now - timedelta(days=31)),  # beta keeps 90 days: kept
                _row(b, 4, ts=now - timedelta(days=91)),  # purged
            ],
        )
        repo.insert_quarantined(
            s,
            rows=[
                {"tenant_id": a, "record_key": "q1", "received_at": now - timedelta(days=40)},
                {"tenant_id": a, "record_key": "q2", "received_at": now},
            ],
        )
    with store_db.session() as s:
        results = repo.purge_expired(s, now=now, batch=1)
    assert sorted((r.slug, r.events, r.quarantined) for r in results) == [
        ("acme", 1, 1),
        ("beta", 1, 0),
    ]
    with store_db.session() as s:
        left = sorted(s.scalars(select(StoredEvent.event_id)))
        assert left == ["ev-2", "ev-3"]
        assert list(s.scalars(select(QuarantinedRecord.record_key))) == ["q2"]
        assert repo.purge_expired(s, now=now) == []


def test_quarantined_records_of_no_tenant_are_purged_after_their_own_retention(store_db):
    a, _b = store_db.ids
    now = T0 + timedelta(days=400)
    with store_db.session() as s:
        repo.insert_quarantined(
            s,
            rows=[
                # no tenant (an unknown tenant's events, unreadable bus messages)
                {"tenant_id": None, "record_key": "o-old", "received_at": now - timedelta(61)},
                {"tenant_id": None, "record_key": "o-new", "received_at": now - timedelta(59)},
                {"tenant_id": a, "record_key": "a-new", "received_at": now - timedelta(1)},
            ],
        )
    with store_db.session() as s:
        results = repo.purge_expired(s, now=now, batch=1, unattributed_days=60)
    (orphans,) = results
    assert (orphans.tenant_id, orphans.events, orphans.quarantined) == (None, 0, 1)
    assert orphans.cutoff == now - timedelta(days=60)
    with store_db.session() as s:
        left = sorted(s.scalars(select(QuarantinedRecord.record_key)))
        assert left == ["a-new", "o-new"]
        # the default keeps them 180 days
        assert repo.purge_expired(s, now=now) == []
        later = repo.purge_expired(s, now=now + timedelta(days=130))
        assert [r.quarantined for r in later if r.tenant_id is None] == [1]
        with pytest.raises(ValidationError):
            repo.purge_expired(s, now=now, unattributed_days=0)
