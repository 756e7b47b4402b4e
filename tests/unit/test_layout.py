"""Meta-tests on the tree itself: layering (DESIGN.md) and mirrored tests (STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "mamori"
TESTS = Path(__file__).resolve().parents[1]

ANALYSIS_AREAS = ("ingest", "detect", "scan", "integrity", "guideline", "service")
WIRING_ONLY = ("store", "web", "cli")
SHARED = ("config", "errors", "model", "registry", "hooks", "testing")
# Packages whose every module must have a mirrored test file.
MIRRORED = ("ingest/parsers", "detect", "scan/scanners")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(area: str) -> list[Path]:
    root = SRC / area
    return sorted(root.rglob("*.py")) if root.is_dir() else []


@pytest.mark.parametrize("area", ANALYSIS_AREAS)
def test_analysis_areas_do_not_import_storage_web_or_cli(area):
    offenders = []
    for path in _modules(area):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "mamori" and len(parts) > 1 and parts[1] in WIRING_ONLY:
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert not offenders, "layering broken:\n" + "\n".join(offenders)


@pytest.mark.parametrize("module", SHARED)
def test_shared_vocabulary_imports_no_area(module):
    path = SRC / f"{module}.py"
    allowed = {f"mamori.{m}" for m in SHARED} | {"mamori"}
    bad = [n for n in _imports(path) if n.startswith("mamori") and n not in allowed]
    assert not bad, f"{module}.py imports areas: {bad}"


def test_every_module_of_mirrored_packages_has_a_test_file():
    missing = []
    for package in MIRRORED:
        root = SRC / package
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.py")):
            if path.name == "__init__.py":
                continue
            rel = path.relative_to(SRC)
            candidates = [
                TESTS / "unit" / rel.parent / f"test_{path.name}",
                TESTS / "integration" / rel.parent / f"test_{path.name}",
            ]
            if not any(c.exists() for c in candidates):
                missing.append(str(rel))
    assert not missing, "modules without a mirrored test file:\n" + "\n".join(missing)


def test_every_test_folder_is_a_package():
    """Test files in different areas may share base names only if every folder is a package."""
    missing = [
        str(d.relative_to(TESTS.parent))
        for d in [TESTS, *sorted(p for p in TESTS.rglob("*") if p.is_dir())]
        if d.name != "__pycache__"
        and not d.name.startswith(".")
        and any(d.glob("*.py"))
        and not (d / "__init__.py").exists()
    ]
    assert not missing, "add __init__.py to: " + ", ".join(missing)
