"""The scanning core: walk an object, run every scanner and the policy checks, decide.

One :class:`ScanEngine` is built once (rules compiled once) and is safe to use from several
threads; each call returns a :class:`~mamori.scan.verdict.Verdict`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

from mamori.errors import ScanError
from mamori.scan.archive import ArchiveWalker
from mamori.scan.base import ScanItem, Scanner, ScannerUnavailable, ScanOptions, scanners
from mamori.scan.digests import Digests, digest_async, hexdigest_future
from mamori.scan.policy import Policy, PolicySet
from mamori.scan.verdict import Category, Outcome, Reason, Verdict, combine

log = logging.getLogger(__name__)


def sha256_async(data: bytes | memoryview) -> Future[str]:
    """The SHA-256 of ``data`` computed on a hashing thread (overlapping the caller's work).

    Returns once the hashing thread is running; small inputs are hashed at once.
    """
    return hexdigest_future("sha256", data)


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
        # digests the scanners read: computed once per item, while the other scanners run
        self.item_digests = frozenset().union(*(s.digests() for s in self.scanners))
        self._run_order = [s for s in self.scanners if not s.digests()] + [
            s for s in self.scanners if s.digests()
        ]

    def object_digests(self) -> frozenset[str]:
        """The digests :meth:`scan_bytes` computes for a whole object (pass them in as
        ``digests`` when they were computed while the bytes arrived)."""
        return self.item_digests | ({"sha256"} if self.hash_objects else frozenset())

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
        digests: Digests | None = None,
    ) -> Verdict:
        """Scan ``data`` (and everything nested in it) and decide by the tenant's policy.

        ``name_checks=False`` skips the attachment-policy checks on names and declared types
        (a web download is not an attachment); scanners and archive limits still apply.
        ``digests`` of ``data`` computed by the caller (a :class:`~mamori.scan.digests.Hasher`
        fed while the bytes arrived) are used instead of hashing again.
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
        wanted = self.object_digests()
        missing = wanted - (digests.algorithms if digests is not None else frozenset())
        if missing:
            computing = digest_async(data, missing)
            digests = digests.merged(computing) if digests is not None else computing
        walker = ArchiveWalker(policy.limits, tuple(passwords))
        root = ScanItem(
            data=data,
            name=base_name,
            declared_mime=declared_mime,
            sha256=_getter(digests, "sha256"),
            digest=digests.get if digests is not None else None,
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
                elif self.item_digests and entry.digest is None:
                    member = digest_async(entry.data, self.item_digests)
                    entry = replace(entry, digest=member.get, sha256=_getter(member, "sha256"))
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
        known = digests.algorithms if digests is not None else frozenset()
        sha256 = digests.get("sha256") if digests is not None and self.hash_objects else ""
        md5 = digests.get("md5") if digests is not None and "md5" in known else ""
        return self._verdict(
            data, name, detected, items, reasons, policy, started, extra, sha256=sha256, md5=md5
        )

    def _scan_item(self, item: ScanItem, policy: Policy, name_checks: bool) -> list[Reason]:
        path = item.display_path
        found: list[Reason] = []
        if name_checks:
            found += policy.check_name(item.name, path)
            found += policy.check_type(
                item.detected_type, name=item.name, declared_mime=item.declared_mime, path=path
            )
        for scanner in self._run_order:
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
        md5: str = "",
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
            md5=md5,
            detected_type=detected,
            items_scanned=items,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            extra=dict(extra),
        )


def _getter(digests: Digests | None, algorithm: str) -> Callable[[], str] | None:
    if digests is None or algorithm not in digests.algorithms:
        return None
    return lambda: digests.get(algorithm)


def error_verdict(
    message: str, policy: Policy, *, name: str = "", temporary: bool = False
) -> Verdict:
    """A verdict for an object that could not be scanned at all (never clean)."""
    code = "scanner_unavailable" if temporary else "scanner_error"
    reason = policy.decide(Reason(Category.ERROR, code, message, "engine", temporary=temporary))
    outcome = reason.outcome if reason.outcome is not Outcome.CLEAN else Outcome.ERROR
    return Verdict(outcome, (reason,), name=name)


__all__ = ["ScanEngine", "error_verdict", "sha256_async"]
