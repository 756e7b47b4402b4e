"""Reading the text back out of an uncompressed reportlab PDF (no PDF library needed)."""

from __future__ import annotations

import re

_STRING = re.compile(rb"\((?:[^()\\]|\\.)*\)\s*Tj", re.DOTALL)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(raw: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(raw):
        ch = raw[i : i + 1]
        if ch != b"\\":
            out += ch
            i += 1
            continue
        nxt = raw[i + 1 : i + 2]
        octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
        if octal:
            out.append(int(octal.group(), 8))
            i += 1 + len(octal.group())
        else:
            out += _ESCAPES.get(nxt, nxt)
            i += 2
    return bytes(out)


def pdf_text(data: bytes) -> str:
    """The text drawn by an uncompressed reportlab PDF (CID strings are UTF-16BE)."""
    parts = []
    for match in _STRING.finditer(data):
        body = _unescape(match.group()[1 : match.group().rindex(b")")])
        try:
            parts.append(body.decode("utf-16-be") if len(body) % 2 == 0 else body.decode("latin-1"))
        except UnicodeDecodeError:
            parts.append(body.decode("latin-1"))
    return "\n".join(parts)
