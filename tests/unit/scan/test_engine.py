from __future__ import annotations

import pytest

from mamori.errors import ScanError
from mamori.scan.base import ScanItem, Scanner, ScannerUnavailable, ScanOptions
from mamori.scan.engine import ScanEngine, error_verdict
from mamori.scan.policy import PolicySet, load_policy
from mamori.scan.scanners.eicar import EICAR
from mamori.scan.verdict import Category, Outcome

from .builders import make_docm, make_zip, zipcrypto


class _Failing(Scanner):
    NAME = "failing_test"

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    @classmethod
    def from_options(cls, options: ScanOptions) -> Scanner | None:  # noqa: ARG003
        return None

    def scan(self, item: ScanItem):
        raise self.exc


def test_clean_file(engine):
    verdict = engine.scan_bytes(b"just a memo", name="memo.txt")
    assert verdict.outcome is Outcome.CLEAN
    assert verdict.reasons == ()
    assert verdict.items_scanned == 1
    assert len(verdict.sha256) == 64


def test_eicar_blocked_with_both_scanners(engine):
    verdict = engine.scan_bytes(EICAR, name="eicar.com.txt")
    assert verdict.outcome is Outcome.BLOCKED
    assert {r.scanner for r in verdict.reasons} == {"eicar", "yara"}


def test_policy_applies_to_archive_members(engine):
    data = make_zip({"docs/請求書\u202efdp.exe": b"MZ" + b"\0" * 100, "ok.txt": b"hello"})
    verdict = engine.scan_bytes(data, name="mail.zip", declared_mime="application/zip")
    assert verdict.outcome is Outcome.BLOCKED
    paths = {(r.code, r.path) for r in verdict.reasons}
    assert ("unicode_trick", "docs/請求書\u202efdp.exe") in paths
    assert ("blocked_extension", "docs/請求書\u202efdp.exe") in paths
    assert verdict.items_scanned == 3


def test_declared_mime_mismatch_on_top_level(engine):
    verdict = engine.scan_bytes(
        b"MZ" + b"\0" * 200, name="scan.pdf", declared_mime="application/pdf"
    )
    assert verdict.outcome is Outcome.BLOCKED
    assert [r.code for r in verdict.reasons] == ["disguised_executable"]


def test_docm_with_macro_is_quarantined(engine):
    verdict = engine.scan_bytes(make_docm(), name="見積書.docm")
    assert verdict.outcome is Outcome.QUARANTINED
    macro = [r for r in verdict.reasons if r.category is Category.MACRO]
    assert macro and "AutoOpen" in macro[0].detail
    assert macro[0].path == "word/vbaProject.bin"


def test_macro_under_harmless_name_still_found(engine):
    verdict = engine.scan_bytes(make_docm(), name="report.docx")
    assert verdict.outcome is Outcome.QUARANTINED
    assert [r.code for r in verdict.reasons] == ["vba_macro"]


def test_encrypted_zip_default_quarantine_and_passwords(engine):
    data = zipcrypto({"a.txt": EICAR}, b"pw")
    locked = engine.scan_bytes(data, name="a.zip")
    assert locked.outcome is Outcome.QUARANTINED
    assert [r.category for r in locked.reasons] == [Category.ENCRYPTED]
    opened = engine.scan_bytes(data, name="a.zip", passwords=["pw"])
    assert opened.outcome is Outcome.BLOCKED
    assert opened.extra == {"decrypted": ["a.txt"]}


def test_scanner_failure_is_never_clean():
    engine = ScanEngine([_Failing(ScanError("boom"))])
    verdict = engine.scan_bytes(b"harmless", name="a.txt")
    assert verdict.outcome is Outcome.QUARANTINED
    assert [(r.code, r.temporary) for r in verdict.reasons] == [("scanner_error", False)]


def test_scanner_unavailable_is_temporary():
    engine = ScanEngine([_Failing(ScannerUnavailable("clamd down"))])
    verdict = engine.scan_bytes(b"harmless")
    assert verdict.temporary_failure
    assert verdict.outcome is Outcome.QUARANTINED


def test_unexpected_exception_is_an_error_reason():
    engine = ScanEngine([_Failing(ZeroDivisionError("bug"))])
    verdict = engine.scan_bytes(b"harmless")
    assert verdict.outcome is not Outcome.CLEAN
    assert "ZeroDivisionError" in verdict.reasons[0].detail


def test_error_outcome_by_tenant_policy(tmp_path):
    (tmp_path / "strict.yaml").write_text("actions: {error: error}\n", encoding="utf-8")
    engine = ScanEngine([_Failing(ScanError("x"))], PolicySet(tmp_path))
    assert engine.scan_bytes(b"a", tenant="strict").outcome is Outcome.ERROR
    assert engine.scan_bytes(b"a", tenant="other").outcome is Outcome.QUARANTINED


def test_size_limit_on_path_reads_no_further(tmp_path, monkeypatch):
    (tmp_path / "t.yaml").write_text("limits: {max_file_bytes: 1000}\n", encoding="utf-8")
    engine = ScanEngine([], PolicySet(tmp_path))
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 5000)
    verdict = engine.scan_path(big, tenant="t")
    assert verdict.outcome is Outcome.QUARANTINED
    assert [r.code for r in verdict.reasons] == ["size_limit"]
    assert verdict.size == 5000
    assert engine.scan_bytes(b"x" * 5000, tenant="t").reasons[0].code == "size_limit"


def test_scan_path_unreadable(tmp_path):
    with pytest.raises(ScanError):
        ScanEngine([]).scan_path(tmp_path / "missing")


def test_error_verdict_helper():
    verdict = error_verdict("disk", load_policy(), temporary=True)
    assert verdict.outcome is Outcome.QUARANTINED
    assert verdict.temporary_failure


def test_version_changes_with_rules(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yar").write_text('rule Custom { strings: $a = "zzz-marker" condition: $a }')
    custom = ScanEngine.from_options(ScanOptions(yara_rule_dirs=(rules,)))
    default = ScanEngine.from_options()
    assert custom.version() != default.version()
    verdict = custom.scan_bytes(b"..zzz-marker..")
    assert [r.detail for r in verdict.reasons] == ["YARA:Custom"]


def test_walker_crash_is_an_error_reason(monkeypatch, engine):
    import mamori.scan.engine as engine_module

    class Broken:
        def __init__(self, *args, **kwargs):
            from mamori.scan.archive import WalkStats

            self.stats = WalkStats()

        def walk(self, root):
            yield root
            raise IndexError("crafted header")

    monkeypatch.setattr(engine_module, "ArchiveWalker", Broken)
    verdict = engine.scan_bytes(b"PK\x03\x04 not really", name="a.zip")
    assert verdict.outcome is Outcome.QUARANTINED
    assert "IndexError" in verdict.reasons[-1].detail


def test_sha256_async_matches_hashlib_for_small_and_large_objects():
    import hashlib

    from mamori.scan.engine import sha256_async

    for data in (b"", b"small", bytes(range(256)) * 4096):
        assert sha256_async(data).result() == hashlib.sha256(data).hexdigest()
    big = bytes(range(256)) * 4096
    assert sha256_async(memoryview(big)).result() == hashlib.sha256(big).hexdigest()


def test_large_objects_carry_their_sha256_in_the_verdict(engine):
    import hashlib

    data = b"parts list\n" * 100_000
    verdict = engine.scan_bytes(data, name="big.txt")
    assert verdict.clean and verdict.sha256 == hashlib.sha256(data).hexdigest()
