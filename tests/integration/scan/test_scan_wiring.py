"""The scan area wired into ``mamori up``: gateways as background services, verdict events
on the bus, quarantine actions in the audit log (src/mamori/cli/wiring/scan.py)."""

from __future__ import annotations

import asyncio
import json
import smtplib

import pytest
from typer.testing import CliRunner

from mamori.bus.embedded import EmbeddedBus
from mamori.cli import runtime
from mamori.cli.main import app
from mamori.cli.wiring.scan import make_icap_server, make_mail_filter
from mamori.model import Event
from mamori.scan.quarantine import QuarantineStore
from mamori.scan.scanners.eicar import EICAR
from mamori.scan.testing import RecordingSmtpServer, icap_request, make_message, zipcrypto
from mamori.store.repos import audit, tenants
from tests.integration.scan.scan_services import free_port

runner = CliRunner()
REQ = b"GET http://origin.example/f.bin HTTP/1.1\r\nHost: origin.example\r\n\r\n"


def _res(body: bytes) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()


async def _drain(bus, subject: str, want: int) -> list[Event]:
    sub = await bus.subscribe(subject, "scan-wiring-test")
    events: list[Event] = []
    for _ in range(40):
        for delivery in await sub.fetch(50, timeout=0.5):
            assert delivery.message.subject.endswith(".scan")
            events.append(Event.from_dict(json.loads(delivery.message.data)))
            await delivery.ack()
        if len(events) >= want:
            break
    await sub.close()
    return events


def test_gateways_are_off_by_default_and_never_run_in_workers(settings, db):
    ctx = runtime.ServiceContext(settings=settings, db=db)
    assert make_mail_filter(ctx) is None and make_icap_server(ctx) is None
    settings.scan_mail_enabled = settings.scan_icap_enabled = True
    worker = runtime.ServiceContext(settings=settings, db=db, role="worker")
    assert make_mail_filter(worker) is None and make_icap_server(worker) is None
    names = [s.name for s in runtime.default_services(settings, db=db)]
    assert "mail-filter" in names and "icap" in names


async def test_up_runtime_relays_clean_mail_rejects_eicar_and_publishes_verdicts(settings, db):
    with db.session() as session:
        tenant = tenants.create_tenant(session, slug="tenant-a", name="株式会社エー部品")
    settings.scan_mail_enabled = True
    settings.scan_mail_port = free_port()
    settings.scan_mail_tenant = "tenant-a"
    settings.scan_mail_hostname = "gw.example.jp"
    settings.scan_icap_enabled = True
    settings.scan_icap_port = free_port()
    settings.scan_icap_tenant = "tenant-a"
    bus = await runtime.start_bus(settings)
    try:
        with RecordingSmtpServer() as hop:
            settings.scan_mail_next_hop = f"127.0.0.1:{hop.port}"
            services = runtime.default_services(settings, db=db, bus=bus)
            async with runtime._running(services):
                clean = make_message(attachments=[("spec.txt", b"parts list", "text/plain")])
                bad = make_message(
                    subject="virus", attachments=[("e.com", EICAR, "application/octet-stream")]
                )

                def send() -> tuple[dict[str, object], str]:
                    with smtplib.SMTP("127.0.0.1", settings.scan_mail_port, timeout=30) as smtp:
                        refused = smtp.sendmail("a@example.co.jp", ["b@example.jp"], clean)
                        try:
                            smtp.sendmail("a@example.co.jp", ["b@example.jp"], bad)
                        except smtplib.SMTPDataError as exc:
                            return refused, f"{exc.smtp_code} {exc.smtp_error.decode()}"
                    return refused, "accepted"

                refused, reply = await asyncio.to_thread(send)
                assert refused == {}
                assert reply.startswith("550") and "EICAR" in reply
                assert len(hop.wait_for(1)) == 1
                assert b"X-Mamori-Scan: clean" in hop.messages[0].data
                locked = zipcrypto({"a.txt": b"x" * 100}, b"pw")
                blocked = await asyncio.to_thread(
                    icap_request,
                    settings.scan_icap_port,
                    "RESPMOD",
                    "respmod",
                    req_hdr=REQ,
                    res_hdr=_res(locked),
                    body=locked,
                )
                assert blocked.status == 200 and b"403" in blocked.http_head
        events = await _drain(bus, "mamori.events.tenant-a.scan", 3)
    finally:
        await bus.close()
    outcomes = sorted((e.source, e.fields["scan.outcome"]) for e in events)
    assert outcomes == [
        ("scan:mail", "blocked"),
        ("scan:mail", "clean"),
        ("scan:web", "quarantined"),
    ]
    assert all(e.tenant == "tenant-a" and e.data_type == "scan:verdict" for e in events)
    mail = next(e for e in events if e.fields["scan.outcome"] == "clean")
    assert mail.fields["mail.action"] == "relayed" and mail.fields["mail.to"] == ["b@example.jp"]
    with db.session() as session:
        entries = audit.list_entries(session, action_prefix="quarantine.")
        assert [(e.action, e.tenant_id, e.actor) for e in entries] == [
            ("quarantine.quarantined", tenant.id, "mamori:icap")
        ]
        assert entries[0].target.startswith("quarantine:")
        assert audit.verify(session).ok


