"""File import: parse files or directories (plain or ``.gz``) into a sink, with progress.

Used by ``mamori ingest FILE_OR_DIR``; the web layer can call the same function. Each file
is read with the parser its source names (``auto`` sniffs each file), the file's mtime is
the reference time for records without a timestamp or year, and the location (path) and
line numbers make event ids stable - importing the same file twice yields the same ids,
which the store's idempotent insert (or a :class:`~mamori.ingest.sinks.DedupSink`) turns
into one copy.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

from mamori.errors import NotFoundError, ValidationError
from mamori.ingest.base import ParseContext, Parser
from mamori.ingest.config import IngestConfig
from mamori.ingest.parsers import parsers
from mamori.ingest.sinks import CountingSink
from mamori.ingest.sniffing import SNIFF_BYTES, guess_parser
from mamori.model import EventSink, Quarantined

ProgressCallback = Callable[[int], None]


class _CountingReader(io.RawIOBase):
    """Reports how many bytes of the underlying file were consumed."""

    def __init__(self, raw: BinaryIO, progress: ProgressCallback | None) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if self._progress is not None and n:
            self._progress(n)
        return n


def iter_files(path: Path) -> Iterator[Path]:
    """``path`` itself, or every regular, non-hidden file below it in name order.

    Raises:
        NotFoundError: the path does not exist.
    """
    if not path.exists():
        raise NotFoundError(f"{path} does not exist")
    if path.is_file():
        yield path
        return
    for child in sorted(path.rglob("*")):
        rel = child.relative_to(path)
        if child.is_file() and not any(part.startswith(".") for part in rel.parts):
            yield child


def _open(path: Path, progress: ProgressCallback | None) -> BinaryIO:
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller via the returned object
    counted = io.BufferedReader(_CountingReader(raw, progress), buffer_size=256 * 1024)
    if path.suffix == ".gz":
        return cast(BinaryIO, gzip.GzipFile(fileobj=counted, mode="rb"))
    return cast(BinaryIO, counted)


@dataclass
class ImportResult:
    files: int = 0
    bytes: int = 0
    events: int = 0
    quarantined: int = 0
    warnings: int = 0
    skipped: list[str] = field(default_factory=list)
    parsers_used: dict[str, int] = field(default_factory=dict)


def _make_parser(config: IngestConfig, source: str, head: bytes) -> tuple[str, Parser]:
    if source == "auto":
        name = guess_parser(head)
        if name is None:
            raise ValidationError("no parser recognises this file (give --source)")
        options = config.parser_options.get(name, {})
    else:
        found = config.source(source)
        name, options = found.parser, found.options
    cls: Any = parsers.get(name)
    return name, (cls(**options) if options else cls())


def import_paths(
    paths: list[Path],
    *,
    source: str,
    sink: EventSink,
    tenant: str | None = None,
    host: str | None = None,
    config: IngestConfig | None = None,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Parse every file under ``paths`` into ``sink``; returns the counts.

    A file that cannot be opened, is not gzip despite its name or that no parser
    recognises (with ``source="auto"``) is quarantined whole (reason and first bytes) and
    counted in ``skipped``; the import goes on with the next file.

    Raises:
        NotFoundError: a path that does not exist, or an unknown source.
    """
    config = config or IngestConfig()
    if source != "auto":
        config.source(source)  # fail early on an unknown source
    files = [f for p in paths for f in iter_files(p)]
    counting = CountingSink(sink)
    result = ImportResult()
    for path in files:
        received = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        context = ParseContext(tenant=tenant, host=host, location=str(path), received_at=received)
        size = path.stat().st_size
        try:
            with _open(path, None) as probe:
                head = probe.read(SNIFF_BYTES)
            name, parser = _make_parser(config, source, head)
            with _open(path, progress) as stream:
                parser.parse(stream, counting, context)
        except (OSError, EOFError, gzip.BadGzipFile, ValidationError) as exc:
            reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            with open(path, "rb") as fh:
                first = fh.read(4096)
            item = Quarantined(
                source=source,
                reason=f"file not imported: {reason}",
                raw=first,
                location=str(path),
                tenant=tenant,
            )
            counting.quarantine(item)
            result.skipped.append(str(path))
            if progress is not None:
                progress(size)
            continue
        result.files += 1
        result.bytes += size
        result.parsers_used[name] = result.parsers_used.get(name, 0) + 1
    result.events = counting.events
    result.quarantined = counting.quarantined
    result.warnings = counting.warnings
    counting.flush()
    return result


def total_bytes(paths: list[Path]) -> int:
    """Bytes on disk of every file that :func:`import_paths` would read."""
    return sum(f.stat().st_size for p in paths for f in iter_files(p))


__all__ = ["ImportResult", "import_paths", "iter_files", "total_bytes"]
