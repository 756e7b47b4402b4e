"""MIME parsing for scanning: every leaf part (nested message/rfc822 too), decoded, with the
structural defects found on the way. Parsing never raises: broken input becomes defects."""

from __future__ import annotations

import binascii
import email.header
import email.message
import email.parser
import email.policy
import email.utils
import re
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class MailPart:
    """One leaf of the MIME tree.

    Attributes:
        index: position in the tree (``"1"``, ``"2.1"`` for nested parts).
        data: the decoded body bytes.
        filename: attachment file name (RFC 2047/2231 decoded), or ``""``.
        content_type: the declared MIME type.
        attachment: true when it is an attachment rather than body text.
    """

    index: str
    data: bytes
    filename: str
    content_type: str
    attachment: bool

    @property
    def label(self) -> str:
        return f"part {self.index}" + (f" ({self.filename})" if self.filename else "")


@dataclass
class ParsedMessage:
    parts: list[MailPart] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    subject: str = ""
    message_id: str = ""
    sender: str = ""
    text: str = ""  # the plain-text body parts, joined (for PPAP password mails)


def _decode_bytes(raw: bytes, charset: str | None) -> str:
    for enc in (charset, "utf-8", "cp932", "euc-jp", "iso-2022-jp"):
        if not enc or enc == "unknown-8bit":
            continue
        try:
            return raw.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("utf-8", "replace")


