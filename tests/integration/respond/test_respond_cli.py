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


def test_sla_validate(tmp_path):
    good = tmp_path / "sla.yaml"
    good.write_text(
        "tenants:\n"
        "  - {tenant: acme, calendar: business_hours, ack: {critical: 15m, high: 60m},\n"
        "     respond: {critical: 38m}}\n"
        "  - {tenant: beta, calendar: 24x7, ack: {critical: 5m}}\n",
        encoding="utf-8",
    )
    res = CliRunner().invoke(app, ["respond", "sla", "validate", str(good)])
    assert res.exit_code == 0, res.output
    assert "acme\tbusiness_hours\tack: critical 0:15:00, high 1:00:00" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("tenants:\n  - {tenant: acme, ack: {critical: soon}}\n", encoding="utf-8")
    res = subprocess.run(
        [sys.executable, "-m", "mamori", "respond", "sla", "validate", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 1
    assert "contract 1 (acme): not a duration: 'soon'" in res.stderr
    dup = tmp_path / "dup.yaml"
    dup.write_text("- {tenant: a}\n- {tenant: a}\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["respond", "sla", "validate", str(dup)])
    assert res.exit_code != 0
