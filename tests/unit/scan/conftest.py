from __future__ import annotations

import pytest

from mamori.scan.engine import ScanEngine


@pytest.fixture(scope="session")
def engine() -> ScanEngine:
    """The default core: EICAR, bundled YARA-X rules, macros (no clamd, no hash list)."""
    return ScanEngine.from_options()
