from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from mamori.errors import NotFoundError, ValidationError
from mamori.guideline.evidence import EvidenceStore, sniff_media_type, validate_evidence

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _xlsx_bytes(macro: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/printerSettings/printerSettings1.bin", b"\x00")
        if macro:
            zf.writestr("xl/vbaProject.bin", b"\x00")
    return buf.getvalue()


def test_valid_pdf():
    v = validate_evidence(io.BytesIO(PDF), "C:\\docs\\規程.pdf", actor="u1")
    assert v.ref.sha256 == hashlib.sha256(PDF).hexdigest()
    assert v.ref.size == len(PDF)
    assert v.ref.media_type == "application/pdf"
    assert v.ref.filename == "規程.pdf"


def test_office_and_text():
    assert validate_evidence(_xlsx_bytes(), "a.xlsx").ref.media_type.endswith(".sheet")
    assert validate_evidence("ログ 2026\n".encode(), "retention.txt").ref.media_type == "text/plain"
    assert validate_evidence(b"a,b\n1,2\n", "x.csv").ref.media_type == "text/csv"


def test_too_large():
    with pytest.raises(ValidationError, match="larger than the limit"):
        validate_evidence(io.BytesIO(b"x" * 2048), "big.txt", max_bytes=1024)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"MZ\x90\x00" + b"\x00" * 60, "report.pdf"),  # executable renamed
        (b"MZ\x90\x00" + b"\x00" * 60, "tool.exe"),
        (b"<html><script>alert(1)</script></html>", "page.html"),
        (b"#!/bin/sh\nrm -rf /\n", "run.txt"),
        (_xlsx_bytes(macro=True), "macro.xlsx"),
        (PDF, "looks.png"),  # extension does not match content
        (b"", "empty.txt"),
    ],
)
def test_forbidden(data, name):
    with pytest.raises(ValidationError):
        validate_evidence(data, name)


def test_allowed_subset():
    with pytest.raises(ValidationError, match="not allowed"):
        validate_evidence(PDF, "a.pdf", allowed={"image/png"})


def test_sniff_unknown_binary():
    assert sniff_media_type(b"\x00\x01\x02") == "application/octet-stream"


def test_store_is_tenant_scoped(tmp_path):
    store = EvidenceStore(tmp_path)
    v = validate_evidence(PDF, "a.pdf")
    ref = store.put("acme", v)
    store.put("acme", v)  # idempotent
    assert store.open("acme", ref.sha256) == PDF
    with pytest.raises(NotFoundError):
        store.open("other", ref.sha256)
    with pytest.raises(NotFoundError):
        store.open("acme", "../../etc/passwd")
    with pytest.raises(ValidationError):
        store.put("../evil", v)
