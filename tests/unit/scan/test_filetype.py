from __future__ import annotations

import pytest

from mamori.scan.filetype import detect, extension_of, type_for_extension, type_for_mime

from .builders import make_tar, make_zip, vba_project


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"MZ\x90\x00" + b"\0" * 60, "pe"),
        (b"\x7fELF\x02\x01", "elf"),
        (make_zip({"a": b"b"}), "zip"),
        (b"%PDF-1.7\n", "pdf"),
        (b"\x89PNG\r\n\x1a\n....", "png"),
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "7z"),
        (make_tar({"a": b"b"}), "tar"),
        (vba_project("Sub X()\r\nEnd Sub\r\n"), "ole"),
        (b"L\x00\x00\x00\x01\x14\x02\x00\x00", "lnk"),
        (b"plain text", ""),
        (b"", ""),
    ],
)
def test_detect(data, kind):
    assert detect(data) == kind


def test_extension_helpers():
    assert extension_of("dir/Report.PDF") == "pdf"
    assert extension_of(".bashrc") == ""
    assert extension_of("noext") == ""
    assert "zip" in type_for_extension("docx")
    assert type_for_mime("application/pdf; name=x.pdf") == {"pdf"}
    assert type_for_mime("application/octet-stream") == set()
