"""Parser modules. Activation is this explicit import list (one line per parser)."""

from mamori.ingest.base import parsers

__all__ = ["parsers"]