def header_text(value: object) -> str:
    """A header value as readable text, whatever encoding tricks or raw 8-bit it holds."""
    if value is None:
        return ""
    try:
        chunks = email.header.decode_header(value)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - malformed encoded-words
        return _clean(str(value))
    out = []
    for chunk, charset in chunks:
        out.append(_decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return _clean("".join(out))


def _clean(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").strip()


def _filename(part: email.message.Message) -> str:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - broken RFC 2231 parameters
        name = None
    if name is None:
        raw = part.get_param("name")
        name = email.utils.collapse_rfc2231_value(raw) if raw else None
    return header_text(name) if name else ""


_MAX_DEPTH = 40
_BASE64_TEXT = (
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=" + b" \t\r\n\x0b\x0c"
)
_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def parse_message(raw: bytes) -> ParsedMessage:
    """Split ``raw`` into decoded leaf parts; structural problems become ``defects``.

    The MIME tree is split with byte searches (boundaries, header blocks) and only the small
    header blocks go through the standard library's parser; this keeps a 1 MB attachment to a
    few milliseconds. Anything that cannot be split cleanly is kept as one opaque part (and
    noted as a defect), so no byte of the message escapes the scanners.
    """
    head, body, separated = _split_head(raw)
    top = _HEADER_PARSER.parsebytes(head)
    parsed = ParsedMessage(
        subject=header_text(top.get("Subject")),
        message_id=header_text(top.get("Message-ID")),
        sender=header_text(top.get("From")),
    )
    if not separated and raw.strip():
        _defect(parsed, "MissingHeaderBodySeparatorDefect")
        parsed.parts.append(MailPart("1", raw, "", "application/octet-stream", True))
        return parsed
    texts: list[str] = []
    _walk(top, body, "", parsed, texts, 0)
    parsed.text = "\n".join(texts)
    return parsed


def _split_head(data: bytes) -> tuple[bytes, bytes, bool]:
    """(header block, body, whether a blank line separated them)."""
    if data.startswith((b"\r\n", b"\n")):
        return b"", data[2 if data.startswith(b"\r\n") else 1 :], True
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n", 0, crlf if crlf >= 0 else len(data))
    if crlf < 0 and lf < 0:
        return data, b"", False
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return data[: crlf + 2], data[crlf + 4 :], True
    return data[: lf + 1], data[lf + 2 :], True


def _defect(parsed: ParsedMessage, name: str) -> None:
    if name not in parsed.defects:
        parsed.defects.append(name)


def _walk(
    part: email.message.Message,
    body: bytes,
    index: str,
    parsed: ParsedMessage,
    texts: list[str],
    depth: int,
) -> None:
    ctype = part.get_content_type()
    if depth > _MAX_DEPTH:
        _defect(parsed, "NestingTooDeep")
        parsed.parts.append(MailPart(index or "1", body, "", ctype, True))
        return
    if ctype.startswith("multipart/"):
        boundary = part.get_boundary()
        segments = _split_multipart(body, boundary, parsed) if boundary else None
        if boundary is None:
            _defect(parsed, "NoBoundaryInMultipartDefect")
        if segments is None:  # opaque: scanned as one part
            parsed.parts.append(MailPart(index or "1", body, "", ctype, True))
            return
        for n, segment in enumerate(segments, 1):
            head, sub_body, separated = _split_head(segment)
            if not separated:
                head, sub_body = b"", segment  # a part without headers: text/plain body
            sub = _HEADER_PARSER.parsebytes(head)
            _walk(sub, sub_body, f"{index}.{n}" if index else str(n), parsed, texts, depth + 1)
        return
    data = _decode(part, body, parsed)
    if ctype == "message/rfc822":
        head, inner_body, separated = _split_head(data)
        inner = _HEADER_PARSER.parsebytes(head)
        if separated:
            _walk(inner, inner_body, f"{index}.1" if index else "1", parsed, texts, depth + 1)
            return
    filename = _filename(part)
    disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
    attachment = bool(filename) or disposition == "attachment" or not ctype.startswith("text/")
    parsed.parts.append(MailPart(index or "1", data, filename, ctype, attachment))
    if ctype == "text/plain" and not attachment:
        texts.append(_decode_bytes(data, part.get_content_charset()))


def _split_multipart(body: bytes, boundary: str, parsed: ParsedMessage) -> list[bytes] | None:
    """The parts between ``--boundary`` lines (byte searches, no regex over the body)."""
    needle = b"--" + boundary.encode("latin-1", "replace")
    found: list[tuple[int, int, bool]] = []  # (start incl. the preceding line break, end, close)
    pos = 0
    while True:
        i = body.find(needle, pos)
        if i < 0:
            break
        if i == 0 or body[i - 1 : i] == b"\n":
            j = i + len(needle)
            close = body[j : j + 2] == b"--"
            eol = body.find(b"\n", j)
            line_end = eol if eol >= 0 else len(body)
            if not body[j + 2 if close else j : line_end].strip(b" \t\r"):
                start = i
                if start and body[start - 1 : start] == b"\n":
                    start -= 2 if body[start - 2 : start] == b"\r\n" else 1
                end = line_end + 1 if eol >= 0 else len(body)
                found.append((start, end, close))
                pos = end
                if close:
                    break
                continue
        pos = i + 1
    if not found:
        _defect(parsed, "StartBoundaryNotFoundDefect")
        return None
    segments: list[bytes] = []
    for (_, end, close), following in zip(found, [*found[1:], None], strict=True):
        if close:
            break
        segments.append(body[end : following[0] if following is not None else len(body)])
    if not found[-1][2]:
        _defect(parsed, "CloseBoundaryNotFoundDefect")
    return segments


def _decode(part: email.message.Message, body: bytes, parsed: ParsedMessage) -> bytes:
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte == "base64":
        if body.translate(None, _BASE64_TEXT):
            _defect(parsed, "InvalidBase64CharactersDefect")
        try:
            return binascii.a2b_base64(body)  # skips line breaks and junk characters
        except binascii.Error:
            _defect(parsed, "InvalidBase64PaddingDefect")
            compact = re.sub(rb"[^A-Za-z0-9+/=]", b"", body)
            usable = compact.rstrip(b"=")
            usable = usable[: len(usable) - len(usable) % 4] if len(usable) % 4 == 1 else usable
            try:
                return binascii.a2b_base64(usable + b"=" * (-len(usable) % 4))
            except binascii.Error:
                _defect(parsed, "UndecodableBody")
                return body
    if cte == "quoted-printable":
        return binascii.a2b_qp(body)
    return body


__all__ = ["MailPart", "ParsedMessage", "header_text", "parse_message"]
