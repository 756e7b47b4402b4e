"""The SMTP content filter end to end: real SMTP on loopback, a recording next hop."""

from __future__ import annotations

import email
import smtplib
import socket
import ssl
from datetime import UTC, datetime, timedelta

import pytest

from mamori.scan.base import ScanOptions
from mamori.scan.scanners.eicar import EICAR
from mamori.scan.testing import (
    RecordingSmtpServer,
    make_docm,
    make_message,
    self_signed_cert,
    zipcrypto,
)
from tests.integration.scan.scan_services import free_port, mail_gateway

SENDER = "tanaka@supplier.example.jp"
RCPT = "sato@maker.example.jp"


@pytest.fixture
def next_hop():
    with RecordingSmtpServer() as server:
        yield server


def _send(port: int, raw: bytes, rcpts=(RCPT,), sender=SENDER) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.sendmail(sender, list(rcpts), raw)


def test_clean_message_is_relayed_with_stamp(tmp_path, next_hop):
    with mail_gateway(tmp_path, next_hop.port) as rig:
        raw = make_message(attachments=[("見積書.pdf", b"%PDF-1.4\n...", "application/pdf")])
        _send(rig.port, raw)
    (got,) = next_hop.messages
    assert got.rcpt_tos == [RCPT]
    assert got.data.startswith(b"X-Mamori-Scan: clean")
    assert got.data.endswith(raw)
    assert [e.fields["mail.action"] for e in rig.events] == ["relayed"]
    assert rig.events[0].fields["scan.outcome"] == "clean"


@pytest.mark.parametrize(
    ("filename", "data", "mime"),
    [
        ("eicar.txt", EICAR, "text/plain"),
        ("請求書\u202efdp.exe", b"MZ\x90\x00" + b"\0" * 100, "application/pdf"),
        ("invoice.pdf.js", b"WScript.Echo(1)", "application/javascript"),
    ],
    ids=["eicar", "rtlo", "double-extension"],
)
def test_blocked_attachment_gets_550(tmp_path, next_hop, filename, data, mime):
    with mail_gateway(tmp_path, next_hop.port) as rig:
        with pytest.raises(smtplib.SMTPDataError) as info:
            _send(rig.port, make_message(attachments=[(filename, data, mime)]))
        assert info.value.smtp_code == 550
        assert b"5.7.1" in info.value.smtp_error
    assert next_hop.messages == []
    assert rig.events[0].fields["mail.action"] == "rejected"


def test_docm_macro_is_quarantined_and_notified(tmp_path, next_hop):
    raw = make_message(attachments=[("発注書.docm", make_docm(), "application/octet-stream")])
    with mail_gateway(tmp_path, next_hop.port, admin_addresses=("admin@maker.example.jp",)) as rig:
        _send(rig.port, raw)
        notices = next_hop.wait_for(1)
    (notice,) = notices
    assert sorted(notice.rcpt_tos) == ["admin@maker.example.jp", RCPT]
    msg = email.message_from_bytes(notice.data)
    body = msg.get_payload(decode=True).decode()
    assert "隔離" in body and "quarantine" in body
    (event,) = rig.events
    assert event.fields["mail.action"] == "quarantined"
    item_id = event.fields["quarantine.id"]
    store = rig.gateway.quarantine
    assert store.content(item_id) == raw
    assert store.get(item_id).meta["rcpt_tos"] == [RCPT]
    assert "vba_macro" in event.fields["scan.reasons"]
    # an operator releases it: delivered unchanged
    with mail_gateway(tmp_path, next_hop.port) as rig2:
        result = rig2.gateway.release(item_id, actor="op")
    assert result.ok
    assert next_hop.messages[-1].rcpt_tos == [RCPT]
    assert store.get(item_id).status == "released"


def test_malformed_mime_is_quarantined_not_relayed(tmp_path, next_hop):
    raw = (
        b"From: a@supplier.example.jp\r\nTo: sato@maker.example.jp\r\nSubject: x\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n"
        b"--B\r\nContent-Type: application/octet-stream\r\n\r\nabc\r\n--B--\r\n"
    )
    with mail_gateway(tmp_path, next_hop.port, notify_recipients=False) as rig:
        _send(rig.port, raw)
    assert next_hop.messages == []
    assert rig.events[0].fields["mail.action"] == "quarantined"
    assert "malformed_mime" in rig.events[0].fields["scan.reasons"]


