from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from mamori.cli.main import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_items_json_and_table():
    r = run("guideline", "items", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert len(data["items"]) == 153 and len(data["labels"]) == 24
    assert data["catalogue"] == {
        "items": 153,
        "verified": 0,
        "derived": 100,
        "unknown": 53,
        "level_unknown": 54,
    }
    assert data["items"][7]["provenance"] == "unknown" and data["items"][7]["summary_ja"] == ""
    r = run("guideline", "items", "--framework", "jama-japia", "--label", "23")
    assert r.exit_code == 0 and "No.143" in r.stdout and "mamori assess import" in r.stdout
    r = run("guideline", "items", "--framework", "nope")
    assert r.exit_code == 1 and "unknown" in r.output
    assert run("guideline", "items", "--format", "xml").exit_code == 1


def test_validate_catalogue(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("framework: {id: x}\nlabels: []\nitems: [{no: 1}, {no: 1}]\n", encoding="utf-8")
    r = run("guideline", "validate", bad)
    assert r.exit_code == 1
    assert f"{bad}:3" in r.output and "duplicate item number 1" in r.output


def test_import_score_export_roundtrip(tmp_path, sheet_path):
    out = tmp_path / "a.json"
    r = run("assess", "import", sheet_path, "--out", out, "--tenant", "acme")
    assert r.exit_code == 0, r.output
    assert "answers" in r.stdout and out.exists()
    r = run("assess", "score", out, "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data["rates_by_level"]) == {"1", "2", "3"}
    assert data["rates_by_level"]["1"] == pytest.approx(1 / 50)
    assert set(data["rates_by_label"]) == {str(n) for n in range(1, 25)}
    assert data["catalogue"]["verified"] == 153
    # scoring the workbook directly gives the same rates
    direct = json.loads(run("assess", "score", sheet_path, "--format", "json").stdout)
    assert direct["rates_by_level"] == data["rates_by_level"]
    # answer, then export into a copy
    assert run("assess", "answer", out, "2", "対策完了", "--owner", "総務").exit_code == 0
    r = run("assess", "answer", out, "3", "対象外")
    assert r.exit_code == 1 and "reason" in r.output
    copy = tmp_path / "submit.xlsx"
    r = run("assess", "export", out, "--sheet", sheet_path, "--out", copy)
    assert r.exit_code == 0, r.output
    ws = load_workbook(copy)["チェックシート"]
    assert ws["F5"].value == "対策完了" and ws["F6"].value == "対策完了"
    assert ws["F147"].value == "一部対策"


def test_import_keeps_existing_answers(tmp_path, sheet_path):
    a = tmp_path / "a.json"
    assert run("assess", "new", a, "--tenant", "acme").exit_code == 0
    assert run("assess", "answer", a, "60", "未対策", "--comment", "台帳作成中").exit_code == 0
    r = run("assess", "import", sheet_path, "--assessment", a, "--format", "json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["kept"] == 1 and summary["changed"] == 2
    data = json.loads(a.read_text(encoding="utf-8"))
    assert data["answers"]["60"]["comment"] == "台帳作成中"
    assert data["answers"]["1"]["status"] == "対策完了"


def test_import_bad_sheet(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "nothing here"
    path = tmp_path / "x.xlsx"
    wb.save(path)
    r = run("assess", "import", path, "--out", tmp_path / "a.json")
    assert r.exit_code == 1 and "no recognisable check-sheet header" in r.output
    assert not (tmp_path / "a.json").exists()


def test_compare(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for p in (a, b):
        assert run("assess", "new", p, "--tenant", "acme").exit_code == 0
    run("assess", "answer", a, "1", "未対策")
    run("assess", "answer", b, "1", "対策完了")
    run("assess", "answer", a, "2", "対策完了")
    run("assess", "answer", b, "2", "未対策")
    r = run("assess", "compare", a, b, "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [c["item"] for c in data["improved"]] == ["1"]
    assert [c["item"] for c in data["regressed"]] == ["2"]
    r = run("assess", "compare", a, b)
    assert "改善 1" in r.stdout and "後退 1" in r.stdout


def test_target_roadmap_check_report_evidence(tmp_path):
    a = tmp_path / "a.json"
    run("assess", "new", a, "--tenant", "acme")
    assert "industry_leader" in run("assess", "questions").stdout
    r = run("assess", "target", a, "--yes", "nope")
    assert r.exit_code == 1 and "unknown question" in r.output
    r = run("assess", "target", a, "--yes", "handles_confidential")
    assert r.exit_code == 0 and "レベル2" in r.stdout
    run("assess", "answer", a, "143", "対策完了")
    obs = tmp_path / "obs.json"
    obs.write_text(
        json.dumps({"at": "2026-11-25T00:00:00Z", "retention_days": 10, "log_sources": []})
    )
    r = run("assess", "check", a, "--observations", obs)
    assert r.exit_code == 0 and "contradicted: No.143" in r.stdout
    r = run("assess", "roadmap", a, "--format", "json")
    data = json.loads(r.stdout)
    assert data["target_level"] == 2 and data["entries"][0]["level"] == 1
    assert any(e["item"] == "143" and e["contradicted"] for e in data["entries"])
    evidence = tmp_path / "log-policy.pdf"
    evidence.write_bytes(b"%PDF-1.4\n%%EOF\n")
    r = run("assess", "evidence", a, "143", evidence, "--store", tmp_path / "ev")
    assert r.exit_code == 0 and "sha256=" in r.stdout
    bad = tmp_path / "tool.pdf"
    bad.write_bytes(b"MZ" + b"\x00" * 100)
    r = run("assess", "evidence", a, "143", bad, "--store", tmp_path / "ev")
    assert r.exit_code == 1 and "not allowed" in r.output
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 2000)
    r = run("assess", "evidence", a, "143", big, "--store", tmp_path / "ev", "--max-bytes", "1000")
    assert r.exit_code == 1 and "larger than the limit" in r.output
    hist = json.loads(run("assess", "history", a, "143", "--format", "json").stdout)
    assert [h["source"] for h in hist] == ["manual", "evidence"]
    assert "未回答 → 対策完了" in run("assess", "history", a).stdout
    html, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    r = run("assess", "report", a, "--html", html, "--pdf", pdf)
    assert r.exit_code == 0, r.output
    assert "自己評価報告書" in html.read_text(encoding="utf-8")
    assert pdf.read_bytes().startswith(b"%PDF")


def test_meti_import_and_proposals(tmp_path, shared_data):
    csv_path = shared_data / "guideline/meti-scs-criteria-2026-03.csv"
    cat = tmp_path / "meti.yaml"
    r = run("guideline", "import-meti", csv_path, "--out", cat)
    assert r.exit_code == 0, r.output
    assert "153 criteria" in r.stdout and "No.36" in r.output
    assert run("guideline", "validate", cat).exit_code == 0
    r = run("guideline", "items", "--framework", cat, "--format", "json")
    assert json.loads(r.stdout)["catalogue"]["verified"] == 153
    j, m = tmp_path / "j.json", tmp_path / "m.json"
    run("assess", "new", j, "--tenant", "acme")
    assert run("assess", "new", m, "--tenant", "acme", "--framework", cat).exit_code == 0
    run("assess", "answer", j, "148", "対策完了")
    run("assess", "answer", j, "149", "対策完了")
    r = run("assess", "propose", m, "--from", j, "--meti-csv", csv_path)
    assert r.exit_code == 0, r.output
    proposals = json.loads(m.read_text(encoding="utf-8"))["proposals"]
    pid = next(p["id"] for p in proposals if p["item"] == "4-3-4-3")
    assert json.loads(m.read_text(encoding="utf-8"))["answers"] == {}
    r = run("assess", "accept", m, pid)
    assert r.exit_code == 0, r.output
    assert json.loads(m.read_text(encoding="utf-8"))["answers"]["4-3-4-3"]["status"] == "対策完了"


def test_checks_list_and_subprocess():
    r = run("guideline", "checks")
    assert "investigation_logs" in r.stdout and "143" in r.stdout
    src = str(Path(__file__).resolve().parents[3] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "mamori", "assess", "score", "/nonexistent.json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert proc.returncode == 1 and "does not exist" in proc.stderr
