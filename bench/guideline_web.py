"""Figures for the guideline web side: answering, score, pages, evidence upload, SQL storage.

Run: .venv/bin/python bench/guideline_web.py
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

from mamori.config import Settings
from mamori.store.db import Database
from mamori.store.passwords import make_hasher
from mamori.store.repos import tenants, users

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

API = "/api/v1/guideline"


def timed(label: str, n: int, fn) -> None:
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    rate, each = n / elapsed, elapsed / n * 1000
    print(f"{label:<52} {n:>5} in {elapsed:7.3f}s  {rate:8.1f}/s  {each:8.2f} ms each")


def main() -> None:
    from mamori.web.app import create_app

    root = Path(tempfile.mkdtemp(prefix="mamori-bench-"))
    settings = Settings(data_dir=root, secret_key="b" * 48, fast_password_hashing=True)
    db = Database(settings)
    db.upgrade()
    with db.session() as s:
        t = tenants.create_tenant(s, slug="acme", name="アクメ")
        users.create_user(
            s,
            username="cadmin",
            password="a-good-password-1",  # noqa: S106 - benchmark account
            role="customer_admin",
            tenant_id=t.id,
            hasher=make_hasher(settings),
        )
    app = create_app(settings, db=db)
    with TestClient(app) as client:
        client.get("/login")
        codec = app.state.session_codec
        csrf = codec.decode(client.cookies.get("mamori_session")).csrf
        client.post(
            "/login",
            data={"username": "cadmin", "password": "a-good-password-1", "csrf_token": csrf},
        )
        csrf = codec.decode(client.cookies.get("mamori_session")).csrf
        h = {"X-CSRF-Token": csrf}
        aid = client.post(f"{API}/assessments", json={"title": "bench"}, headers=h).json()["id"]
        statuses = ["対策完了", "一部対策", "未対策"]

        def answer_all() -> None:
            for n in range(1, 154):
                r = client.put(
                    f"{API}/assessments/{aid}/answers/{n}",
                    json={"status": statuses[n % 3], "comment": f"c{n}"},
                    headers=h,
                )
                assert r.status_code == 200, r.text

        timed("PUT answer (153 items, growing history)", 153, answer_all)
        timed(
            "GET score",
            50,
            lambda: [client.get(f"{API}/assessments/{aid}/score") for _ in range(50)],
        )
        timed(
            "GET dashboard page", 30, lambda: [client.get(f"/guideline/{aid}") for _ in range(30)]
        )
        timed(
            "GET questionnaire page (label 1)",
            30,
            lambda: [client.get(f"/guideline/{aid}/labels/1") for _ in range(30)],
        )
        pdf = b"%PDF-1.4\n" + b"x" * (1024 * 1024)

        def upload() -> None:
            for n in range(20):
                data = pdf + str(n).encode()
                r = client.post(
                    f"{API}/assessments/{aid}/items/{n + 1}/evidence?filename=e.pdf",
                    content=data,
                    headers=h,
                )
                assert r.status_code == 201, r.text

        timed("POST evidence 1 MiB (raw body)", 20, upload)
        timed(
            "GET report PDF",
            5,
            lambda: [client.get(f"{API}/assessments/{aid}/report?format=pdf") for _ in range(5)],
        )
    db.dispose()


if __name__ == "__main__":
    main()