def test_50mb_message_over_the_limit_gets_552(tmp_path, next_hop):
    big = b"From: a@b\r\nSubject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 52_000
    with mail_gateway(tmp_path, next_hop.port, max_message_bytes=10 * 1024 * 1024) as rig:
        # declared with SIZE=: refused at MAIL FROM
        with pytest.raises(smtplib.SMTPSenderRefused) as info:
            _send(rig.port, big)
        assert info.value.smtp_code == 552
        # not declared: refused after DATA, the gateway still answers afterwards
        with smtplib.SMTP("127.0.0.1", rig.port, timeout=60) as smtp:
            smtp.ehlo()
            smtp.mail(SENDER)
            smtp.rcpt(RCPT)
            code, _ = smtp.data(big)
            assert code == 552
        _send(rig.port, make_message())
    assert len(next_hop.messages) == 1


def test_recipient_limit(tmp_path, next_hop):
    with (
        mail_gateway(tmp_path, next_hop.port, max_recipients=2) as rig,
        smtplib.SMTP("127.0.0.1", rig.port, timeout=30) as smtp,
    ):
        smtp.ehlo()
        smtp.mail(SENDER)
        assert smtp.rcpt("a@x.jp")[0] == 250
        assert smtp.rcpt("b@x.jp")[0] == 250
        assert smtp.rcpt("c@x.jp")[0] == 452


def test_connection_limit(tmp_path, next_hop):
    with mail_gateway(tmp_path, next_hop.port, max_connections=1) as rig:
        first = smtplib.SMTP("127.0.0.1", rig.port, timeout=30)
        try:
            with socket.create_connection(("127.0.0.1", rig.port), timeout=10) as second:
                assert second.recv(100).startswith(b"421")
        finally:
            first.quit()


def test_starttls(tmp_path, next_hop):
    cert, key = self_signed_cert(tmp_path)
    with (
        mail_gateway(
            tmp_path, next_hop.port, tls_cert=cert, tls_key=key, require_starttls=True
        ) as rig,
        smtplib.SMTP("127.0.0.1", rig.port, timeout=30) as smtp,
    ):
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        code, _ = smtp.mail(SENDER)
        assert code == 530  # must STARTTLS first
        ctx = ssl.create_default_context(cafile=str(cert))
        smtp.starttls(context=ctx)
        smtp.ehlo()
        smtp.sendmail(SENDER, [RCPT], make_message())
    assert len(next_hop.messages) == 1


def test_client_disconnect_mid_message_loses_and_leaks_nothing(tmp_path, next_hop):
    with mail_gateway(tmp_path, next_hop.port) as rig:
        with socket.create_connection(("127.0.0.1", rig.port), timeout=10) as sock:
            reader = sock.makefile("rb")
            reader.readline()
            for line in (b"EHLO x", f"MAIL FROM:<{SENDER}>".encode(), f"RCPT TO:<{RCPT}>".encode()):
                sock.sendall(line + b"\r\n")
                while True:
                    reply = reader.readline()
                    if reply[3:4] != b"-":
                        break
            sock.sendall(b"DATA\r\n")
            assert reader.readline().startswith(b"354")
            sock.sendall(b"Subject: half\r\n\r\n" + EICAR[:30])
        _send(rig.port, make_message(subject="after"))
    (got,) = next_hop.messages
    assert b"after" in got.data
    assert rig.gateway.active_connections == 0


def test_next_hop_failures_give_4xx(tmp_path, next_hop):
    with mail_gateway(tmp_path, next_hop.port) as rig:
        next_hop.reply = "451 4.3.0 busy"
        with pytest.raises(smtplib.SMTPDataError) as info:
            _send(rig.port, make_message())
        assert info.value.smtp_code == 451
    with mail_gateway(tmp_path, free_port()) as rig:  # nothing listens there
        with pytest.raises(smtplib.SMTPDataError) as info:
            _send(rig.port, make_message())
        assert info.value.smtp_code == 451
        assert b"4.4.1" in info.value.smtp_error


def test_clamd_down_gives_4xx(tmp_path, next_hop):
    options = ScanOptions(clamd=f"unix:{tmp_path}/no-clamd.sock")
    with mail_gateway(tmp_path, next_hop.port, options=options) as rig:
        with pytest.raises(smtplib.SMTPDataError) as info:
            _send(rig.port, make_message())
        assert info.value.smtp_code == 451
    assert next_hop.messages == []
    assert rig.events[0].fields["mail.action"] == "deferred"


def _ppap_mail(zip_bytes: bytes) -> bytes:
    return make_message(
        subject="【送付】見積書",
        attachments=[("見積書.zip", zip_bytes, "application/zip")],
    )


def _password_mail(password: str) -> bytes:
    return make_message(
        subject="【パスワード】見積書",
        body=f"先ほどのファイルのパスワードをお送りします。\nパスワード：{password}\n",
    )


