"""Figures for the foundation: password hashing, audit chain, API request rate.

Run: .venv/bin/python bench/foundation_store_web.py
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

from mamori.config import Settings
from mamori.store.db import Database
from mamori.store.passwords import make_hasher
from mamori.store.repos import apikeys, audit, tenants, users

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def timed(label: str, n: int, fn) -> None:
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    rate = n / elapsed
    each = elapsed / n * 1000
    print(f"{label:<48} {n:>6} in {elapsed:7.3f}s  {rate:10.1f}/s  {each:8.3f} ms each")


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="mamori-bench-"))
    settings = Settings(data_dir=root, secret_key="b" * 48)
    db = Database(settings)
    db.upgrade()

    prod = make_hasher(settings)
    h = prod.hash("a-good-password-1")
    timed(
        "argon2id hash (production parameters)",
        5,
        lambda: [prod.hash("a-good-password-1") for _ in range(5)],
    )
    timed(
        "argon2id verify (production parameters)",
        5,
        lambda: [prod.verify(h, "a-good-password-1") for _ in range(5)],
    )

    def append_each(n: int) -> None:
        for i in range(n):
            with db.session() as s:
                audit.record(s, action="bench.one", actor="bench", detail={"i": i})

    def append_batch(n: int) -> None:
        with db.session() as s:
            for i in range(n):
                audit.record(s, action="bench.batch", actor="bench", detail={"i": i})

    timed("audit append, one transaction each (SQLite)", 500, lambda: append_each(500))
    timed("audit append, one transaction (SQLite)", 5000, lambda: append_batch(5000))
    with db.session() as s:
        timed("audit verify (SQLite)", 5500, lambda: audit.verify(s))

    with db.session() as s:
        t = tenants.create_tenant(s, slug="bench", name="Bench")
        users.create_user(
            s,
            username="u",
            password="a-good-password-1",  # noqa: S106 - benchmark account
            role="customer_viewer",
            tenant_id=t.id,
            hasher=make_hasher(settings),
        )
        _key, token = apikeys.create_api_key(s, tenant_id=t.id, purpose="api")

    from mamori.web.app import create_app

    app = create_app(settings, db=db)
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        timed(
            "GET /api/v1/me with API key (in-process)",
            300,
            lambda: [client.get("/api/v1/me", headers=headers) for _ in range(300)],
        )
        timed(
            "GET /api/v1/tenants with API key (in-process)",
            300,
            lambda: [client.get("/api/v1/tenants", headers=headers) for _ in range(300)],
        )
        timed(
            "GET /healthz (in-process)", 500, lambda: [client.get("/healthz") for _ in range(500)]
        )
    db.dispose()


if __name__ == "__main__":
    main()
