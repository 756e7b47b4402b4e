"""`mamori hunt` through the CLI: formats, output file, exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mamori.cli.main import app

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs" / "windows_json"
RULE = """title: Whoami
id: 11111111-2222-4333-8444-555555555555
logsource:
  product: windows
  category: process_creation
detection:
  sel:
    Image|endswith: '\\\\whoami.exe'
  condition: sel
level: low
tags:
  - attack.discovery
  - attack.t1033
"""


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMORI_DATA_DIR", str(tmp_path / "var"))


@pytest.fixture
def rules(tmp_path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "whoami.yml").write_text(RULE)
    (folder / "broken.yml").write_text("title: [broken\n")
    return folder


def run(*args: str):
    return CliRunner().invoke(app, ["hunt", "--no-progress", *args])


def test_jsonl(rules):
    result = run(str(FIXTURES / "winlogbeat.jsonl"), "--rules", str(rules), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert len(lines) == 1
    rec = lines[0]
    for key in (
        "rule_id",
        "rule_title",
        "level",
        "tags",
        "@timestamp",
        "host",
        "source_file",
        "event",
    ):
        assert key in rec
    assert rec["rule_title"] == "Whoami" and rec["level"] == "low"
    assert rec["tags"] == ["attack.discovery", "attack.t1033"]
    assert rec["event"]["NewProcessName"].endswith("whoami.exe")
    assert rec["source_file"].endswith("winlogbeat.jsonl")
    assert "broken.yml" in result.stderr  # broken rule reported, others used


def test_csv_to_file_and_min_level(rules, tmp_path):
    out = tmp_path / "out.csv"
    result = run(str(FIXTURES), "--rules", str(rules), "--format", "csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["rule_title"] for r in rows] == ["Whoami"]
    result = run(
        str(FIXTURES),
        "--rules",
        str(rules),
        "--format",
        "csv",
        "--output",
        str(out),
        "--min-level",
        "high",
    )
    assert result.exit_code == 0
    assert list(csv.DictReader(io.StringIO(out.read_text()))) == []


def test_table_and_bundled_rules(tmp_path):
    result = run(str(FIXTURES / "winlogbeat.jsonl"))
    assert result.exit_code == 0, result.output
    assert "Shadow Copy" in result.stdout
    assert "By level" in result.stderr and "By rule" in result.stderr


def test_unreadable_file_reported_rest_processed(rules, tmp_path):
    result = run(
        str(tmp_path / "nope.evtx"),
        str(FIXTURES / "winlogbeat.jsonl"),
        "--rules",
        str(rules),
        "--format",
        "jsonl",
    )
    assert result.exit_code == 0
    assert "nope.evtx" in result.stderr
    assert '"Whoami"' in result.stdout


def test_runtime_error_exit_1(tmp_path):
    result = run(str(FIXTURES), "--rules", str(tmp_path / "no-rules-here"))
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(str(FIXTURES), "--rules", str(empty)).exit_code == 1


def test_unwritable_output_exit_1(rules, tmp_path):
    result = run(
        str(FIXTURES), "--rules", str(rules), "--output", str(tmp_path / "no" / "dir" / "x")
    )
    assert result.exit_code == 1


def test_bad_format_is_usage_error(rules):
    assert run(str(FIXTURES), "--format", "xml").exit_code == 2
