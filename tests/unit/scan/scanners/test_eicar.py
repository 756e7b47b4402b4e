from __future__ import annotations

from mamori.scan.base import ScanItem, ScanOptions
from mamori.scan.scanners.eicar import EICAR, EicarScanner


def test_eicar_found_at_start_and_inside():
    scanner = EicarScanner.from_options(ScanOptions())
    assert [r.code for r in scanner.scan(ScanItem(EICAR))] == ["eicar"]
    assert scanner.scan(ScanItem(b"prefix " + EICAR + b"\r\n"))
    assert scanner.scan(ScanItem(EICAR[:-1])) == []
