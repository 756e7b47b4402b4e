"""The real clamd (Debian clamav-daemon) on a temporary unix socket with our own signatures."""

from __future__ import annotations

import hashlib
import smtplib

import pytest

from mamori.scan.base import ScanOptions
from mamori.scan.engine import ScanEngine
from mamori.scan.testing import RecordingSmtpServer, make_message
from mamori.scan.verdict import Outcome
from tests.integration.scan.scan_services import clamd, mail_gateway

HASH_SAMPLE = b"mamori synthetic sample for the clamd hash signature\n"
MARKER = b"MAMORI-NDB-TEST-MARKER-7f3a"


@pytest.fixture(scope="module")
def clamd_socket(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clamd")
    md5 = hashlib.md5(HASH_SAMPLE, usedforsecurity=False).hexdigest()
    signatures = {
        "mamori.hdb": f"{md5}:{len(HASH_SAMPLE)}:Mamori.Test.Hash\n",
        "mamori.ndb": f"Mamori.Test.Marker:0:*:{MARKER.hex()}\n",
    }
    with clamd(tmp, signatures) as sock:
        yield sock


def test_hdb_and_ndb_signatures(clamd_socket):
    engine = ScanEngine.from_options(ScanOptions(clamd=f"unix:{clamd_socket}"))
    assert [s.NAME for s in engine.scanners][-1] == "clamav"
    by_hash = engine.scan_bytes(HASH_SAMPLE, name="sample.bin")
    assert by_hash.outcome is Outcome.BLOCKED
    assert any("Mamori.Test.Hash" in r.detail for r in by_hash.reasons)
    by_marker = engine.scan_bytes(b"prefix " + MARKER + b" suffix", name="x.txt")
    assert any("Mamori.Test.Marker" in r.detail for r in by_marker.reasons)
    assert engine.scan_bytes(b"nothing to see", name="ok.txt").outcome is Outcome.CLEAN


def test_clamd_verdict_in_mail_then_clamd_down(tmp_path, clamd_socket):
    with RecordingSmtpServer() as hop:
        options = ScanOptions(clamd=f"unix:{clamd_socket}")
        with mail_gateway(tmp_path, hop.port, options=options) as rig:
            raw = make_message(
                attachments=[("sample.bin", HASH_SAMPLE, "application/octet-stream")]
            )
            with (
                pytest.raises(smtplib.SMTPDataError) as info,
                smtplib.SMTP("127.0.0.1", rig.port, timeout=30) as smtp,
            ):
                smtp.sendmail("a@supplier.example.jp", ["b@maker.example.jp"], raw)
            assert info.value.smtp_code == 550
            assert b"Mamori.Test.Hash" in info.value.smtp_error
        down = ScanOptions(clamd=f"unix:{tmp_path}/stopped-clamd.sock")
        with mail_gateway(tmp_path, hop.port, options=down) as rig:
            with (
                pytest.raises(smtplib.SMTPDataError) as info,
                smtplib.SMTP("127.0.0.1", rig.port, timeout=30) as smtp,
            ):
                smtp.sendmail("a@supplier.example.jp", ["b@maker.example.jp"], make_message())
            assert info.value.smtp_code == 451
        assert hop.messages == []