def test_a_busy_gateway_port_fails_the_start_with_one_line(settings, db):
    import socket

    settings.scan_icap_enabled = True
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        settings.scan_icap_port = busy.getsockname()[1]
        service = make_icap_server(runtime.ServiceContext(settings=settings, db=db))
        assert service is not None
        from mamori.errors import ConfigError

        with pytest.raises(ConfigError, match="icap cannot listen"):
            asyncio.run(service.start())


def test_quarantine_release_and_delete_land_in_the_audit_log(settings, db, monkeypatch):
    monkeypatch.setenv("MAMORI_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MAMORI_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MAMORI_SECRET_KEY", settings.secret_key)
    with db.session() as session:
        tenant = tenants.create_tenant(session, slug="acme", name="Acme")
    store = QuarantineStore.from_settings(settings)
    one = store.put(EICAR, name="e.txt", tenant="acme")
    two = store.put(b"other", name="o.bin", tenant="acme")
    assert runner.invoke(app, ["quarantine", "release", one.id, "--note", "ok"]).exit_code == 0
    result = runner.invoke(app, ["quarantine", "delete", two.id, "--actor", "op1"])
    assert result.exit_code == 0, result.output
    assert not (settings.data_dir / "quarantine-audit.jsonl").exists()
    with db.session() as session:
        entries = audit.list_entries(session, action_prefix="quarantine.")
    got = [(e.action, e.tenant_id, e.target, e.actor) for e in reversed(entries)]
    assert got[0][:3] == ("quarantine.released", tenant.id, f"quarantine:{one.id}")
    assert got[0][3].startswith("cli")
    assert got[1] == ("quarantine.deleted", tenant.id, f"quarantine:{two.id}", "op1")
    assert entries[-1].detail["note"] == "ok" and entries[-1].detail["tenant"] == "acme"
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0 and "intact" in verified.output


def test_scan_cli_publishes_verdicts_on_the_bus_of_a_configured_data_dir(settings, monkeypatch):
    monkeypatch.setenv("MAMORI_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MAMORI_SECRET_KEY", settings.secret_key)
    settings.ensure_secret_key()
    (settings.data_dir / "secret.key").write_text(settings.secret_key)
    sample = settings.data_dir / "samples"
    sample.mkdir()
    (sample / "ok.txt").write_text("fine")
    (sample / "e.txt").write_bytes(EICAR)
    result = runner.invoke(app, ["scan", "--tenant", "acme", str(sample)])
    assert result.exit_code == 1

    async def read() -> list[Event]:
        async with EmbeddedBus(settings.data_dir / "spool") as bus:
            return await _drain(bus, "mamori.events.*.scan", 2)

    events = asyncio.run(read())
    assert sorted(e.fields["scan.outcome"] for e in events) == ["blocked", "clean"]
    assert {e.tenant for e in events} == {"acme"} and {e.source for e in events} == {"scan:cli"}
    # --events FILE keeps working and then nothing more goes onto the bus
    out = settings.data_dir / "events.jsonl"
    again = runner.invoke(app, ["scan", "--events", str(out), str(sample / "ok.txt")])
    assert again.exit_code == 0
    assert json.loads(out.read_text())["scan.outcome"] == "clean"
    assert asyncio.run(read()) == []


def test_scan_cli_beside_a_running_instance_still_scans_and_warns(settings, monkeypatch):
    import fcntl

    monkeypatch.setenv("MAMORI_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MAMORI_SECRET_KEY", settings.secret_key)
    (settings.data_dir / "secret.key").write_text(settings.secret_key)
    sample = settings.data_dir / "ok.txt"
    sample.write_text("fine")
    spool = settings.data_dir / "spool"
    spool.mkdir()
    with (spool / "LOCK").open("w") as held:  # what a running `mamori up` holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = runner.invoke(app, ["scan", str(sample)])
    assert result.exit_code == 0, result.output
    assert "verdict events not published" in result.output + (result.stderr or "")


@pytest.mark.db
def test_quarantine_audit_on_postgres(postgres_url, tmp_path):
    from foundation_db import make_settings
    from mamori.cli.wiring.scan import StoreAuditSink
    from mamori.store.db import Database

    database = Database(postgres_url)
    database.upgrade()
    try:
        with database.session() as session:
            tenant = tenants.create_tenant(session, slug="pg-t", name="PG")
        settings = make_settings(tmp_path, postgres_url)
        store = QuarantineStore.from_settings(settings, audit=StoreAuditSink(database))
        item = store.put(EICAR, name="e.txt", tenant="pg-t", actor="mamori:mail")
        store.release(item.id, actor="op", note="ok")
        store.delete(item.id, actor="op")
        store.put(b"x", name="u.bin", tenant="unknown-slug")
        with database.session() as session:
            entries = audit.list_entries(session, action_prefix="quarantine.")
            assert [(e.action, e.tenant_id) for e in reversed(entries)] == [
                ("quarantine.quarantined", tenant.id),
                ("quarantine.released", tenant.id),
                ("quarantine.deleted", tenant.id),
                ("quarantine.quarantined", None),
            ]
            assert entries[0].detail["tenant"] == "unknown-slug"
            assert audit.verify(session).ok
    finally:
        database.dispose()
