from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.scan.mail.message import header_text, parse_message
from mamori.scan.testing import make_message


def test_parts_and_filenames():
    raw = make_message(attachments=[("請求書.pdf", b"%PDF-1.4 x", "application/pdf")])
    parsed = parse_message(raw)
    assert parsed.subject == "見積書の送付"
    assert parsed.defects == []
    assert [p.filename for p in parsed.parts] == ["", "請求書.pdf"]
    assert parsed.parts[1].data == b"%PDF-1.4 x"
    assert parsed.parts[1].attachment
    assert "資料をお送りします" in parsed.text


def test_nested_rfc822_parts_are_reached():
    inner = make_message(attachments=[("inner.exe", b"MZ...", "application/octet-stream")])
    outer = (
        b"From: a@example.jp\r\nTo: b@example.jp\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="OUT"\r\n\r\n--OUT\r\n'
        b"Content-Type: text/plain\r\n\r\nsee attached\r\n--OUT\r\n"
        b"Content-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--OUT--\r\n"
    )
    parsed = parse_message(outer)
    names = [p.filename for p in parsed.parts]
    assert "inner.exe" in names
    assert any(p.index.count(".") >= 1 for p in parsed.parts)


def test_missing_boundary_becomes_one_opaque_part():
    raw = (
        b"From: a@b\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n"
        b"--X\r\nContent-Type: application/octet-stream\r\n\r\nhidden payload\r\n--X--\r\n"
    )
    parsed = parse_message(raw)
    assert "NoBoundaryInMultipartDefect" in parsed.defects
    assert len(parsed.parts) == 1
    assert b"hidden payload" in parsed.parts[0].data


def test_broken_base64_is_a_defect_but_decoded():
    raw = (
        b"From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream; name=x.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8gV29y!!!bGQ\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.parts[0].data == b"Hello World"
    assert "InvalidBase64CharactersDefect" in parsed.defects


def test_eight_bit_headers_and_encoded_words():
    raw = "From: 山田 <y@example.jp>\r\nSubject: 見積\r\n\r\nbody\r\n".encode() + b"\r\n"
    parsed = parse_message(raw)
    assert parsed.subject == "見積"
    assert header_text("=?UTF-8?B?6KaL56mN?=") == "見積"
    assert header_text("=?bogus?Q?x?=") != ""
    cp932 = b"Subject: " + "請求".encode("cp932") + b"\r\n\r\nx"
    assert parse_message(cp932).subject == "請求"


def test_garbage_never_raises():
    for raw in (b"", b"\x00\xff" * 100, b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n"):
        parse_message(raw)


def test_unclosed_and_unstarted_boundaries():
    unclosed = (
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
        b"Content-Type: text/plain\r\n\r\nfirst\r\n--b1\r\n"
        b"Content-Type: application/octet-stream\r\n\r\nsecond part"
    )
    parsed = parse_message(unclosed)
    assert "CloseBoundaryNotFoundDefect" in parsed.defects
    assert [p.data for p in parsed.parts] == [b"first", b"second part"]
    unstarted = b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\nno delimiter at all\r\n'
    parsed = parse_message(unstarted)
    assert parsed.defects == ["StartBoundaryNotFoundDefect"]
    assert parsed.parts[0].data.startswith(b"no delimiter")


def test_boundary_text_inside_a_line_is_not_a_delimiter():
    raw = (
        b'Content-Type: multipart/mixed; boundary="q"\r\n\r\n--q\r\n'
        b"Content-Type: text/plain\r\n\r\nsee --q in the middle\r\n--q--\r\n"
    )
    (part,) = parse_message(raw).parts
    assert part.data == b"see --q in the middle"


def test_quoted_printable_and_lf_only_message():
    raw = (
        b"Subject: qp\nContent-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: quoted-printable\n\n=E8=A6=8B=E7=A9=8D=\nmore\n"
    )
    parsed = parse_message(raw)
    assert parsed.parts[0].data.decode() == "見積more\n"
    assert parsed.text.startswith("見積")


def test_base64_encoded_rfc822_attachment_is_opened():
    import base64

    inner = make_message(attachments=[("x.exe", b"MZ", "application/octet-stream")])
    raw = (
        b'Content-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\n'
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(inner)
        + b"\r\n--o--\r\n"
    )
    assert "x.exe" in [p.filename for p in parse_message(raw).parts]


def test_no_header_body_separator_is_scanned_whole():
    parsed = parse_message(b"Subject: x\r\nX-Junk: " + b"A" * 100)
    assert parsed.defects == ["MissingHeaderBodySeparatorDefect"]
    assert parsed.parts[0].data.startswith(b"Subject: x")


def test_deep_nesting_is_bounded():
    raw = b"Content-Type: text/plain\r\n\r\nleaf"
    for level in range(60):
        raw = (
            f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'.encode()
            + raw
            + f"\r\n--b{level}--\r\n".encode()
        )
    parsed = parse_message(raw)
    assert "NestingTooDeep" in parsed.defects
    assert parsed.parts


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(data):
    parsed = parse_message(b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n' + data)
    assert isinstance(parsed.parts, list)
