from __future__ import annotations

import pytest

from mamori.config import Settings
from mamori.errors import NotFoundError, ValidationError
from mamori.hooks import AuditRecorded
from mamori.scan.quarantine import (
    QuarantineIntegrityError,
    QuarantineStore,
    key_from_secret,
    load_or_create_key,
)
from mamori.scan.scanners.eicar import EICAR
from mamori.scan.verdict import Outcome, Verdict


@pytest.fixture
def audit():
    return []


@pytest.fixture
def store(tmp_path, audit):
    return QuarantineStore(tmp_path / "q", load_or_create_key(tmp_path / "k"), audit=audit.append)


def test_content_is_encrypted_at_rest(store, tmp_path):
    item = store.put(EICAR, name="e.txt", tenant="acme", verdict=Verdict(Outcome.BLOCKED))
    blob = (tmp_path / "q" / f"{item.id}.bin").read_bytes()
    assert EICAR not in blob
    assert b"EICAR" not in blob
    assert store.content(item.id) == EICAR
    assert store.get(item.id).verdict["outcome"] == "blocked"


def test_tampering_and_wrong_key_are_detected(store, tmp_path):
    item = store.put(b"secret data")
    path = tmp_path / "q" / f"{item.id}.bin"
    other = QuarantineStore(tmp_path / "q", b"\x01" * 32)
    with pytest.raises(QuarantineIntegrityError):
        other.content(item.id)
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(QuarantineIntegrityError):
        store.content(item.id)


def test_release_and_delete_are_audited(store, audit):
    item = store.put(b"mail", kind="mail", tenant="acme", actor="gateway")
    assert store.content(item.id, actor="op1") == b"mail"
    released, data = store.release(item.id, actor="op1", note="false positive")
    assert data == b"mail"
    assert released.status == "released"
    with pytest.raises(ValidationError):
        store.release(item.id, actor="op1")
    deleted = store.delete(item.id, actor="op2")
    assert deleted.status == "deleted"
    with pytest.raises(NotFoundError):
        store.content(item.id)
    actions = [(a.action, a.actor) for a in audit]
    assert actions == [
        ("quarantine.quarantined", "gateway"),
        ("quarantine.retrieve", "op1"),
        ("quarantine.released", "op1"),
        ("quarantine.deleted", "op2"),
    ]
    assert all(isinstance(a, AuditRecorded) and a.tenant == "acme" for a in audit)
    assert audit[2].detail["note"] == "false positive"
    assert [h["action"] for h in store.get(item.id).history] == [
        "quarantined",
        "released",
        "deleted",
    ]


def test_list_filters_and_unknown_ids(store):
    a = store.put(b"1", tenant="a")
    store.put(b"2", tenant="b", status="held")
    assert [i.id for i in store.list(tenant="a")] == [a.id]
    assert [i.tenant for i in store.list(status="held")] == ["b"]
    for bad in ("nope", "../x", ""):
        with pytest.raises(NotFoundError):
            store.get(bad)
    with pytest.raises(ValidationError):
        store.put(b"x", status="weird")


def test_from_settings_key_derivation(tmp_path):
    settings = Settings(data_dir=tmp_path, secret_key="s3cret")
    store = QuarantineStore.from_settings(settings)
    item = store.put(b"abc")
    again = QuarantineStore(tmp_path / "quarantine", key_from_secret("s3cret"))
    assert again.content(item.id) == b"abc"


def test_key_file_is_private_and_stable(tmp_path):
    key = load_or_create_key(tmp_path / "k")
    assert load_or_create_key(tmp_path / "k") == key
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600


def _fill(store: QuarantineStore, count: int) -> list[str]:
    ids = []
    for n in range(count):
        item = store.put(
            f"secret content {n}".encode(),
            name=f"f{n}.bin",
            tenant=("acme", "beta", None)[n % 3],
            status="held" if n % 4 == 0 else "quarantined",
        )
        ids.append(item.id)
    return ids


