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
