"""``mamori db/tenant/user/audit`` through the CLI (in-process, with mamori's exit codes)."""

from __future__ import annotations

import io
import sqlite3

import pytest
from typer.testing import CliRunner

from mamori.cli.main import app, run

runner = CliRunner()


@pytest.fixture
def env(cli_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key, value in cli_env.items():
        if key.startswith("MAMORI_"):
            monkeypatch.setenv(key, value)
    return cli_env


def mamori(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def test_db_upgrade_and_tenant_commands(env):
    r = mamori("db", "upgrade")
    assert r.exit_code == 0 and "database is at " in r.output
    assert "foundation_0001" in r.output or "ingest_0001" in r.output  # the heads of the areas
    r = mamori("tenant", "add", "acme", "株式会社アクメ", "--retention-days", "90")
    assert r.exit_code == 0, r.output
    r = mamori("tenant", "list")
    assert "acme" in r.output and "株式会社アクメ" in r.output and "90d" in r.output


def test_bad_input_gives_one_line_and_exit_1(env, capsys):
    assert run(["tenant", "add", "Bad Slug", "x"]) == 1
    assert run(["tenant", "add", "acme", "A"]) == 0
    assert run(["tenant", "add", "acme", "A"]) == 1
    assert run(["user", "passwd", "ghost", "--password-stdin"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: tenant slug 'Bad Slug' must be 1-63 lowercase letters, digits or inner hyphens",
        "error: tenant 'acme' already exists",
        "error: user 'ghost' not found",
    ]


def test_user_add_list_passwd_never_echo_secrets(env):
    assert mamori("tenant", "add", "acme", "A").exit_code == 0
    secret = "first-password-1"
    r = mamori(
        "user",
        "add",
        "alice",
        "--role",
        "customer_admin",
        "--tenant",
        "acme",
        "--password-stdin",
        input=secret + "\n",
    )
    assert r.exit_code == 0, r.output
    assert secret not in r.output
    r = mamori(
        "user",
        "add",
        "op1",
        "--role",
        "operator",
        "--tenant",
        "acme",
        input="prompted-password-1\nprompted-password-1\n",
    )
    assert r.exit_code == 0, r.output
    assert "prompted-password-1" not in r.output
    r = mamori("user", "list")
    assert "alice" in r.output and "customer_admin" in r.output and "op1" in r.output
    r = mamori("user", "passwd", "alice", input="second-password-2\nsecond-password-2\n")
    assert r.exit_code == 0 and "second-password-2" not in r.output
    r = mamori("user", "passwd", "alice", input="one-password-11\nother-password-2\n")
    assert r.exit_code != 0
    assert mamori("user", "unlock", "alice").exit_code == 0
    r = mamori("audit", "verify")
    assert r.exit_code == 0 and "intact" in r.output


def test_weak_password_and_bad_role_are_refused(env, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert run(["user", "add", "bob", "--role", "admin", "--password-stdin"]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert run(["user", "add", "bob", "--role", "admin", "--password-stdin"]) == 1
    assert run(["user", "add", "bob", "--role", "king", "--password-stdin"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: password must have at least 10 characters"
    assert err[1] == "error: no password on standard input"
    assert err[2].startswith("error: unknown role 'king'")
    assert "short" not in err[0].replace("at least", "")


def test_audit_verify_reports_tampering(env, tmp_path, capsys):
    assert run(["tenant", "add", "acme", "A"]) == 0
    assert run(["tenant", "add", "beta", "B"]) == 0
    assert run(["audit", "verify"]) == 0
    con = sqlite3.connect(tmp_path / "var" / "mamori.db")
    con.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    con.commit()
    con.close()
    capsys.readouterr()
    assert run(["audit", "verify"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: audit log broken at entry 1: content does not match its hash (entry was modified)"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["up", "--help"],
        ["db", "--help"],
        ["db", "upgrade", "--help"],
        ["tenant", "--help"],
        ["tenant", "add", "--help"],
        ["tenant", "list", "--help"],
        ["user", "--help"],
        ["user", "add", "--help"],
        ["user", "list", "--help"],
        ["user", "passwd", "--help"],
        ["audit", "--help"],
        ["audit", "verify", "--help"],
    ],
)
def test_help_everywhere(args):
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and "Usage" in r.output
