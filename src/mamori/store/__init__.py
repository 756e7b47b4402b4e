"""Persistent state: SQLAlchemy 2 tables, keyword-only repositories, Alembic migrations."""

from mamori.store.db import Database, make_engine, upgrade

__all__ = ["Database", "make_engine", "upgrade"]
