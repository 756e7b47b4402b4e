"""Meta-tests: every guideline module has a mirrored test file; layering is respected."""

from __future__ import annotations

import ast
from pathlib import Path

import mamori.guideline

PKG = Path(mamori.guideline.__file__).parent
TESTS = Path(__file__).parent


def _modules() -> list[Path]:
    return [p for p in PKG.rglob("*.py") if p.name != "__init__.py"]


def test_every_module_has_a_test_file():
    missing = []
    for module in _modules():
        rel = module.relative_to(PKG)
        test = TESTS / rel.parent / f"test_{rel.name}"
        if not test.exists():
            missing.append(str(rel))
    assert not missing, f"modules without tests: {missing}"


def test_guideline_never_imports_store_web_or_cli():
    banned = ("mamori.store", "mamori.web", "mamori.cli")
    for module in _modules():
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(banned), f"{module.name} imports {name}"
