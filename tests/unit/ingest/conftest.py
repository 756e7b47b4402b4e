"""Helpers for the ingest tests: run a parser over bytes or a fixture file."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mamori.ingest.base import ParseContext
from mamori.ingest.parsers import parsers
from mamori.testing import FakeSink

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs"
RECEIVED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def run_parser(
    name: str,
    data: bytes,
    *,
    tenant: str = "acme",
    received_at: datetime = RECEIVED,
    **options: Any,
) -> FakeSink:
    sink = FakeSink()
    parser = parsers.get(name)(**options)
    context = ParseContext(
        tenant=tenant, host="default-host", location="test.log", received_at=received_at
    )
    parser.parse(io.BytesIO(data), sink, context)
    return sink


def fixture_bytes(fmt: str) -> bytes:
    files = sorted((FIXTURES / fmt).iterdir())
    return b"".join(f.read_bytes() for f in files)


@pytest.fixture
def run() -> Any:
    """``run(name, data, **options) -> FakeSink``."""
    return run_parser


@pytest.fixture
def fixture_data() -> Any:
    """``fixture_data(fmt) -> bytes``: all files of ``tests/fixtures/logs/<fmt>/``."""
    return fixture_bytes
