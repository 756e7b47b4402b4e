import subprocess
import sys

from typer.testing import CliRunner

from mamori.cli.main import app

GOOD = "name: x\ntrigger: {severity: [high]}\nsteps:\n  - task: 調査\n"
BAD = "name: x\ntrigger: {severity: [high]}\nsteps:\n  - task: 調査\n  - action: wipe_disk\n"


def test_validate_ok_and_errors(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(BAD, encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(app, ["respond", "playbooks", "validate", str(good)])
    assert ok.exit_code == 0 and "ok: 1 playbook(s)" in ok.output
    res = subprocess.run(
        [sys.executable, "-m", "mamori", "respond", "playbooks", "validate", str(good), str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 1
    assert f"{bad}:5: unknown action 'wipe_disk'" in res.stderr


def test_list_defaults():
    result = CliRunner().invoke(app, ["respond", "playbooks", "list"])
    assert result.exit_code == 0
    assert "c2-block" in result.output and "block_indicator" in result.output
