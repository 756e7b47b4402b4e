import gzip
import json
from collections import Counter
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from mamori.cli.main import app
from mamori.store.db import Database
from mamori.store.repos import tenants
from mamori.store.tables import StoredEvent

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs"
runner = CliRunner()


def test_parsers_are_listed():
    result = runner.invoke(app, ["ingest", "parsers"])
    assert result.exit_code == 0, result.output
    for name in ("syslog", "postfix", "web_access", "json_lines"):
        assert name in result.output


def test_directory_import_to_jsonl_with_auto_detection(tmp_path):
    out = tmp_path / "events.jsonl"
    result = runner.invoke(app, ["ingest", str(FIXTURES), "--tenant", "acme", "-o", str(out)])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert {e["tenant"] for e in events} == {"acme"}
    by_source = Counter(e["source"] for e in events)
    assert set(by_source) >= {
        "auditd",
        "json_lines",
        "netfilter",
        "postfix",
        "squid",
        "syslog",
        "utm_kv",
        "web_access",
    }
    # every fixture folder is read by the parser it is named after
    for folder in FIXTURES.iterdir():
        if any(p.suffix != ".md" for p in folder.iterdir()):
            assert by_source[folder.name] > 0, folder.name
    assert str(len(events)) in result.output
    again = tmp_path / "again.jsonl"
    runner.invoke(app, ["ingest", str(FIXTURES), "--tenant", "acme", "-o", str(again)])
    assert [json.loads(x)["event_id"] for x in again.read_text().splitlines()] == [
        e["event_id"] for e in events
    ]  # a re-import gives the same ids


def test_gzip_file_with_named_source_and_quarantine_file(tmp_path):
    log = tmp_path / "mixed.log.gz"
    log.write_bytes(
        gzip.compress(
            b"Nov 25 10:00:00 h sshd[1]: Accepted password for a from "
            b"10.0.0.1 port 22 ssh2\n<999>broken\n"
        )
    )
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["ingest", str(log), "-s", "syslog", "-t", "acme", "-o", str(out)])
    assert result.exit_code == 0, result.output
    (event,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert event["user"] == "a" and event["src_ip"] == "10.0.0.1"
    (q,) = [
        json.loads(x) for x in (tmp_path / "out.jsonl.quarantine.jsonl").read_text().splitlines()
    ]
    assert q["reason"] == "invalid syslog priority <999>"
    assert q["raw"] == "<999>broken"
    assert q["location"].endswith("mixed.log.gz:2")


def test_unrecognised_and_corrupt_files_are_reported_not_fatal(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "blob.bin").write_bytes(b"\x00\x01\x02\x03 binary")
    (tmp_path / "in" / "bad.gz").write_bytes(b"not gzip at all")
    (tmp_path / "in" / "ok.log").write_bytes(b"Nov 25 10:00:00 h app: fine\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["ingest", str(tmp_path / "in"), "-t", "acme", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 1
    reasons = [
        json.loads(x)["reason"]
        for x in (tmp_path / "out.jsonl.quarantine.jsonl").read_text().splitlines()
    ]
    assert len(reasons) == 2 and all(r.startswith("file not imported") for r in reasons)


def test_default_goes_into_the_store_once(tmp_path):
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    db = Database(f"sqlite:///{data_dir / 'mamori.db'}")
    db.upgrade()
    with db.session() as s:
        tenants.create_tenant(s, slug="acme", name="アクメ")
    args = ["ingest", str(FIXTURES / "squid"), "-t", "acme", "--data-dir", str(data_dir)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "4" in result.output
    again = runner.invoke(app, args)  # a re-import stores nothing twice
    assert again.exit_code == 0, again.output
    with db.session() as s:
        rows = list(s.scalars(select(StoredEvent)))
    db.dispose()
    assert len(rows) == 4
    assert {r.source for r in rows} == {"squid"}
    assert any(r.fields.get("cs-method") == "GET" for r in rows)


def test_default_into_the_store_refuses_an_unknown_tenant(tmp_path):
    result = runner.invoke(
        app,
        ["ingest", str(FIXTURES / "squid"), "-t", "nobody", "--data-dir", str(tmp_path / "v")],
    )
    assert result.exit_code == 1
    assert "tenant 'nobody' not found" in result.output


def test_errors_are_one_line(tmp_path):
    result = runner.invoke(app, ["ingest", str(tmp_path / "missing.log"), "-t", "a"])
    assert result.exit_code == 1
    assert "does not exist" in result.output
    result = runner.invoke(
        app, ["ingest", str(FIXTURES), "-t", "a", "-s", "nope", "-o", str(tmp_path / "x")]
    )
    assert result.exit_code == 1 and "unknown source 'nope'" in result.output
    result = runner.invoke(app, ["ingest", str(FIXTURES)])
    assert result.exit_code == 2 and "--tenant" in result.output
