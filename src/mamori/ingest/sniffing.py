"""Choosing a parser for a file or stream from its first bytes."""

from __future__ import annotations

from mamori.ingest.base import Parser
from mamori.ingest.parsers import parsers

SNIFF_BYTES = 64 * 1024
DEFAULT_PRIORITY = 50


def parser_order() -> list[tuple[str, type[Parser]]]:
    """Registered parsers, most specific first (``PRIORITY``, lower first; then name)."""
    return sorted(
        parsers.items(), key=lambda item: (getattr(item[1], "PRIORITY", DEFAULT_PRIORITY), item[0])
    )


def guess_parser(head: bytes) -> str | None:
    """The name of the first parser whose ``sniff`` accepts ``head``; None if none does.

    A parser whose ``sniff`` raises is skipped (a broken plugin must not stop the choice).
    """
    head = head[:SNIFF_BYTES]
    for name, cls in parser_order():
        try:
            if cls.sniff(head):
                return name
        except Exception:  # noqa: S112 - a faulty sniff is treated as "not this format"
            continue
    return None


__all__ = ["SNIFF_BYTES", "guess_parser", "parser_order"]
