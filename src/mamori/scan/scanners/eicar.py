"""The EICAR anti-virus test file, recognised without any signature database."""

from __future__ import annotations

from typing import ClassVar

from mamori.scan.base import ScanItem, Scanner, ScanOptions, scanners
from mamori.scan.verdict import Category, Reason

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@scanners.register
class EicarScanner(Scanner):
    """Finds the EICAR string anywhere in the data (the standard says "at the start"; anti-virus
    products, and this scanner, also flag it further in)."""

    NAME: ClassVar[str] = "eicar"
    DESCRIPTION: ClassVar[str] = "EICAR anti-virus test file"

    @classmethod
    def from_options(cls, options: ScanOptions) -> EicarScanner:  # noqa: ARG003
        return cls()

    def scan(self, item: ScanItem) -> list[Reason]:
        if EICAR in item.data:
            return [
                Reason(Category.MALWARE, "eicar", "EICAR-Test-File", self.NAME, item.display_path)
            ]
        return []


__all__ = ["EICAR", "EicarScanner"]