def test_ppap_hold_survives_restart_then_released(tmp_path, next_hop):
    archive = zipcrypto({"見積書.txt": "御見積金額 120,000円".encode()}, b"Mk7#pQ2x")
    with mail_gateway(tmp_path, next_hop.port, notify_recipients=True) as rig:
        _send(rig.port, _ppap_mail(archive))
        held_id = rig.events[0].fields["quarantine.id"]
        assert rig.events[0].fields["mail.action"] == "held"
    notice = next_hop.wait_for(1)[0]
    assert "保留" in email.message_from_bytes(notice.data).get_payload(decode=True).decode()
    # restart: a new gateway process state from the same data directory
    with mail_gateway(tmp_path, next_hop.port) as rig:
        _send(rig.port, _password_mail("Wrong000"), rcpts=(RCPT,))  # wrong: stays held
        assert rig.gateway.quarantine.get(held_id).status == "held"
        _send(rig.port, _password_mail("Mk7#pQ2x"), rcpts=(RCPT,))
        actions = [e.fields["mail.action"] for e in rig.events]
    assert actions == ["relayed", "released", "relayed"]
    zips = [m for m in next_hop.messages if b"Content-Type: application/zip" in m.data]
    assert len(zips) == 1
    assert zips[0].data.startswith(b"X-Mamori-Scan: clean")
    assert zips[0].rcpt_tos == [RCPT]
    assert rig.gateway.quarantine.get(held_id).status == "released"
    assert rig.gateway.holds.all() == []


def test_ppap_password_reveals_malware(tmp_path, next_hop):
    archive = zipcrypto({"readme.txt": EICAR}, b"pw12345")
    with mail_gateway(
        tmp_path,
        next_hop.port,
        notify_recipients=False,
        admin_addresses=("admin@maker.example.jp",),
    ) as rig:
        _send(rig.port, _ppap_mail(archive))
        held_id = rig.events[0].fields["quarantine.id"]
        _send(rig.port, _password_mail("pw12345"))
        actions = [e.fields["mail.action"] for e in rig.events]
    assert actions == ["held", "blocked", "relayed"]
    assert rig.gateway.quarantine.get(held_id).status == "quarantined"
    relayed = [m for m in next_hop.messages if m.mail_from == SENDER]
    assert len(relayed) == 1  # only the password mail itself
    body = email.message_from_bytes(relayed[0].data).get_payload(decode=True).decode()
    assert "pw12345" in body
    assert not any(b"application/zip" in m.data for m in next_hop.messages)


def test_ppap_policy_reject_and_quarantine(tmp_path, next_hop):
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "strict.yaml").write_text("ppap: {mode: reject}\n", encoding="utf-8")
    (policies / "keep.yaml").write_text("ppap: {mode: quarantine}\n", encoding="utf-8")
    archive = zipcrypto({"a.txt": b"x"}, b"pw")
    with mail_gateway(tmp_path, next_hop.port, policy_dir=policies, tenant="strict") as rig:
        with pytest.raises(smtplib.SMTPDataError) as info:
            _send(rig.port, _ppap_mail(archive))
        assert info.value.smtp_code == 550
        assert b"PPAP" in info.value.smtp_error
    with mail_gateway(
        tmp_path, next_hop.port, policy_dir=policies, tenant="keep", notify_recipients=False
    ) as rig:
        _send(rig.port, _ppap_mail(archive))
        assert rig.events[0].fields["mail.action"] == "quarantined"


def test_ppap_hold_expires_into_quarantine(tmp_path, next_hop):
    with mail_gateway(tmp_path, next_hop.port, notify_recipients=False) as rig:
        _send(rig.port, _ppap_mail(zipcrypto({"a.txt": b"x"}, b"pw")))
        held_id = rig.events[0].fields["quarantine.id"]
        assert rig.gateway.expire_holds(datetime.now(UTC) + timedelta(days=2)) == 1
    assert rig.gateway.quarantine.get(held_id).status == "quarantined"
    assert rig.gateway.holds.all() == []


def test_tenant_by_recipient_domain(tmp_path, next_hop):
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "strict.yaml").write_text("ppap: {mode: reject}\n", encoding="utf-8")
    archive = zipcrypto({"a.txt": b"x"}, b"pw")
    with mail_gateway(
        tmp_path,
        next_hop.port,
        policy_dir=policies,
        tenant="default-co",
        tenant_domains=(("strict.example.jp", "strict"),),
        notify_recipients=False,
    ) as rig:
        with pytest.raises(smtplib.SMTPDataError) as info:
            _send(rig.port, _ppap_mail(archive), rcpts=("a@mail.strict.example.jp",))
        assert info.value.smtp_code == 550
        _send(rig.port, _ppap_mail(archive), rcpts=("b@other.example.jp",))
        with smtplib.SMTP("127.0.0.1", rig.port, timeout=30) as smtp:
            smtp.ehlo()
            smtp.mail(SENDER)
            assert smtp.rcpt("b@other.example.jp")[0] == 250
            assert smtp.rcpt("a@strict.example.jp")[0] == 451  # other tenant: separate try
    assert [(e.tenant, e.fields["mail.action"]) for e in rig.events] == [
        ("strict", "rejected"),
        ("default-co", "held"),
    ]
    assert rig.gateway.holds.all()[0].tenant == "default-co"


