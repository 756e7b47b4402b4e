from __future__ import annotations

from mamori.scan.base import ScanItem, ScanOptions
from mamori.scan.filetype import detect
from mamori.scan.scanners.office import OfficeMacroScanner
from tests.unit.scan.builders import MACRO_SOURCE, vba_project


def test_vba_project_with_autoexec():
    data = vba_project(MACRO_SOURCE)
    scanner = OfficeMacroScanner.from_options(ScanOptions())
    (reason,) = scanner.scan(ScanItem(data, name="vbaProject.bin", detected_type=detect(data)))
    assert reason.code == "vba_macro"
    assert "AutoOpen" in reason.detail
    assert "Shell" in reason.detail


def test_non_ole_and_broken_ole_are_ignored():
    scanner = OfficeMacroScanner()
    assert scanner.scan(ScanItem(b"text", detected_type="")) == []
    broken = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100
    assert scanner.scan(ScanItem(broken, detected_type="ole")) == []
