"""The whole SigmaHQ ``windows`` rule folder, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from mamori.detect.sigma.loader import RuleSet, load_rules


@pytest.fixture(scope="session")
def windows_rules(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    cache = tmp_path_factory.mktemp("sigma-cache")
    return load_rules([shared_data / "sigma-rules" / "windows"], cache_dir=cache)