def test_ppap_winzip_aes_released(tmp_path, next_hop):
    from mamori.scan.testing import zip_aes

    archive = zip_aes({"図面.txt": "部品図面 rev.3".encode()}, "Zq9-Lm2w")
    with mail_gateway(tmp_path, next_hop.port, notify_recipients=False) as rig:
        _send(rig.port, _ppap_mail(archive))
        _send(rig.port, _password_mail("Zq9-Lm2w"))
        actions = [e.fields["mail.action"] for e in rig.events]
    assert actions == ["held", "released", "relayed"]


def test_hold_released_by_operator_is_not_delivered_twice(tmp_path, next_hop):
    with mail_gateway(tmp_path, next_hop.port, notify_recipients=False) as rig:
        _send(rig.port, _ppap_mail(zipcrypto({"a.txt": b"x"}, b"pw")))
        held_id = rig.events[0].fields["quarantine.id"]
        assert rig.gateway.release(held_id, actor="op").ok
        _send(rig.port, _password_mail("pw"))
    zips = [m for m in next_hop.messages if b"application/zip" in m.data]
    assert len(zips) == 1
    assert rig.gateway.holds.all() == []


def test_eight_bit_headers_and_broken_base64_over_smtp(tmp_path, next_hop):
    raw = (
        "From: 山田 <yamada@supplier.example.jp>\r\nTo: sato@maker.example.jp\r\n"
        "Subject: 請求書\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
        "Content-Type: text/plain; charset=utf-8\r\n\r\n本文\r\n--B\r\n"
        'Content-Type: application/pdf; name="請求書.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0x!!!LjQK*\r\n--B--\r\n"
    ).encode()
    with mail_gateway(tmp_path, next_hop.port, notify_recipients=False) as rig:
        _send(rig.port, raw)
    (event,) = rig.events
    assert event.fields["mail.action"] == "quarantined"
    assert event.fields["mail.subject"] == "請求書"
    assert "malformed_mime" in event.fields["scan.reasons"]
    assert next_hop.messages == []


def test_winmail_dat_contents_are_scanned(tmp_path, next_hop):
    from mamori.scan.testing import make_tnef

    raw = make_message(
        attachments=[("winmail.dat", make_tnef({"e.txt": EICAR}), "application/ms-tnef")]
    )
    with mail_gateway(tmp_path, next_hop.port) as rig:
        with pytest.raises(smtplib.SMTPDataError) as info:
            _send(rig.port, raw)
        assert info.value.smtp_code == 550


def test_reject_reason_cannot_inject_smtp_lines(tmp_path, next_hop):
    raw = (
        b"From: a@supplier.example.jp\r\nTo: sato@maker.example.jp\r\nSubject: x\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''a%0D%0A250%20OK%20fake.exe\r\n\r\n"
        b"TVqQAAMAAAAEAAAA\r\n--B--\r\n"
    )
    with mail_gateway(tmp_path, next_hop.port) as rig:
        with pytest.raises(smtplib.SMTPDataError) as info:
            _send(rig.port, raw)
        assert info.value.smtp_code == 550
        assert b"fake.exe" in info.value.smtp_error  # the hostile name is in the reason...
        assert b"\r" not in info.value.smtp_error and b"\n" not in info.value.smtp_error
        _send(rig.port, make_message())  # the session state is intact
    assert len(next_hop.messages) == 1


def test_partly_refused_recipients_are_reported_to_the_sender(tmp_path, next_hop):
    next_hop.handler.refuse.add("gone@maker.example.jp")
    with mail_gateway(tmp_path, next_hop.port) as rig:
        _send(rig.port, make_message(), rcpts=(RCPT, "gone@maker.example.jp"))
        messages = next_hop.wait_for(2)
    delivered, notice = messages
    assert delivered.rcpt_tos == [RCPT]
    assert notice.rcpt_tos == [SENDER]
    body = email.message_from_bytes(notice.data).get_payload(decode=True).decode()
    assert "gone@maker.example.jp: 550" in body
    assert rig.events[0].fields["mail.refused"][0].startswith("gone@maker.example.jp")
