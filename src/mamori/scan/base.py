"""The scanner contract and the options that configure the scanning core.

To write a scanner, subclass :class:`Scanner` in its own module under ``scan/scanners/``, set
``NAME`` (snake_case, unique), implement :meth:`Scanner.from_options` (return ``None`` when the
scanner is not configured, e.g. no clamd socket) and :meth:`Scanner.scan`, decorate the class
with ``@scanners.register`` and add one import line to ``scan/scanners/__init__.py``.

``scan`` receives one :class:`ScanItem` (a whole file, or a member the archive walker unpacked)
and returns the :class:`~mamori.scan.verdict.Reason` list it found; an empty list means this
scanner found nothing. A scanner that cannot do its job raises
:class:`~mamori.errors.ScanError` (or :class:`ScannerUnavailable` when a retry may help); the
engine turns that into an ``error`` reason — never into "clean".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from mamori.errors import ScanError
from mamori.registry import Registry
from mamori.scan.verdict import Reason


class ScannerUnavailable(ScanError):
    """A scanner that cannot be reached right now (daemon down, timeout); retry later."""


@dataclass(frozen=True, slots=True)
class ScanItem:
    """One object to scan.

    Attributes:
        data: the bytes.
        name: the file name as declared (attachment name, archive member name).
        declared_mime: the MIME type the sender declared, when there is one.
        path: the chain of names from the outermost object (``("a.zip", "b.txt")``).
        depth: archive nesting depth (0 for the outermost object).
        detected_type: the type found from magic bytes (filled in by the engine).
        sha256: when set, returns the SHA-256 (hex) of ``data`` that the engine computes
            anyway (for the verdict), so a scanner needing it does not hash the bytes again.
        digest: when set, returns the hex digest of ``data`` for an algorithm the engine
            computed for this item (those :meth:`Scanner.digests` of its scanners ask for;
            ``KeyError`` for others): computed once, while the other scanners run.
    """

    data: bytes
    name: str = ""
    declared_mime: str = ""
    path: tuple[str, ...] = ()
    depth: int = 0
    detected_type: str = ""
    sha256: Callable[[], str] | None = field(default=None, compare=False, repr=False)
    digest: Callable[[str], str] | None = field(default=None, compare=False, repr=False)

    @property
    def display_path(self) -> str:
        """The path inside the outermost object (empty for the object itself)."""
        return "/".join(self.path[1:]) if len(self.path) > 1 else ""


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How the scanning core is assembled (which scanners, where their rules and sockets are).

    Attributes:
        scanners: names of the scanners to enable, in order; unconfigured ones are skipped.
        yara_rule_dirs: user rule folders (``*.yar``/``*.yara``) compiled with the bundled rules.
        builtin_rules: include the rules shipped in ``mamori/scan/rules``.
        yara_timeout: seconds a single YARA-X scan may take.
        clamd: clamd address, ``unix:/path``, ``/path``, ``tcp:host:port`` or ``host:port``.
        clamd_timeout: seconds for one clamd conversation.
        hash_files: files of known-bad MD5/SHA-1/SHA-256 hashes (one per line, ``#`` comments).
        hashes: additional known-bad hashes.
        hash_objects: put the SHA-256 of every scanned object into its verdict (on by
            default; on CPUs without SHA extensions it costs more than a YARA-X scan).
    """

    scanners: tuple[str, ...] = ("eicar", "hashes", "yara", "office", "clamav")
    yara_rule_dirs: tuple[Path, ...] = ()
    builtin_rules: bool = True
    yara_timeout: float = 30.0
    clamd: str | None = None
    clamd_timeout: float = 30.0
    hash_files: tuple[Path, ...] = ()
    hashes: frozenset[str] = field(default_factory=frozenset)
    hash_objects: bool = True


class Scanner(ABC):
    """One way to look at bytes (signatures, rules, hashes, macros)."""

    NAME: ClassVar[str]
    DESCRIPTION: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def from_options(cls, options: ScanOptions) -> Scanner | None:
        """Build the scanner from ``options``, or return ``None`` when it is not configured.

        Raises:
            RuleError: rules that do not compile.
            ConfigError: options that cannot work.
        """

    @abstractmethod
    def scan(self, item: ScanItem) -> list[Reason]:
        """Scan one item and return what was found (empty: nothing).

        Raises:
            ScanError: the scanner failed; ScannerUnavailable when a retry may help.
        """

    def digests(self) -> frozenset[str]:
        """Digest algorithms (``md5``, ``sha1``, ``sha256``) this scanner reads from
        ``ScanItem.digest``; the engine computes them once per item, and runs the scanners
        that ask for some after the others, so the hashing overlaps with their scans."""
        return frozenset()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (sockets, threads)."""

    def version(self) -> str:
        """A short identity of the scanner and its rule set (goes into the ICAP ISTag)."""
        return self.NAME


scanners: Registry[type[Scanner]] = Registry("scanner", entry_point_group="mamori.scanners")

__all__ = ["ScanItem", "ScanOptions", "Scanner", "ScannerUnavailable", "scanners"]
