"""The guideline API end to end on a real PostgreSQL server (answers, evidence, sheets)."""

from __future__ import annotations

import warnings

import pytest

from foundation_db import build_world, make_settings
from mamori.store.db import Database
from tests.integration.web.guideline_helpers import (
    API,
    PDF,
    answers_in,
    as_user,
    create,
    sheet_bytes,
)

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.db
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_guideline_api_on_postgres(postgres_url, tmp_path):
    from mamori.web.app import create_app

    settings = make_settings(tmp_path, postgres_url)
    database = Database(settings)
    try:
        database.upgrade()
        build_world(database, settings)
        app = create_app(settings, db=database)
        with TestClient(app, follow_redirects=False) as client:
            h = as_user(client, "cadmin-a")
            aid = create(client, h, title="PG評価")["id"]
            r = client.put(
                f"{API}/assessments/{aid}/answers/1",
                json={"status": "対策完了", "due": "2027-03-31", "effort_days": 1.5},
                headers=h,
            )
            assert r.status_code == 200, r.text
            r = client.post(
                f"{API}/assessments/{aid}/items/1/evidence?filename=e.pdf", content=PDF, headers=h
            )
            assert r.status_code == 201, r.text
            sha = r.json()["sha256"]
            assert client.get(f"{API}/assessments/{aid}/evidence/{sha}").content == PDF
            r = client.post(
                f"{API}/assessments/{aid}/checksheet",
                files={"file": ("s.xlsx", sheet_bytes({2: "一部対策"}), XLSX)},
                headers=h,
            )
            assert r.status_code == 200, r.text
            exported = client.get(f"{API}/assessments/{aid}/checksheet")
            assert answers_in(exported.content)[1] == "対策完了"
            score = client.get(f"{API}/assessments/{aid}/score").json()
            assert score["levels"]["1"]["achieved"] == 1
            assert client.get(f"/guideline/{aid}").status_code == 200
            as_user(client, "cadmin-zzbmarker")
            assert client.get(f"{API}/assessments/{aid}").status_code == 404
            assert client.get(f"{API}/assessments/{aid}/evidence/{sha}").status_code == 404
    finally:
        database.dispose()
