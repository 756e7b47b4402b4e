"""The scanning core: walk an object, run every scanner and the policy checks, decide.

One :class:`ScanEngine` is built once (rules compiled once) and is safe to use from several
threads; each call returns a :class:`~mamori.scan.verdict.Verdict`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from mamori.errors import ScanError
from mamori.scan.archive import ArchiveWalker
from mamori.scan.base import ScanItem, Scanner, ScannerUnavailable, ScanOptions, scanners
from mamori.scan.policy import Policy, PolicySet
from mamori.scan.verdict import Category, Outcome, Reason, Verdict, combine

log = logging.getLogger(__name__)

# hashlib releases the GIL on large inputs: the SHA-256 of a big object is computed on another
# core while the scanners run, instead of adding its time to the scan.
_HASHING = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mamori-hash")
_PARALLEL_HASH_BYTES = 256 * 1024


def _sha256(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def _started_sha256(data: bytes | memoryview, started: threading.Event) -> str:
    started.set()
    return hashlib.sha256(data).hexdigest()  # releases the GIL for the whole digest


def sha256_async(data: bytes | memoryview) -> Future[str]:
    """The SHA-256 of ``data`` computed on another thread (overlapping the caller's work).

    Returns once the hashing thread is running, so the digest really overlaps with what the
    caller does next (a scanner that holds the GIL at its start cannot delay it). Small
    inputs are hashed at once (a finished future), where a thread costs more than it saves.
    """
    if len(data) < _PARALLEL_HASH_BYTES:
        done: Future[str] = Future()
        done.set_result(_sha256(data))
        return done
    started = threading.Event()
    future = _HASHING.submit(_started_sha256, data, started)
    started.wait(1.0)  # never block for long: a busy pool just means less overlap
    return future


class ScanEngine:
    """Scanners plus policies; :meth:`scan_bytes` and :meth:`scan_path` produce verdicts."""

    def __init__(
        self,
        scanner_list: Sequence[Scanner],
        policies: PolicySet | None = None,
        *,
        hash_objects: bool = True,
    ) -> None:
        self.scanners = list(scanner_list)
        self.policies = policies or PolicySet()
        self.hash_objects = hash_objects
        self._version: str | None = None

    @classmethod
    def from_options(
        cls, options: ScanOptions | None = None, policies: PolicySet | None = None
    ) -> ScanEngine:
        """Build the scanners named in ``options`` (skipping unconfigured ones).

        Raises:
            NotFoundError: an unknown scanner name.
            RuleError: YARA rules that do not compile.
        """
        import mamori.scan.scanners  # noqa: F401 - registers the bundled scanners

        options = options or ScanOptions()
        built: list[Scanner] = []
        for name in options.scanners:
            scanner = scanners.get(name).from_options(options)
            if scanner is not None:
                built.append(scanner)
        return cls(built, policies, hash_objects=options.hash_objects)

    def version(self) -> str:
        """Identity of the scanners and rule sets (computed once: rules compile once)."""
        if self._version is None:
            digest = hashlib.sha256("|".join(s.version() for s in self.scanners).encode())
            self._version = digest.hexdigest()[:16]
        return self._version

    def close(self) -> None:
        for scanner in self.scanners:
            scanner.close()

    def scan_path(self, path: Path, *, tenant: str | None = None) -> Verdict:
        """Scan a file; a file over the size limit is not read past the limit.

        Raises:
            ScanError: the file cannot be read.
        """
        policy = self.policies.for_tenant(tenant)
        limit = policy.limits.max_file_bytes
        try:
            with path.open("rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise ScanError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if len(data) > limit:
            reason = policy.decide(
                Reason(Category.LIMIT, "size_limit", f"file over {limit} bytes", "engine")
            )
            return Verdict(reason.outcome, (reason,), name=str(path), size=path.stat().st_size)
        return self.scan_bytes(data, name=str(path), policy=policy)

    def scan_bytes(
        self,
        data: bytes,
        *,
        name: str = "",
        declared_mime: str = "",
        tenant: str | None = None,
        passwords: Iterable[str] = (),
        policy: Policy | None = None,
        name_checks: bool = True,
    ) -> Verdict:
        """Scan ``data`` (and everything nested in it) and decide by the tenant's policy.

        ``name_checks=False`` skips the attachment-policy checks on names and declared types
        (a web download is not an attachment); scanners and archive limits still apply.
        """
        started = time.perf_counter()
        policy = policy or self.policies.for_tenant(tenant)
        reasons: list[Reason] = []
        base_name = name.replace("\\", "/").rsplit("/", 1)[-1]
        if len(data) > policy.limits.max_file_bytes:
            reasons.append(
                Reason(
                    Category.LIMIT,
                    "size_limit",
                    f"object over {policy.limits.max_file_bytes} bytes",
                    "engine",
                )
            )
            return self._verdict(data, name, "", 0, reasons, policy, started, {})
        digest = sha256_async(data) if self.hash_objects else None
        walker = ArchiveWalker(policy.limits, tuple(passwords))
        root = ScanItem(
            data=data,
            name=base_name,
            declared_mime=declared_mime,
            sha256=digest.result if digest is not None else None,
        )
        detected = ""
        items = 0
        try:
            for entry in walker.walk(root):
                if isinstance(entry, Reason):
                    reasons.append(entry)
                    continue
                items += 1
                if entry.depth == 0:
                    detected = entry.detected_type
                reasons.extend(self._scan_item(entry, policy, name_checks))
        except Exception as exc:  # a walker bug on hostile input must never read as clean
            log.exception("archive walk failed")
            reasons.append(
                Reason(
                    Category.ERROR, "scanner_error", f"{type(exc).__name__}: {exc}"[:200], "archive"
                )
            )
        extra: dict[str, object] = {}
        if walker.stats.decrypted:
            extra["decrypted"] = list(walker.stats.decrypted)
        sha256 = digest.result() if digest is not None else ""
        return self._verdict(
            data, name, detected, items, reasons, policy, started, extra, sha256=sha256
        )

    def _scan_item(self, item: ScanItem, policy: Policy, name_checks: bool) -> list[Reason]:
        path = item.display_path
        found: list[Reason] = []
        if name_checks:
            found += policy.check_name(item.name, path)
            found += policy.check_type(
                item.detected_type, name=item.name, declared_mime=item.declared_mime, path=path
            )
        for scanner in self.scanners:
            try:
                hits = scanner.scan(item)
            except ScannerUnavailable as exc:
                hits = [
                    Reason(
                        Category.ERROR,
                        "scanner_unavailable",
                        exc.message,
                        scanner.NAME,
                        path,
                        temporary=True,
                    )
                ]
            except ScanError as exc:
                code = "timeout" if "timed out" in exc.message else "scanner_error"
                hits = [Reason(Category.ERROR, code, exc.message, scanner.NAME, path)]
            except Exception as exc:  # a scanner bug must never read as "clean"
                log.exception("scanner %s failed", scanner.NAME)
                hits = [
                    Reason(
                        Category.ERROR,
                        "scanner_error",
                        f"{type(exc).__name__}: {exc}"[:200],
                        scanner.NAME,
                        path,
                    )
                ]
            found.extend(hits)
        return found

    @staticmethod
    def _verdict(
        data: bytes,
        name: str,
        detected: str,
        items: int,
        reasons: list[Reason],
        policy: Policy,
        started: float,
        extra: dict[str, object],
        *,
        sha256: str = "",
    ) -> Verdict:
        decided: list[Reason] = []
        seen: set[tuple[str, str, str, str]] = set()
        for reason in reasons:
            key = (reason.code, reason.detail, reason.path, reason.scanner)
            if key in seen:
                continue
            seen.add(key)
            decided.append(policy.decide(reason))
        outcome = combine([r.outcome for r in decided])
        return Verdict(
            outcome=outcome,
            reasons=tuple(decided),
            name=name,
            size=len(data),
            sha256=sha256,
            detected_type=detected,
            items_scanned=items,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            extra=dict(extra),
        )


def error_verdict(
    message: str, policy: Policy, *, name: str = "", temporary: bool = False
) -> Verdict:
    """A verdict for an object that could not be scanned at all (never clean)."""
    code = "scanner_unavailable" if temporary else "scanner_error"
    reason = policy.decide(Reason(Category.ERROR, code, message, "engine", temporary=temporary))
    outcome = reason.outcome if reason.outcome is not Outcome.CLEAN else Outcome.ERROR
    return Verdict(outcome, (reason,), name=name)


__all__ = ["ScanEngine", "error_verdict", "sha256_async"]
