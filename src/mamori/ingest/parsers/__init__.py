"""Parser modules. Activation is this explicit import list (one line per parser)."""

from mamori.ingest.base import parsers
from mamori.ingest.parsers import evtx as _evtx  # noqa: F401
from mamori.ingest.parsers import windows_json as _windows_json  # noqa: F401

__all__ = ["parsers"]