def test_list_pages_from_the_index_without_reading_every_item(store, monkeypatch):
    from pathlib import Path

    ids = _fill(store, 30)
    everything = store.list()
    assert len(everything) == 30
    assert [i.created for i in everything] == sorted((i.created for i in everything), reverse=True)
    pages = [store.list(limit=7, offset=o) for o in range(0, 30, 7)]
    assert [i.id for page in pages for i in page] == [i.id for i in everything]
    acme = store.list(tenants=["acme"], limit=100)
    assert {i.tenant for i in acme} == {"acme"} and len(acme) == 10
    assert store.list(tenants=[]) == []
    assert store.list(tenant="beta", status="held", limit=3)[0].status == "held"
    assert store.counts() == {"quarantined": 22, "held": 8, "released": 0, "deleted": 0}
    assert store.counts(tenants=["acme", "beta"])["held"] == 6
    # a page reads the index only: no metadata file is opened, however many items there are
    opened: list[str] = []
    real = Path.read_text

    def tracking(self, *args, **kwargs):
        opened.append(self.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", tracking)
    assert len(store.list(limit=5)) == 5
    assert opened == []
    assert set(ids) == {i.id for i in everything}


def test_index_follows_status_changes_and_deletes(store, audit):
    (first, second) = _fill(store, 2)
    store.release(first, actor="op")
    store.delete(second, actor="op", note="bad")
    assert {i.id: i.status for i in store.list()} == {first: "released", second: "deleted"}
    assert store.counts()["deleted"] == 1
    assert [i.id for i in store.list(status="released")] == [first]
    assert [r.action for r in audit][-2:] == ["quarantine.released", "quarantine.deleted"]


@pytest.mark.parametrize("damage", ["missing", "garbage", "other-version", "empty-table"])
def test_a_missing_or_corrupt_index_is_rebuilt(store, damage):
    import sqlite3

    from mamori.scan.quarantine_index import INDEX_FILE

    ids = _fill(store, 5)
    path = store.root / INDEX_FILE
    if damage == "missing":
        path.unlink()
    elif damage == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    elif damage == "other-version":
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA user_version = 99")
    else:
        with sqlite3.connect(path) as db:
            db.execute("DROP TABLE items")
    assert sorted(i.id for i in store.list()) == sorted(ids)
    assert store.counts()["quarantined"] + store.counts()["held"] == 5
    # and writes go on being indexed
    later = store.put(b"later", name="later.bin")
    assert store.list(limit=1)[0].id == later.id


def test_items_written_before_the_index_existed_are_listed(tmp_path):
    from mamori.scan.quarantine_index import INDEX_FILE

    first = QuarantineStore(tmp_path / "q", b"k" * 32)
    ids = _fill(first, 4)
    (tmp_path / "q" / INDEX_FILE).unlink()
    (tmp_path / "q" / "broken.json").write_text("{not json", encoding="utf-8")
    reopened = QuarantineStore(tmp_path / "q", b"k" * 32)
    assert sorted(i.id for i in reopened.list()) == sorted(ids)  # broken file skipped
    assert reopened.rebuild_index() == 4
    assert reopened.content(ids[0]) == b"secret content 0"


def test_index_holds_no_content_and_bad_paging_is_refused(store):
    from mamori.errors import ValidationError
    from mamori.scan.quarantine_index import INDEX_FILE

    _fill(store, 3)
    raw = (store.root / INDEX_FILE).read_bytes()
    assert b"secret content" not in raw  # the content stays encrypted in <id>.bin only
    with pytest.raises(ValidationError):
        store.list(limit=-1)
    with pytest.raises(ValidationError):
        store.list(offset=-5)


def test_an_index_missing_rows_is_rebuilt_on_first_use_in_a_process(store, monkeypatch):
    """A crash can lose the last index rows: the next process sees fewer rows than files."""
    import sqlite3

    from mamori.scan import quarantine_index
    from mamori.scan.quarantine_index import INDEX_FILE

    ids = _fill(store, 4)
    with sqlite3.connect(store.root / INDEX_FILE) as db:
        db.execute("DELETE FROM items WHERE id = ?", (ids[-1],))
    assert len(store.list()) == 3  # this process already checked the index: trusts it
    monkeypatch.setattr(quarantine_index, "_VERIFIED", set())  # as in a new process
    assert sorted(i.id for i in store.list()) == sorted(ids)
