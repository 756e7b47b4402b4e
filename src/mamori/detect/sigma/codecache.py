"""Bytecode of compiled rule predicates, kept next to the compiled-rule (IR) cache.

Compiling the generated Python of one rule costs about 0.1 ms; a hunt over the SigmaHQ
``windows`` folder compiles a thousand predicates and their per-leaf "matched fields"
helpers, close to a second of CPU on every start. :class:`CodeCache` keeps the code objects
by a digest of their generated source in one ``marshal`` file, so a second start loads them
in microseconds each.

The file is written by mamori only, into its own data directory (the same trust as the
rule cache and the secret key beside it); it is bound to the running Python's bytecode magic
number, and anything unreadable, of another Python or of the wrong shape is ignored (the
predicates are then compiled again). Only code generated from rule IR is ever cached: the
cache is looked up by the digest of that source, so a cached object is only ever used for
the very source it was compiled from.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import marshal
import os
import tempfile
from pathlib import Path
from types import CodeType

log = logging.getLogger(__name__)

MAX_ENTRIES = 100_000
"""More code objects than this are not added (memory bound for huge rule folders)."""

_MAGIC = importlib.util.MAGIC_NUMBER.hex()


def code_cache_path(cache_dir: Path) -> Path:
    """Where the bytecode cache of the running Python lives inside ``cache_dir``."""
    return cache_dir / f"sigma-code-{_MAGIC}.marshal"


Analysis = tuple[tuple[str, ...], bool, tuple[str, ...] | None]
"""What the engine works out per rule variant: fields named, keyword search, literals."""

_ANALYSER = hashlib.sha256(
    (Path(__file__).resolve().parent / "matcher.py").read_bytes()
).hexdigest()[:16]
"""Analyses are only reused by the very analysing code that produced them."""


def _valid_analysis(item: object) -> bool:
    if item is None:
        return True
    if not (isinstance(item, tuple) and len(item) == 3):
        return False
    named, keyword, literals = item
    return (
        isinstance(named, tuple)
        and all(isinstance(x, str) for x in named)
        and isinstance(keyword, bool)
        and (
            literals is None
            or (isinstance(literals, tuple) and all(isinstance(x, str) for x in literals))
        )
    )


class CodeCache:
    """Code objects by (name, generated source); optionally loaded from and saved to a file.

    It also keeps the per-variant rule analysis of a rule set (:data:`Analysis`, by the rule
    set's digest), which an engine would otherwise redo on every start.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.codes: dict[str, CodeType] = {}
        self.analyses: dict[str, list[Analysis | None]] = {}
        self.hits = 0
        self.misses = 0
        self._dirty = False
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("ignoring unreadable predicate cache %s: %s", path, exc)
            return
        try:
            # written by this module into mamori's own data directory; see the docstring
            data = marshal.loads(blob)  # noqa: S302
        except (EOFError, ValueError, TypeError) as exc:
            log.warning("ignoring corrupt predicate cache %s: %s", path, exc)
            return
        if not isinstance(data, dict) or not isinstance(data.get("codes"), dict):
            log.warning("ignoring predicate cache %s: not a mapping", path)
            return
        for key, code in data["codes"].items():
            if isinstance(key, str) and isinstance(code, CodeType):
                self.codes[key] = code
        analyses = data.get("analyses")
        if isinstance(analyses, dict):
            for key, items in analyses.items():
                valid = isinstance(items, list) and all(_valid_analysis(i) for i in items)
                if isinstance(key, str) and valid:
                    self.analyses[key] = items

    def analysis(self, digest: str) -> list[Analysis | None] | None:
        """The stored analysis of the rule set with ``digest``, if any."""
        if not digest:
            return None
        return self.analyses.get(f"{digest}:{_ANALYSER}")

    def keep_analysis(self, digest: str, items: list[Analysis | None]) -> None:
        """Remember the analysis of a rule set (written by the next :meth:`save`)."""
        if not digest:
            return
        key = f"{digest}:{_ANALYSER}"
        if self.analyses.get(key) != items:
            # only the latest rule sets are kept
            for old in list(self.analyses)[: max(0, len(self.analyses) - 3)]:
                del self.analyses[old]
            self.analyses[key] = items
            self._dirty = True

    def compile(self, source: str, name: str) -> CodeType:
        """``compile(source, name, "eval")``, from the cache when it holds that source."""
        digest = hashlib.blake2b(digest_size=20)
        digest.update(name.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
        digest.update(source.encode("utf-8", "surrogatepass"))
        key = digest.hexdigest()
        code = self.codes.get(key)
        if code is not None:
            self.hits += 1
            return code
        self.misses += 1
        code = compile(source, name, "eval")
        if len(self.codes) < MAX_ENTRIES:
            self.codes[key] = code
            self._dirty = True
        return code

    def save(self) -> bool:
        """Write the cache when it has new entries; True if written. Never raises on I/O."""
        if self.path is None or not self._dirty:
            return False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".sigma-code-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(marshal.dumps({"codes": self.codes, "analyses": self.analyses}))
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("cannot write predicate cache %s: %s", self.path, exc)
            return False
        self._dirty = False
        return True


__all__ = ["MAX_ENTRIES", "Analysis", "CodeCache", "code_cache_path"]
