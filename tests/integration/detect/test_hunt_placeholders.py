"""`mamori hunt --placeholder NAME=VALUE` / `--placeholders FILE`: values for `expand` rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mamori.cli.main import app

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "logs" / "windows_json"
RULE = """title: Process started by an admin
id: 0b1c2d3e-0000-4000-8000-00000000a001
logsource:
  product: windows
  service: security
detection:
  sel:
    EventID: 4688
    SubjectUserName|expand: '%admins%'
  condition: sel
level: high
"""

OTHER = """title: Never here
id: 0b1c2d3e-0000-4000-8000-00000000a002
logsource:
  product: windows
  service: security
detection:
  sel:
    EventID: 4999
  condition: sel
level: low
"""


def text(stream: str) -> str:
    """Console text with Rich's line wrapping undone."""
    return " ".join(stream.split())


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMORI_DATA_DIR", str(tmp_path / "var"))


@pytest.fixture
def rules(tmp_path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "admins.yml").write_text(RULE)
    (folder / "other.yml").write_text(OTHER)
    return folder


def hunt(rules: Path, *args: str):
    return CliRunner().invoke(
        app,
        [
            "hunt",
            "--no-progress",
            str(EVENTS / "winlogbeat.jsonl"),
            "--rules",
            str(rules),
            "--format",
            "jsonl",
            *args,
        ],
    )


def detections(result) -> list[dict]:
    return [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]


def test_without_a_value_the_rule_is_refused_with_its_reason(rules):
    result = hunt(rules)
    assert result.exit_code == 0, result.output
    assert detections(result) == []
    assert "%admins% has no value" in text(result.stderr)


def test_value_on_the_command_line(rules):
    result = hunt(rules, "--placeholder", "admins=root", "--placeholder", "%admins%=alice")
    assert result.exit_code == 0, result.output
    found = detections(result)
    assert [d["rule_title"] for d in found] == ["Process started by an admin"]
    assert found[0]["matched"]["SubjectUserName"] == "alice"
    assert "has no value" not in text(result.stderr)


def test_values_from_a_file_and_the_command_line_overrides(rules, tmp_path):
    values = tmp_path / "placeholders.yml"
    values.write_text("admins:\n  - Alice\n  - root\n")
    assert len(detections(hunt(rules, "--placeholders", str(values)))) == 1
    overridden = hunt(rules, "--placeholders", str(values), "--placeholder", "admins=bob")
    assert overridden.exit_code == 0, overridden.output
    assert detections(overridden) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--placeholder", "admins"], "not NAME=VALUE"),
        (["--placeholder", "bad name=x"], "invalid placeholder name"),
        (["--placeholders", "/nonexistent/placeholders.yml"], "cannot read"),
    ],
)
def test_bad_placeholders_are_a_runtime_error(rules, args, message):
    result = hunt(rules, *args)
    assert result.exit_code == 1
    assert message in text(result.stderr)


def test_a_file_that_is_not_a_mapping(rules, tmp_path):
    values = tmp_path / "placeholders.yml"
    values.write_text("- alice\n")
    result = hunt(rules, "--placeholders", str(values))
    assert result.exit_code == 1
    assert "must map names to values" in text(result.stderr)
