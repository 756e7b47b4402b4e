"""Fixtures of the end-to-end tests, which run `mamori` as a real subprocess."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a ``mamori`` subprocess with its own data dir and fast hashing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
    env.update(
        {
            "MAMORI_DATA_DIR": str(tmp_path / "var"),
            "MAMORI_FAST_PASSWORD_HASHING": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env
