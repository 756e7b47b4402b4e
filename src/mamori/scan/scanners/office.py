"""VBA macros in Office documents (oletools' olevba) — OLE files such as ``.doc``/``.xls``
and the ``vbaProject.bin`` the archive walker finds inside ``.docm``/``.xlsm``."""

from __future__ import annotations

import logging
import warnings
from typing import Any, ClassVar

with warnings.catch_warnings():
    # oletools calls pyparsing APIs that newer pyparsing marks deprecated; not ours to fix
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools import olevba

from mamori.scan.base import ScanItem, Scanner, ScanOptions, scanners
from mamori.scan.verdict import Category, Reason

# olevba logs every parsing hiccup at WARNING; the verdict carries what matters.
logging.getLogger("olevba").setLevel(logging.CRITICAL)
olevba.enable_logging = lambda: None  # type: ignore[attr-defined,unused-ignore]

_KEEP = ("AutoExec", "Suspicious", "IOC")


@scanners.register
class OfficeMacroScanner(Scanner):
    """Reports VBA macros, naming auto-exec and suspicious keywords when olevba finds them."""

    NAME: ClassVar[str] = "office"
    DESCRIPTION: ClassVar[str] = "VBA macros in Office documents (oletools)"

    @classmethod
    def from_options(cls, options: ScanOptions) -> OfficeMacroScanner:  # noqa: ARG003
        return cls()

    def scan(self, item: ScanItem) -> list[Reason]:
        if item.detected_type != "ole":
            return []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return self._analyse(item)

    def _analyse(self, item: ScanItem) -> list[Reason]:
        try:
            parser = olevba.VBA_Parser(item.name or "document", data=item.data)
        except Exception:  # noqa: BLE001 - not an Office file olevba understands
            return []
        try:
            if not parser.detect_vba_macros():
                return []
            keywords: list[str] = []
            try:
                results: Any = parser.analyze_macros()
                for kind, keyword, _description in results or ():
                    if kind in _KEEP and keyword not in keywords:
                        keywords.append(str(keyword))
            except Exception:  # noqa: BLE001 - the macro itself is already the finding
                keywords.append("unparsed")
        finally:
            parser.close()
        detail = ", ".join(keywords[:8]) if keywords else "VBA project"
        return [Reason(Category.MACRO, "vba_macro", detail, self.NAME, item.display_path)]


__all__ = ["OfficeMacroScanner"]
