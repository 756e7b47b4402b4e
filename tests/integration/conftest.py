"""Fixtures for integration tests: a real PostgreSQL server (``db`` marker) and more."""

from pg import postgres_server, postgres_url  # noqa: F401
