"""``mamori quote`` / ``insurance`` / ``courses`` / ``recommend`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from mamori.cli.main import app

runner = CliRunner()


def _json(args):
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("args", "fees", "total", "subsidy", "pays"),
    [
        (["--course", "endpoint", "--devices", "10"], 432_000, 475_200, 0, 475_200),
        (
            ["--course", "endpoint", "--devices", "10", "--months", "24", "--subsidy-year", "2024"],
            432_000,
            475_200,
            216_000,
            259_200,
        ),
        (
            [
                "--course",
                "small-network",
                "--devices",
                "5",
                "--months",
                "12",
                "--subsidy-year",
                "2024",
            ],
            311_600,
            342_760,
            155_800,
            186_960,
        ),
        (
            [
                "--course",
                "small-network",
                "--devices",
                "10",
                "--subsidy-year",
                "2025",
                "--small-business",
                "--security-action",
            ],
            729_200,
            802_120,
            486_133,
            315_987,
        ),
        (
            ["--course", "network", "--devices", "38", "--months", "24", "--subsidy-year", "2024"],
            2_016_800,
            2_218_480,
            1_000_000,
            1_218_480,
        ),
        (
            ["--course", "network", "--devices", "20", "--months", "12", "--campaign"],
            516_800,
            568_480,
            0,
            568_480,
        ),
    ],
)
def test_quote_json_fields(args, fees, total, subsidy, pays):
    data = _json(["quote", *args])
    assert data["fees_total"] == fees
    assert data["tax_included_total"] == total
    assert data["subsidy"] == subsidy
    assert data["customer_pays_tax_included"] == pays
    for key in ("fees_total", "tax_included_total", "subsidy", "customer_pays_tax_included"):
        assert type(data[key]) is int
    assert ("subsidy_reason" in data) is (subsidy == 0)


def test_quote_2025_assumes_security_action_and_has_a_higher_cap():
    args = ["quote", "--course", "network", "--devices", "100", "--months", "24"]
    y2024 = _json([*args, "--subsidy-year", "2024"])
    y2025 = _json([*args, "--subsidy-year", "2025"])
    assert y2024["fees_total"] == y2025["fees_total"] == 140_000 + 235_200 + 4_320_000
    assert y2024["subsidy"] == 1_000_000
    assert y2025["subsidy"] == 1_500_000
    conditions = [c["en"] for c in y2025["subsidy_detail"]["conditions"]]
    assert "assumes the SECURITY ACTION self-declaration" in conditions
    assert "subsidy_reason" not in y2025


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        (["--campaign"], "campaign_price", "キャンペーン"),
        (["--devices", "2"], "below_minimum", "50,000"),
        (
            ["--subsidy-year", "2025", "--no-security-action"],
            "security_action_missing",
            "SECURITY ACTION",
        ),
        (
            ["--contract-date", "2024-05-01", "--grant-decision-date", "2024-06-01"],
            "contract_before_grant_decision",
            "交付決定前",
        ),
        ([], "not_requested", "補助金"),
    ],
)
def test_quote_json_subsidy_reason(extra, code, words):
    args = ["quote", "--course", "endpoint", "--devices", "10"]
    if extra[:1] != ["--subsidy-year"] and extra != []:
        args += ["--subsidy-year", "2024"]
    data = _json(args + extra)
    assert data["subsidy"] == 0
    assert code in data["subsidy_reason_codes"]
    assert words in data["subsidy_reason"]


def test_quote_table():
    result = runner.invoke(
        app, ["quote", "--course", "network", "--devices", "38", "--subsidy-year", "2024"]
    )
    assert result.exit_code == 0, result.stderr
    for expected in ("2,016,800", "201,680", "2,218,480", "-1,000,000", "1,218,480", "消費税"):
        assert expected in result.stdout
    english = runner.invoke(
        app,
        [
            "quote",
            "--course",
            "endpoint",
            "--devices",
            "2",
            "--campaign",
            "--lang",
            "en",
            "--subsidy-year",
            "2024",
        ],
    )
    assert english.exit_code == 0
    assert "Why no subsidy" in english.stdout


def test_quote_pdf(tmp_path):
    target = tmp_path / "quote.pdf"
    data = _json(
        [
            "quote",
            "--course",
            "endpoint",
            "--devices",
            "3",
            "--pdf",
            str(target),
            "--customer",
            "ACME",
            "--number",
            "Q-2026-00031",
            "--date",
            "2026-04-01",
        ]
    )
    assert data["pdf"] == str(target)
    assert data["quote_date"] == "2026-04-01"
    assert target.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--course", "endpoint", "--devices", "0"], "devices must be at least 1"),
        (["--course", "endpoint", "--devices", "-4"], "devices must be at least 1"),
        (
            ["--course", "small-network", "--devices", "16"],
            "over the range of course 'small-network' (1-15",
        ),
        (["--course", "gold", "--devices", "1"], "unknown course 'gold'"),
        (["--course", "endpoint", "--devices", "1", "--months", "0"], "months must be a positive"),
        (["--course", "endpoint", "--devices", "1", "--months", "-1"], "months must be a positive"),
        (["--course", "endpoint", "--devices", "1", "--subsidy-year", "2023"], "fiscal year 2023"),
        (
            ["--course", "endpoint", "--devices", "1", "--date", "01/04/2026"],
            "--date must be a date",
        ),
        (["--course", "endpoint", "--devices", "1", "--lang", "fr"], "unknown language"),
        (
            ["--course", "endpoint", "--devices", "1", "--pdf", "x.pdf", "--number", "7"],
            "quote number",
        ),
    ],
)
def test_quote_bad_input(args, message):
    result = runner.invoke(app, ["quote", *args])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("months", ["1.5", "abc", "twelve"])
def test_quote_months_not_an_integer_is_a_usage_error(months):
    result = runner.invoke(
        app, ["quote", "--course", "endpoint", "--devices", "1", "--months", months]
    )
    assert result.exit_code == 2
    assert "--months" in result.stderr


def test_quote_unwritable_pdf(tmp_path):
    result = runner.invoke(
        app,
        [
            "quote",
            "--course",
            "endpoint",
            "--devices",
            "1",
            "--pdf",
            str(tmp_path / "no" / "q.pdf"),
        ],
    )
    assert result.exit_code == 1
    assert "cannot write" in result.stderr


# --- insurance ---------------------------------------------------------------------------


def _claim(tmp_path, data):
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_insurance_json(tmp_path):
    claim = _claim(
        tmp_path,
        {
            "items": [
                {"category": "damages", "amount": 400_000, "description": "取引先への賠償"},
                {"category": "investigation", "amount": 200_000},
                {"category": "recurrence_prevention", "amount": 100_000},
            ]
        },
    )
    data = _json(["insurance", "--devices", "1", "--claim", claim])
    assert [i["paid"] for i in data["items"]] == [400_000, 100_000, 0]
    assert data["paid_total"] == 500_000
    assert data["bound_by"] == "per_device_liability"
    big = _json(["insurance", "--devices", "2", "--claim", claim])
    assert [i["paid"] for i in big["items"]] == [400_000, 200_000, 90_000]
    assert big["items"][2]["limited_by"] == "payout_rate"
    assert big["bound_by"] is None


def test_insurance_table(tmp_path):
    claim = _claim(tmp_path, [{"category": "damages", "amount": 6_000_000}])
    result = runner.invoke(app, ["insurance", "--devices", "12", "--claim", claim])
    assert result.exit_code == 0, result.stderr
    assert "5,000,000" in result.stdout
    assert "per_business_cap" in result.stdout


@pytest.mark.parametrize(
    ("data", "devices", "message"),
    [
        ([{"category": "ransom", "amount": 1}], "1", "unknown loss category 'ransom'"),
        ([{"category": "damages", "amount": -1}], "1", "must not be negative"),
        ([{"category": "damages", "amount": 1}], "0", "devices must be at least 1"),
        ([{"category": "damages", "amount": 1}], "-2", "devices must be at least 1"),
    ],
)
def test_insurance_bad_input(tmp_path, data, devices, message):
    result = runner.invoke(
        app, ["insurance", "--devices", devices, "--claim", _claim(tmp_path, data)]
    )
    assert result.exit_code == 1
    assert message in result.stderr


def test_insurance_missing_or_broken_file(tmp_path):
    result = runner.invoke(
        app, ["insurance", "--devices", "1", "--claim", str(tmp_path / "x.json")]
    )
    assert result.exit_code == 1 and "cannot read claim file" in result.stderr
    broken = tmp_path / "b.json"
    broken.write_text("{", encoding="utf-8")
    result = runner.invoke(app, ["insurance", "--devices", "1", "--claim", str(broken)])
    assert result.exit_code == 1 and "not valid JSON" in result.stderr


# --- courses and recommend ---------------------------------------------------------------


def test_courses():
    data = _json(["courses"])
    assert [c["course"] for c in data["courses"]] == ["endpoint", "small-network", "network"]
    assert all(c["otasuketai"]["conforms"] for c in data["courses"])
    assert data["campaign_per_device_monthly"] == 1_080
    table = runner.invoke(app, ["courses"])
    assert table.exit_code == 0 and "small-network" in table.stdout and "1-15" in table.stdout


def test_otasuketai():
    data = _json(["otasuketai", "--course", "network"])
    assert data["conforms"] is True
    assert {p["key"]: p["actual"] for p in data["prices"]} == {
        "network_monthly": 9_800,
        "endpoint_per_device_monthly": 1_800,
    }
    table = runner.invoke(app, ["otasuketai", "--course", "endpoint", "--lang", "en"])
    assert table.exit_code == 0
    assert "conforms" in table.stdout and "Simple cyber insurance" in table.stdout
    bad = runner.invoke(app, ["otasuketai", "--course", "gold"])
    assert bad.exit_code == 1 and "unknown course" in bad.stderr


def test_recommend():
    data = _json(["recommend", "--devices", "8", "--network", "small", "--gaps", "142, 1"])
    assert data["course"] == "small-network"
    assert data["addressed_gaps"] == [142] and data["remaining_gaps"] == [1]
    text = runner.invoke(app, ["recommend", "--devices", "8"])
    assert text.exit_code == 0 and text.stdout.startswith("endpoint:")
    bad = runner.invoke(app, ["recommend", "--devices", "8", "--gaps", "999"])
    assert bad.exit_code == 1 and "not guideline item numbers" in bad.stderr


def test_recommend_from_a_check_sheet_or_an_assessment_file(tmp_path):
    from mamori.guideline import load_builtin, new_assessment, save_assessment, set_answer
    from tests.integration.service.helpers import filled_sheet

    sheet = filled_sheet(tmp_path / "sheet.xlsx", {97: "未対策", 140: "一部対策"})
    data = _json(["recommend", "--devices", "6", "--sheet", str(sheet)])
    assert data["course"] == "small-network"
    assert data["network_gaps"] == [97] and data["addressed_gaps"] == [97, 140]
    assert data["gap_source"]["source"] == "sheet" and data["gap_source"]["answered"] == 2
    assert data["gaps"][0]["level"] is not None
    text = runner.invoke(app, ["recommend", "--devices", "6", "--sheet", str(sheet)])
    assert text.exit_code == 0 and "チェックシート「sheet.xlsx」" in text.stdout
    jama = load_builtin("jama-japia")
    a = new_assessment(jama, tenant="acme")
    set_answer(a, jama, "136", "未対策")
    path = save_assessment(a, tmp_path / "a.json")
    data = _json(["recommend", "--devices", "6", "--assessment", str(path), "--lang", "en"])
    assert data["course"] == "endpoint" and data["addressed_gaps"] == [136]
    both = runner.invoke(app, ["recommend", "--devices", "6", "--sheet", str(sheet), "--gaps", "1"])
    assert both.exit_code == 1 and "only one of" in both.stderr
    missing = runner.invoke(app, ["recommend", "--devices", "6", "--sheet", "nope.xlsx"])
    assert missing.exit_code == 1 and "no such check sheet" in missing.stderr
    (tmp_path / "bad.xlsx").write_bytes(b"not a workbook")
    bad = runner.invoke(app, ["recommend", "--devices", "6", "--sheet", str(tmp_path / "bad.xlsx")])
    assert bad.exit_code == 1 and bad.stderr.strip()


def test_python_dash_m_entry_point():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mamori",
            "quote",
            "--course",
            "network",
            "--devices",
            "20",
            "--months",
            "12",
            "--subsidy-year",
            "2024",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["fees_total"], data["subsidy"]) == (689_600, 344_800)
    bad = subprocess.run(
        [sys.executable, "-m", "mamori", "quote", "--course", "nope", "--devices", "1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert bad.returncode == 1
    assert (
        bad.stderr.strip()
        == "error: unknown course 'nope' (known: endpoint, small-network, network)"
    )
