"""The quarantine's list index: one SQLite file beside the items, so a page costs one query.

The ``<id>.json`` metadata files stay the record; ``index.sqlite3`` holds a copy of each
(one row per item, with the columns lists filter and sort on) and is written after the
metadata file on every change. A missing, corrupt or outdated index is rebuilt from the
metadata files (the only time every file is read); :meth:`QuarantineIndex.rebuild` does it
on demand. The content (``<id>.bin``, encrypted) is never in the index.

One connection per index file and process is kept open (WAL mode; commits do not wait for
the disk, the metadata file already did). The first use in a process checks that the index
has one row per metadata file (names only, no file is read) and rebuilds it otherwise, so an
index that lost its last rows in a crash, or items written by a version without the index,
are listed again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_CONNECTIONS: dict[Path, tuple[sqlite3.Connection, int]] = {}  # path -> (connection, inode)
_VERIFIED: set[Path] = set()
_MAX_CONNECTIONS = 8  # quarantine directories with an open connection per process
_GLOBAL = threading.RLock()  # guards the two above and every use of a connection

INDEX_FILE = "index.sqlite3"
_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    status TEXT NOT NULL,
    tenant TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_created ON items (created DESC, id DESC);
CREATE INDEX IF NOT EXISTS items_tenant ON items (tenant, status, created DESC);
"""


class QuarantineIndex:
    """Rows of item metadata (dicts as stored in ``<id>.json``), newest first."""

    def __init__(self, root: Path, load_all: Callable[[], Iterator[dict[str, Any]]]) -> None:
        self.path = root / INDEX_FILE
        self._load_all = load_all

    # -- writing ----------------------------------------------------------------------------

    def upsert(self, doc: dict[str, Any]) -> None:
        """Record ``doc`` (after its metadata file was written). An index that cannot be
        written is removed, so the next read rebuilds it instead of missing the item."""
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT OR REPLACE INTO items (id, created, status, tenant, doc)"
                    " VALUES (?, ?, ?, ?, ?)",
                    _row(doc),
                )
        except sqlite3.Error:
            log.exception("quarantine index update failed: it will be rebuilt")
            self._discard()

    # -- reading ----------------------------------------------------------------------------

    def page(
        self,
        *,
        tenants: Collection[str] | None = None,
        tenant: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        where, args = _filters(tenants=tenants, tenant=tenant, status=status)
        sql = f"SELECT doc FROM items{where} ORDER BY created DESC, id DESC"  # noqa: S608 - fixed text
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        elif offset:
            sql += " LIMIT -1 OFFSET ?"
            args.append(offset)
        rows = self._query(sql, args)
        return [json.loads(doc) for (doc,) in rows]

    def counts(
        self, *, tenants: Collection[str] | None = None, tenant: str | None = None
    ) -> dict[str, int]:
        where, args = _filters(tenants=tenants, tenant=tenant, status=None)
        sql = f"SELECT status, COUNT(*) FROM items{where} GROUP BY status"  # noqa: S608 - fixed text
        return {str(status): int(count) for status, count in self._query(sql, args)}

    def rebuild(self) -> int:
        """Build the index anew from the metadata files; returns the number of items."""
        with _GLOBAL:
            self._discard()
            tmp = self.path.with_name(f".{INDEX_FILE}.{os.getpid()}.{threading.get_ident()}")
            tmp.unlink(missing_ok=True)
            db = sqlite3.connect(tmp)
            try:
                db.executescript(_SCHEMA)
                count = 0
                for doc in self._load_all():
                    db.execute(
                        "INSERT OR REPLACE INTO items (id, created, status, tenant, doc)"
                        " VALUES (?, ?, ?, ?, ?)",
                        _row(doc),
                    )
                    count += 1
                db.execute(f"PRAGMA user_version = {_VERSION}")
                db.commit()
            finally:
                db.close()
            tmp.replace(self.path)
            log.info("quarantine index rebuilt: %d items", count)
            return count

    # -- internals --------------------------------------------------------------------------

    def _query(self, sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
        for attempt in (1, 2):
            try:
                with _GLOBAL:
                    db = self._shared()
                    if db.execute("PRAGMA user_version").fetchone()[0] != _VERSION:
                        raise sqlite3.DatabaseError("index of another version")
                    return list(db.execute(sql, args))
            except sqlite3.DatabaseError:
                if attempt == 2:
                    raise
                log.warning("quarantine index %s unusable: rebuilding it", self.path)
                self._discard()
        return []  # pragma: no cover - the loop returns or raises

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with _GLOBAL:
            db = self._shared()
            with db:  # one transaction
                yield db

    def _shared(self) -> sqlite3.Connection:
        """The process's connection to the index (caller holds ``_GLOBAL``): reopened when
        the file was replaced, built when missing, checked against the files once."""
        key = self.path.resolve()
        if not self.path.exists():
            self._forget(key)
            self.rebuild()
        inode = self.path.stat().st_ino
        cached = _CONNECTIONS.get(key)
        if cached is not None and cached[1] != inode:
            self._forget(key)
            cached = None
        if cached is None:
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            while len(_CONNECTIONS) >= _MAX_CONNECTIONS:  # drop the oldest
                QuarantineIndex._forget(next(iter(_CONNECTIONS)))
            _CONNECTIONS[key] = (db, inode)
            cached = (db, inode)
        if key not in _VERIFIED:
            _VERIFIED.add(key)
            rows = cached[0].execute("SELECT COUNT(*) FROM items").fetchone()[0]
            files = sum(1 for path in self.path.parent.glob("*.json"))
            if rows != files:
                log.warning("quarantine index has %d of %d items: rebuilding it", rows, files)
                self._forget(key)
                self.rebuild()
                return self._shared()
        return cached[0]

    @staticmethod
    def _forget(key: Path) -> None:
        cached = _CONNECTIONS.pop(key, None)
        if cached is not None:
            cached[0].close()

    def _discard(self) -> None:
        with _GLOBAL:
            with contextlib.suppress(OSError):
                self._forget(self.path.resolve())
            for suffix in ("", "-journal", "-wal", "-shm"):
                self.path.with_name(INDEX_FILE + suffix).unlink(missing_ok=True)


def _row(doc: dict[str, Any]) -> tuple[str, str, str, str | None, str]:
    text = json.dumps(doc, ensure_ascii=False, default=str)
    return str(doc["id"]), str(doc["created"]), str(doc["status"]), doc.get("tenant"), text


def _filters(
    *, tenants: Collection[str] | None, tenant: str | None, status: str | None
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if tenants is not None:
        if not tenants:
            return " WHERE 0", []
        clauses.append(f"tenant IN ({', '.join('?' * len(tenants))})")
        args += list(tenants)
    if tenant is not None:
        clauses.append("tenant = ?")
        args.append(tenant)
    if status is not None:
        clauses.append("status = ?")
        args.append(status)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


__all__ = ["INDEX_FILE", "QuarantineIndex"]
