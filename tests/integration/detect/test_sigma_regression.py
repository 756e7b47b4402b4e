"""SigmaHQ's regression samples: each must trigger the rule named in its info.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mamori.detect.engine import SigmaEngine
from mamori.detect.hunt import hunt
from mamori.detect.sigma.loader import RuleSet

pytestmark = pytest.mark.slow


def _samples(shared_data: Path) -> list[tuple[str, str, Path]]:
    out = []
    for info in sorted((shared_data / "sigma-regression" / "rules" / "windows").rglob("info.yml")):
        data = yaml.safe_load(info.read_text())
        meta = data["rule_metadata"][0]
        out.append((str(meta["id"]), str(meta["title"]), info.parent))
    return out


def test_windows_rules_load(windows_rules: RuleSet):
    assert len(windows_rules.rules) >= 2390
    # every skipped rule has a file and a reason
    for problem in windows_rules.problems:
        assert problem.path.endswith(".yml") and problem.reason


def test_every_regression_sample_triggers_its_rule(shared_data: Path, windows_rules: RuleSet):
    samples = _samples(shared_data)
    assert len(samples) == 192
    missing = []
    engine = SigmaEngine(windows_rules)  # one engine for all samples, as in a long hunt
    for rule_id, title, folder in samples:
        result = hunt(sorted(folder.glob("*.evtx")), engine)
        assert result.events > 0 and not result.unreadable
        if rule_id not in {a.rule_id for a in result.alerts}:
            missing.append(f"{title} ({rule_id}) in {folder.name}")
    assert missing == []


def test_regression_json_copies_trigger_too(shared_data: Path, windows_rules: RuleSet):
    """The .json copy of each sample (evtx_dump shape) goes through the JSON parser."""
    missing = []
    engine = SigmaEngine(windows_rules)
    for rule_id, title, folder in _samples(shared_data)[::4]:
        result = hunt(sorted(folder.glob("*.json")), engine)
        if rule_id not in {a.rule_id for a in result.alerts}:
            missing.append(title)
    assert missing == []
