"""The worker's write-through stores exactly what the general store path stores.

The parsing worker serialises each event's fields once (for the bus line and the row)
and inserts :class:`~mamori.store.repos.ingest.EventRow` tuples; the store consumer's
general path decodes the bus lines back into dicts and inserts those. Both must give the
same bus bytes and the same row contents, byte for byte, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from mamori.bus import batch as envelopes
from mamori.cli.wiring import ingest as wiring
from mamori.ingest.config import IngestConfig
from mamori.ingest.pipeline import ParserCache
from mamori.ingest.records import RawRecord
from mamori.model import Event
from mamori.store.db import Database
from mamori.store.repos import ingest as repo
from mamori.store.repos import tenants
from pg import postgres_server, postgres_url  # noqa: F401

RECEIVED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

JSON_LINES = [
    {"@timestamp": "2026-11-25T10:00:00Z", "host": "srv1", "user": "u1", "seq": 1},
    {"@timestamp": "2026-11-25T19:00:00.123+09:00", "user": "太郎", "msg": "ログオン"},
    {"time": 1764064800123, "hostname": "h2", "n": 12345678901234567890123},
    {"ts": "2026-11-25 10:00:00", "nested": {"a": {"b": [1, {"c": None}]}}, "empty": {}},
    {"@timestamp": "2026-11-25T10:00:00Z", "nul": "a\u0000b", "source": "x", "raw": "y"},
    {"@timestamp": "2026-11-25T10:00:01Z", "lone": "\ud800", "f": 1.5, "neg": -0.0},
    {"no_time": True, "tenant": "other", "event_id": "mine", "data_type": "t"},
    {"@timestamp": "0999-01-01T00:00:00Z", "old": True},
]
SYSLOG = [
    b"<34>1 2026-11-25T10:00:00.5Z web01 sshd 42 - - Failed password for root from 10.0.0.1",
    b"<13>Nov 25 10:00:00 gw kernel: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP",
]


def _records(tenant: str) -> list[RawRecord]:
    body = b"".join(json.dumps(v).encode() + b"\n" for v in JSON_LINES)
    return [
        RawRecord(body, "json_lines", tenant, location="t", received_at=RECEIVED, record_id="r1"),
        RawRecord(
            b"\n".join(SYSLOG) + b"\n",
            "syslog",
            tenant,
            location="u",
            received_at=RECEIVED,
            record_id="r2",
        ),
    ]


def _odd_events(tenant: str, *, sqlite: bool) -> list[Event]:
    """Events no parser makes but the worker must take all the same."""
    naive = datetime(2026, 11, 25, 1, 2, 3)
    # (PostgreSQL's JSON column takes no datetime values: there the write-through fails
    # and the store consumer writes the events from the bus, as on main)
    when = naive if sqlite else "2026"
    return [
        Event({"when": when, "d": {"x": [when]}}, naive, "s", "r1", tenant=tenant, id="o1"),
        Event({"k": {"1": 2}, "t": (1, "x")}, RECEIVED, "s", "r2", tenant=tenant, id="o2"),
        Event({"host": "shadow", "u": "x"}, RECEIVED, "s", "r3", tenant=tenant, host="h", id="o3"),
        Event({}, RECEIVED, "s", "r4", "", tenant, None, "o4"),
        Event({"s": "\udcff"}, RECEIVED, "s", "r5", tenant=tenant, id="o5"),
        Event({"big": 2**70, "u": "é"}, RECEIVED, "s", "r6", tenant=tenant, id="o6"),
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.db)])
def store_db(request, tmp_path):
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        database = Database(request.getfixturevalue("postgres_url"))
    database.upgrade()
    with database.session() as s:
        tenants.create_tenant(s, slug="acme", name="アクメ")
    yield database
    database.dispose()


def _take_rows(db: Database) -> list[tuple[object, ...]]:
    fields = "fields::text" if db.engine.dialect.name == "postgresql" else "fields"
    with db.session() as s:
        rows = s.execute(
            text(
                f"SELECT tenant_id, event_id, ts, host, source, data_type, {fields}, raw"  # noqa: S608
                " FROM events ORDER BY event_id"
            )
        ).all()
        s.execute(text("DELETE FROM events"))
    return [tuple(r) for r in rows]


def test_write_through_rows_and_bus_lines_are_those_of_the_general_path(store_db):
    sink = wiring.parse_messages(
        [r.to_message() for r in _records("acme")], ParserCache(IngestConfig()), keep=True
    )
    assert sink.quarantined == 0
    for event in _odd_events("acme", sqlite=store_db.engine.dialect.name == "sqlite"):
        sink.event(event)
    events = sink.kept
    assert len(events) == len(JSON_LINES) + len(SYSLOG) + 6
    # the bus lines: byte for byte what dumps_line(to_dict()) writes
    lines = [line for items in sink._events.values() for _, line in items]
    by_id = {e.id: e for e in events}
    assert len(lines) == len(events)
    for (event_id, line), event in zip(
        [item for items in sink._events.values() for item in items], events, strict=True
    ):
        assert by_id[event_id] is event
        assert line == envelopes.dumps_line(event.to_dict())
    writer = wiring.StoreWriter(store_db)
    assert writer.write_events(events, sink.kept_json).events == len(events)
    through = _take_rows(store_db)
    general = writer.write([envelopes.loads(line) for line in lines])
    assert general.events == len(events)
    assert _take_rows(store_db) == through
    assert writer.write_events(events).events == len(events)  # without the encoded fields
    assert _take_rows(store_db) == through
    stored = {row[1]: row for row in through}
    assert json.loads(str(stored["o3"][6])) == {"u": "x"}  # the envelope's host wins
    assert json.loads(str(stored["o4"][6])) == {}


@settings(max_examples=300, deadline=None)
@given(
    value=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    offset=st.sampled_from([None, 0, 9 * 60, -5 * 60 - 30]),
)
def test_sqlite_time_text_is_the_strftime_form(value, offset):
    from datetime import timezone

    if offset is not None:
        value = value.replace(tzinfo=timezone(timedelta(minutes=offset)))
    utc_value = value.astimezone(UTC) if value.tzinfo else value
    assert repo._sqlite_time(value) == utc_value.strftime("%Y-%m-%d %H:%M:%S.%f")
