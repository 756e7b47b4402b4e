from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from mamori.store.repos import audit
from mamori.store.tables import AuditLog


def _fill(db, n=5):
    with db.session() as s:
        for i in range(n):
            audit.record(
                s,
                action="test.action",
                actor=f"user{i}",
                tenant_id=None,
                target=f"thing:{i}",
                detail={"i": i, "ja": "日本語", "nested": {"a": [1, 2]}},
                source_ip="127.0.0.1",
            )


def test_chain_verifies_when_untouched(db):
    _fill(db, 7)
    with db.session() as s:
        result = audit.verify(s)
    assert result.ok and result.checked == 7 and result.broken_seq is None


def test_empty_log_verifies(db):
    with db.session() as s:
        assert audit.verify(s).ok


def test_rows_link_to_the_previous_hash(db):
    _fill(db, 3)
    with db.session() as s:
        rows = sorted(audit.list_entries(s), key=lambda r: r.seq)
    assert rows[0].prev_hash == ""
    assert rows[1].prev_hash == rows[0].hash
    assert rows[2].prev_hash == rows[1].hash
    assert len({r.hash for r in rows}) == 3


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3",
        "UPDATE audit_log SET detail = '{\"i\": 99}' WHERE seq = 3",
        "UPDATE audit_log SET ts = '2020-01-01 00:00:00' WHERE seq = 3",
        "UPDATE audit_log SET action = 'other' WHERE seq = 3",
    ],
)
def test_modified_row_is_reported(db, tamper):
    _fill(db, 5)
    with db.engine.begin() as conn:
        conn.execute(text(tamper))
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok
    assert result.broken_seq == 3
    assert "modified" in result.reason


def test_rehashed_row_still_breaks_the_next_link(db):
    _fill(db, 5)
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET actor='mallory', hash='0'||substr(hash,2) WHERE seq=2")
        )
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok and result.broken_seq == 2


def test_deleted_middle_row_is_reported(db):
    _fill(db, 5)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok and result.broken_seq == 3
    assert "missing" in result.reason


def test_deleted_last_rows_are_reported(db):
    _fill(db, 5)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq >= 4"))
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok and "removed" in result.reason


def test_orm_refuses_to_update_or_delete_entries(db):
    _fill(db, 1)
    with pytest.raises(PermissionError), db.session() as s:
        row = s.query(AuditLog).one()
        row.actor = "mallory"
        s.flush()
    with pytest.raises(PermissionError), db.session() as s:
        s.delete(s.query(AuditLog).one())
        s.flush()


def test_concurrent_appenders_keep_one_chain(db):
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(8):
                with db.session() as s:
                    audit.record(s, action="t.concurrent", actor=f"w{n}", detail={"i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as s:
        result = audit.verify(s)
    assert result.ok and result.checked == 32
