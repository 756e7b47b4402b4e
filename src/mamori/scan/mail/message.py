"""MIME parsing for scanning: every leaf part (nested message/rfc822 too), decoded, with the
structural defects found on the way. Parsing never raises: broken input becomes defects."""

from __future__ import annotations

import email
import email.header
import email.message
import email.policy
import email.utils
from dataclasses import dataclass, field

# Defects meaning part of the message may not have been seen as the recipient's client sees it.
_STRUCTURAL = {
    "NoBoundaryInMultipartDefect",
    "StartBoundaryNotFoundDefect",
    "CloseBoundaryNotFoundDefect",
    "MultipartInvariantViolationDefect",
    "InvalidBase64CharactersDefect",
    "InvalidBase64PaddingDefect",
    "InvalidBase64LengthDefect",
    "MissingHeaderBodySeparatorDefect",
    "MisplacedEnvelopeHeaderDefect",
}


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


def parse_message(raw: bytes) -> ParsedMessage:
    """Split ``raw`` into decoded leaf parts; structural problems become ``defects``."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    parsed = ParsedMessage(
        subject=header_text(msg.get("Subject")),
        message_id=header_text(msg.get("Message-ID")),
        sender=header_text(msg.get("From")),
    )
    texts: list[str] = []
    _walk(msg, "", parsed, texts)
    parsed.text = "\n".join(texts)
    return parsed


def _walk(part: email.message.Message, index: str, parsed: ParsedMessage, texts: list[str]) -> None:
    for defect in part.defects:
        name = type(defect).__name__
        if name in _STRUCTURAL and name not in parsed.defects:
            parsed.defects.append(name)
    payload = part.get_payload()
    if part.is_multipart() and isinstance(payload, list):
        for n, sub in enumerate(payload, 1):
            _walk(sub, f"{index}.{n}" if index else str(n), parsed, texts)
        return
    ctype = part.get_content_type()
    if isinstance(payload, str) and ctype.startswith("multipart/"):
        # a multipart without a usable boundary: the body is scanned as one opaque part
        data = payload.encode("utf-8", "surrogateescape")
    else:
        try:
            decoded = part.get_payload(decode=True)
        except Exception:  # noqa: BLE001 - undecodable transfer encoding
            decoded = None
            parsed.defects.append("UndecodableBody")
        if decoded is None:
            decoded = str(payload).encode("utf-8", "surrogateescape")
        data = decoded if isinstance(decoded, bytes) else bytes(decoded)
    for defect in part.defects:  # decoding may add defects (broken base64)
        name = type(defect).__name__
        if name in _STRUCTURAL and name not in parsed.defects:
            parsed.defects.append(name)
    filename = _filename(part)
    disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
    attachment = bool(filename) or disposition == "attachment" or not ctype.startswith("text/")
    parsed.parts.append(MailPart(index or "1", data, filename, ctype, attachment))
    if ctype == "text/plain" and not attachment:
        texts.append(_decode_bytes(data, part.get_content_charset()))


__all__ = ["MailPart", "ParsedMessage", "header_text", "parse_message"]
