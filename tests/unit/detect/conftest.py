"""Helpers for detection tests: rules from YAML text, events from dicts."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mamori.detect.engine import SigmaEngine
from mamori.detect.sigma.loader import RuleSet, load_rules
from mamori.model import Alert, Event
from mamori.testing import make_event

SYSMON = "Microsoft-Windows-Sysmon/Operational"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def rule_yaml(
    detection: str,
    *,
    logsource: str = "product: windows\n  category: process_creation",
    title: str = "Test rule",
    extra: str = "",
) -> str:
    return (
        f"title: {title}\nid: 6f0a3e4e-0000-4000-8000-000000000001\nstatus: test\n"
        f"logsource:\n  {logsource}\n"
        "detection:\n" + textwrap.indent(textwrap.dedent(detection).strip("\n"), "  ") + "\n"
        f"level: high\n{extra}"
    )


def sysmon_event(
    fields: dict[str, Any], *, eid: int = 1, ts: datetime | None = None, **kw: Any
) -> Event:
    data = {"Channel": SYSMON, "EventID": eid, **fields}
    return make_event(data, timestamp=ts or T0, data_type="windows:evtx", **kw)


@pytest.fixture
def load_text(tmp_path: Path) -> Callable[..., RuleSet]:
    counter = {"n": 0}

    def load(*texts: str) -> RuleSet:
        folder = tmp_path / f"rules{counter['n']}"
        counter["n"] += 1
        folder.mkdir()
        for i, text in enumerate(texts):
            (folder / f"rule{i}.yml").write_text(text, encoding="utf-8")
        return load_rules([folder])

    return load


@pytest.fixture
def engine_for(load_text: Callable[..., RuleSet]) -> Callable[..., SigmaEngine]:
    def build(*texts: str, **kw: Any) -> SigmaEngine:
        ruleset = load_text(*texts)
        assert not ruleset.problems, [str(p) for p in ruleset.problems]
        return SigmaEngine(ruleset, **kw)

    return build


@pytest.fixture
def matches(engine_for: Callable[..., SigmaEngine]) -> Callable[..., bool]:
    """matches(detection_yaml, fields) -> whether the rule fires on a Sysmon EID 1 event."""

    def check(detection: str, fields: dict[str, Any], **kw: Any) -> bool:
        engine = engine_for(rule_yaml(detection, **kw))
        return bool(engine.match(sysmon_event(fields)))

    return check


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def titles(alerts: list[Alert]) -> list[str]:
    return [a.rule_title for a in alerts]
