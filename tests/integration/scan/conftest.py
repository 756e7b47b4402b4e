"""Fixtures for the scan wiring tests: a migrated database and settings per test."""

from foundation_db import db, migrated_sqlite, settings  # noqa: F401
