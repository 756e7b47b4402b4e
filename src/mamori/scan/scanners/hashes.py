"""Known-bad file hashes (MD5, SHA-1, SHA-256) as indicators of compromise."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from mamori.errors import ConfigError, SourceLocation
from mamori.scan.base import ScanItem, Scanner, ScanOptions, scanners
from mamori.scan.verdict import Category, Reason

_ALGO_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}
_HEX = re.compile(r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F]{40}$|^[0-9a-fA-F]{64}$")


def load_hash_file(path: Path) -> dict[str, str]:
    """Read ``hash [name]`` lines (``#`` comments, blank lines ignored) into hash -> name.

    Raises:
        ConfigError: the file cannot be read or a line is not an MD5/SHA-1/SHA-256 hash.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read hash list {path}: {exc.strerror or exc}") from exc
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        value, _, name = line.replace(",", " ").partition(" ")
        if not _HEX.match(value):
            raise ConfigError(
                f"not an MD5/SHA-1/SHA-256 hash: {value!r}",
                location=SourceLocation(str(path), number),
            )
        out[value.lower()] = name.strip() or value.lower()
    return out


@scanners.register
class HashScanner(Scanner):
    """Matches the MD5, SHA-1 and SHA-256 of every object and member against an IOC list."""

    NAME: ClassVar[str] = "hashes"
    DESCRIPTION: ClassVar[str] = "MD5 / SHA-1 / SHA-256 hash IOCs"

    def __init__(self, iocs: dict[str, str]) -> None:
        self.iocs = iocs
        self._lengths = {len(h) for h in iocs}

    @classmethod
    def from_hashes(cls, hashes: Iterable[str]) -> HashScanner:
        iocs: dict[str, str] = {}
        for value in hashes:
            if not _HEX.match(value.strip()):
                raise ConfigError(f"not an MD5/SHA-1/SHA-256 hash: {value!r}")
            iocs[value.strip().lower()] = value.strip().lower()
        return cls(iocs)

    @classmethod
    def from_options(cls, options: ScanOptions) -> HashScanner | None:
        iocs = dict(cls.from_hashes(options.hashes).iocs)
        for path in options.hash_files:
            iocs.update(load_hash_file(path))
        return cls(iocs) if iocs else None

    def digests(self) -> frozenset[str]:
        return frozenset(_ALGO_BY_LENGTH[length] for length in self._lengths)

    def scan(self, item: ScanItem) -> list[Reason]:
        found: list[Reason] = []
        for length in sorted(self._lengths):
            algo = _ALGO_BY_LENGTH[length]
            digest = self._digest(item, algo)
            name = self.iocs.get(digest)
            if name is not None:
                detail = f"{algo}:{digest}" + (f" ({name})" if name != digest else "")
                found.append(
                    Reason(Category.MALWARE, "hash_ioc", detail, self.NAME, item.display_path)
                )
        return found

    @staticmethod
    def _digest(item: ScanItem, algo: str) -> str:
        """The engine's digest of this item (hashed once), else hashed here."""
        if item.digest is not None:
            try:
                return item.digest(algo)
            except KeyError:
                pass
        if algo == "sha256" and item.sha256 is not None:
            return item.sha256()
        return hashlib.new(algo, item.data, usedforsecurity=False).hexdigest()

    def version(self) -> str:
        digest = hashlib.sha256("\n".join(sorted(self.iocs)).encode()).hexdigest()[:12]
        return f"{self.NAME}:{digest}"


__all__ = ["HashScanner", "load_hash_file"]
