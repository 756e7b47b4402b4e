"""Guideline storage on a real PostgreSQL server (same scenario as on SQLite)."""

from __future__ import annotations

import pytest

from mamori.store.db import Database
from tests.unit.store.test_store_guideline import (
    exercise_blob_race,
    exercise_conflict,
    exercise_roundtrip,
)

pytestmark = pytest.mark.db


def test_guideline_roundtrip_on_postgres(postgres_url, monkeypatch):
    database = Database(postgres_url)
    try:
        database.upgrade()
        exercise_roundtrip(database)
        exercise_conflict(database)
        exercise_blob_race(database, monkeypatch)
    finally:
        database.dispose()
