"""``mamori scan`` and ``mamori quarantine`` through Typer's runner (src/mamori/cli/scan.py)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mamori.cli.main import app
from mamori.scan.quarantine import QuarantineStore
from mamori.scan.scanners.eicar import EICAR
from mamori.scan.testing import zipcrypto

runner = CliRunner()


def test_scan_text_and_exit_codes(tmp_path):
    (tmp_path / "ok.txt").write_text("hello")
    (tmp_path / "e.txt").write_bytes(EICAR)
    result = runner.invoke(app, ["scan", str(tmp_path / "ok.txt")])
    assert result.exit_code == 0
    assert result.output.startswith("clean")
    result = runner.invoke(app, ["scan", str(tmp_path)])
    assert result.exit_code == 1
    assert "blocked" in result.output
    assert "EICAR テストファイルを検知しました" in result.output


def test_scan_json_folder_and_missing_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("x")
    result = runner.invoke(
        app, ["scan", "--format", "json", str(tmp_path), str(tmp_path / "missing.bin")]
    )
    assert result.exit_code == 1
    data = json.loads(result.output)
    outcomes = {v["name"].rsplit("/", 1)[-1]: v["outcome"] for v in data["verdicts"]}
    assert outcomes == {"a.txt": "clean", "missing.bin": "quarantined"}
    assert data["summary"]["clean"] == 1


def test_scan_with_password_and_user_rules(tmp_path):
    archive = tmp_path / "ppap.zip"
    archive.write_bytes(zipcrypto({"a.txt": b"secret-marker-42"}, b"pw"))
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yar").write_text('rule Marker { strings: $a = "secret-marker-42" condition: $a }')
    locked = runner.invoke(app, ["scan", "--lang", "en", str(archive)])
    assert locked.exit_code == 1 and "encrypted" in locked.output
    opened = runner.invoke(
        app, ["scan", "--password", "pw", "--rules", str(rules), "--format", "json", str(archive)]
    )
    verdict = json.loads(opened.output)["verdicts"][0]
    assert [r["detail"] for r in verdict["reasons"]] == ["YARA:Marker"]


def test_bad_usage(tmp_path):
    assert runner.invoke(app, ["scan", "--format", "xml", str(tmp_path)]).exit_code == 2
    bad_rules = tmp_path / "bad"
    bad_rules.mkdir()
    (bad_rules / "x.yar").write_text("rule {")
    result = runner.invoke(app, ["scan", "--rules", str(bad_rules), str(tmp_path)])
    assert result.exit_code != 0


def test_quarantine_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMORI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MAMORI_SECRET_KEY", "test-secret")
    from mamori.config import Settings

    store = QuarantineStore.from_settings(Settings())
    item = store.put(EICAR, name="e.txt", tenant="acme")
    listed = runner.invoke(app, ["quarantine", "list", "--format", "json"])
    assert json.loads(listed.output)[0]["id"] == item.id
    out = tmp_path / "out.bin"
    got = runner.invoke(app, ["quarantine", "get", item.id, "-o", str(out), "--actor", "op"])
    assert got.exit_code == 0 and out.read_bytes() == EICAR
    assert runner.invoke(app, ["quarantine", "release", item.id, "--actor", "op"]).exit_code == 0
    shown = json.loads(runner.invoke(app, ["quarantine", "show", item.id]).output)
    assert shown["status"] == "released"
    assert runner.invoke(app, ["quarantine", "delete", item.id]).exit_code == 0
    audit = (tmp_path / "quarantine-audit.jsonl").read_text().splitlines()
    actions = [json.loads(line)["action"] for line in audit]
    assert actions[-3:] == ["quarantine.retrieve", "quarantine.released", "quarantine.deleted"]
    assert runner.invoke(app, ["quarantine", "show", "nope"]).exit_code != 0


def test_quarantine_list_pages_and_reindex(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMORI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MAMORI_SECRET_KEY", "test-secret")
    from mamori.config import Settings
    from mamori.scan.quarantine_index import INDEX_FILE

    store = QuarantineStore.from_settings(Settings())
    ids = [store.put(f"x{n}".encode(), name=f"{n}.bin").id for n in range(4)]
    page = runner.invoke(
        app, ["quarantine", "list", "--format", "json", "--limit", "2", "--offset", "1"]
    )
    assert [i["id"] for i in json.loads(page.output)] == [ids[2], ids[1]]
    (store.root / INDEX_FILE).write_bytes(b"garbage")
    reindexed = runner.invoke(app, ["quarantine", "reindex"])
    assert reindexed.exit_code == 0 and "4 items indexed" in reindexed.output
    assert runner.invoke(app, ["quarantine", "list", "--limit", "0"]).exit_code == 2
