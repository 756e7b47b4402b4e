"""Fixtures for CLI tests: the check-sheet builder of the guideline tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from foundation_db import db, migrated_sqlite, settings  # noqa: F401

_spec = importlib.util.spec_from_file_location(
    "guideline_sheet_helpers", Path(__file__).parents[1] / "guideline" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)


@pytest.fixture()
def sheet_path(tmp_path):
    from mamori.guideline.loader import load_builtin

    rows = _helpers.full_sheet_rows(load_builtin())
    rows[0]["answer"] = "対策完了"
    rows[142]["answer"] = "一部対策"
    return _helpers.write_sheet(tmp_path / "official.xlsx", rows)
