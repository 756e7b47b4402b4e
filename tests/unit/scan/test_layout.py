"""Meta-test: every scanner module has a mirrored test file (mitmproxy's filename matching)."""

from __future__ import annotations

from pathlib import Path

import mamori.scan.scanners as pkg
from mamori.scan.base import scanners


def test_every_scanner_module_has_a_test():
    src = Path(pkg.__file__).parent
    here = Path(__file__).parent / "scanners"
    modules = [p.stem for p in src.glob("*.py") if p.stem != "__init__"]
    missing = [m for m in modules if not (here / f"test_{m}.py").exists()]
    assert missing == []


def test_every_scanner_is_registered():
    assert set(scanners.names()) >= {"clamav", "eicar", "hashes", "office", "yara"}
