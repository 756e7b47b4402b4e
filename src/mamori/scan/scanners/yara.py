"""YARA-X: the bundled rules (``mamori/scan/rules/*.yar``) plus user rule folders.

Rules compile once when the scanner is built; each thread scans with its own
``yara_x.Scanner`` (they are not shareable between threads). A ``yara_x.Scanner`` must also be
freed on the thread that made it, so the per-thread scanners live in a module-level
thread-local table rather than on the ``YaraScanner``: dropping a ``YaraScanner`` (a policy
reload, a finished test) then frees nothing on a foreign thread. A thread frees the scanners of
dead ``YaraScanner`` objects the next time it needs one, or when it ends.
"""

from __future__ import annotations

import hashlib
import re
import threading
import weakref
from importlib import resources
from typing import ClassVar

import yara_x

from mamori.errors import RuleError, ScanError, SourceLocation
from mamori.scan.base import ScanItem, Scanner, ScanOptions, scanners
from mamori.scan.verdict import Category, Reason

_LOCATION = re.compile(r"-->\s*(?P<path>.+?):(?P<line>\d+):\d+")
_CATEGORIES = {c.value: c for c in Category}


def _sources(options: ScanOptions) -> list[tuple[str, str, str]]:
    """(namespace, origin, source text) for every rule file, bundled first."""
    out: list[tuple[str, str, str]] = []
    if options.builtin_rules:
        pkg = resources.files("mamori.scan").joinpath("rules")
        for entry in sorted(pkg.iterdir(), key=lambda e: e.name):
            if entry.name.endswith((".yar", ".yara")):
                out.append(("mamori", f"mamori/scan/rules/{entry.name}", entry.read_text("utf-8")))
    for folder in options.yara_rule_dirs:
        if not folder.is_dir():
            raise RuleError(f"YARA rule folder {folder} does not exist")
        files = sorted(
            p for p in folder.rglob("*") if p.suffix in (".yar", ".yara") and p.is_file()
        )
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise RuleError(
                    f"cannot read rule file: {exc}", location=SourceLocation(str(path))
                ) from exc
            out.append((f"user_{len(out)}", str(path), text))
    return out


def compile_rules(options: ScanOptions) -> tuple[yara_x.Rules, str]:
    """Compile every rule file; returns the rules and a digest of their sources.

    Raises:
        RuleError: every compile error, each with its file and line.
    """
    compiler = yara_x.Compiler()
    digest = hashlib.sha256()
    errors: list[str] = []
    first: SourceLocation | None = None
    for namespace, origin, text in _sources(options):
        digest.update(origin.encode() + b"\0" + text.encode())
        compiler.new_namespace(namespace)
        try:
            compiler.add_source(text, origin=origin)
        except yara_x.CompileError as exc:
            message = str(exc)
            match = _LOCATION.search(message)
            loc = (
                SourceLocation(match["path"], int(match["line"]))
                if match
                else SourceLocation(origin)
            )
            first = first or loc
            errors.append(f"{loc}: {message.splitlines()[0]}")
    if errors:
        raise RuleError("; ".join(errors), location=first)
    return compiler.build(), digest.hexdigest()[:12]


_THREAD = threading.local()


@scanners.register
class YaraScanner(Scanner):
    """Scans with YARA-X. A rule's ``category`` meta (malware, policy, macro...) sets the
    reason category (default malware)."""

    NAME: ClassVar[str] = "yara"
    DESCRIPTION: ClassVar[str] = "YARA-X rules (bundled + user folders)"

    def __init__(self, rules: yara_x.Rules, *, timeout: float = 30.0, digest: str = "") -> None:
        self.rules = rules
        self.timeout = timeout
        self.digest = digest

    @classmethod
    def from_options(cls, options: ScanOptions) -> YaraScanner | None:
        if not options.builtin_rules and not options.yara_rule_dirs:
            return None
        rules, digest = compile_rules(options)
        return cls(rules, timeout=options.yara_timeout, digest=digest)

    def _scanner(self) -> yara_x.Scanner:
        made: dict[int, tuple[weakref.ref[YaraScanner], yara_x.Scanner]] | None
        made = getattr(_THREAD, "scanners", None)
        if made is None:
            made = _THREAD.scanners = {}
        entry = made.get(id(self))
        if entry is not None and entry[0]() is self:
            return entry[1]
        for key in [key for key, (owner, _) in made.items() if owner() is None]:
            del made[key]  # made on this thread, so freeing it here is allowed
        scanner = yara_x.Scanner(self.rules)
        scanner.set_timeout(max(1, int(self.timeout)))
        made[id(self)] = (weakref.ref(self), scanner)
        return scanner

    def scan(self, item: ScanItem) -> list[Reason]:
        try:
            results = self._scanner().scan(item.data)
        except yara_x.TimeoutError as exc:
            raise ScanError(f"YARA-X scan timed out after {self.timeout:g}s") from exc
        except yara_x.ScanError as exc:
            raise ScanError(f"YARA-X scan failed: {exc}") from exc
        out: list[Reason] = []
        for rule in results.matching_rules:
            meta = dict(rule.metadata)
            category = _CATEGORIES.get(str(meta.get("category", "malware")), Category.MALWARE)
            name = rule.identifier if rule.namespace in ("mamori", "default") else rule.identifier
            out.append(Reason(category, "signature", f"YARA:{name}", self.NAME, item.display_path))
        return out

    def version(self) -> str:
        return f"{self.NAME}:{self.digest}"


__all__ = ["YaraScanner", "compile_rules"]
