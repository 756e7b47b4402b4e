"""The declarative base every area's tables derive from.

Constraint names follow one convention so that Alembic migrations name them the same way
on SQLite and PostgreSQL (and batch mode on SQLite can find them again).
"""

from __future__ import annotations

from sqlalchemy import JSON, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of all mamori tables (one metadata for the whole schema)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, object]: JSON}


__all__ = ["NAMING_CONVENTION", "Base"]
