"""The parser contract (after plaso): a cheap ``sniff`` and a ``parse`` into a sink.

To write a parser, subclass :class:`Parser` in its own module under ``ingest/parsers/``,
set ``NAME`` (snake_case, unique) and ``DATA_TYPE`` (namespaced, ``"auth:sshd"``), implement
``sniff`` and ``parse``, decorate the class with ``@parsers.register`` and add one import
line to ``ingest/parsers/__init__.py``. A parser never writes storage and never raises on
one bad record: it hands :class:`~mamori.model.Event` objects to ``sink.event`` and
unreadable records to ``sink.quarantine`` with the reason and the raw bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, ClassVar

from mamori.model import EventSink
from mamori.registry import Registry


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What a parser knows about the stream besides its bytes."""

    tenant: str | None = None
    host: str | None = None  # default host when the record names none
    location: str = "<stream>"  # file name or peer address, for quarantine reasons
    # when the record arrived (or the file's mtime): the timestamp of a record that names
    # none, and the reference for formats without a year (RFC 3164 syslog)
    received_at: datetime | None = None


class Parser(ABC):
    """One input format."""

    NAME: ClassVar[str]
    DATA_TYPE: ClassVar[str]
    DESCRIPTION: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def sniff(cls, head: bytes) -> bool:
        """Cheaply decide from the first bytes (up to 64 KiB) whether this format fits."""

    @abstractmethod
    def parse(self, stream: BinaryIO, sink: EventSink, context: ParseContext) -> None:
        """Read the whole stream, emitting events and quarantined records into ``sink``."""


parsers: Registry[type[Parser]] = Registry("parser", entry_point_group="mamori.parsers")

__all__ = ["ParseContext", "Parser", "parsers"]
