"""Meta-test (STYLE.md): every module of the detect area and of its parsers has a test file."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SRC = ROOT / "src" / "mamori"

MODULES = {
    "detect": ROOT / "tests" / "unit" / "detect",
}
PARSERS = ("evtx", "windows_json")


def test_every_detect_module_has_a_test_file():
    missing = []
    for module in sorted((SRC / "detect").rglob("*.py")):
        if module.name == "__init__.py":
            continue
        relative = module.relative_to(SRC / "detect")
        test = MODULES["detect"] / relative.parent / f"test_{module.stem}.py"
        if not test.exists():
            missing.append(str(relative))
    assert missing == []


def test_every_parser_of_this_area_has_tests_and_fixtures():
    for name in PARSERS:
        assert (ROOT / "tests" / "unit" / "ingest" / "parsers" / f"test_{name}.py").exists()
        assert (ROOT / "tests" / "fixtures" / "logs" / name).is_dir()
