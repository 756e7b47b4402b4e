"""Test doubles for the scan area (also used by the benchmarks): a recording SMTP next hop,
message builders and a self-signed certificate. No network beyond loopback."""

from __future__ import annotations

import binascii
import datetime as dt
import email.policy
import hashlib
import io
import ipaddress
import struct
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class _RecordingHandler:
    messages: list[Received] = field(default_factory=list)
    reply: str = "250 OK"
    refuse: set[str] = field(default_factory=set)  # recipients answered with 550
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self,
        server: SMTP,  # noqa: ARG002
        session: Session,  # noqa: ARG002
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],  # noqa: ARG002
    ) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self,
        server: SMTP,  # noqa: ARG002
        session: Session,  # noqa: ARG002
        envelope: Envelope,
    ) -> str:
        if not self.reply.startswith("250"):
            return self.reply
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else str(content).encode()
        with self.arrived:
            self.messages.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos), data))
            self.arrived.notify_all()
        return "250 OK"


class RecordingSmtpServer:
    """An SMTP server on 127.0.0.1 that keeps what it receives (the gateway's next hop).

    Set ``reply`` to e.g. ``"451 4.3.0 busy"`` to make it refuse messages.
    """

    def __init__(self, port: int = 0) -> None:
        self.handler = _RecordingHandler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port or _free_port())
        self.port = self.controller.port

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    @property
    def reply(self) -> str:
        return self.handler.reply

    @reply.setter
    def reply(self, value: str) -> None:
        self.handler.reply = value

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.handler.arrived:
            self.handler.arrived.wait_for(lambda: len(self.handler.messages) >= count, timeout)
        return list(self.handler.messages)

    def start(self) -> RecordingSmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> RecordingSmtpServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_message(
    *,
    sender: str = "sender@example.co.jp",
    to: Sequence[str] = ("user@example.jp",),
    subject: str = "見積書の送付",
    body: str = "お世話になっております。資料をお送りします。",
    attachments: Sequence[tuple[str, bytes, str]] = (),
) -> bytes:
    """A MIME message with optional (filename, data, mime type) attachments."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{abs(hash((sender, subject, body)))}@test.example>"
    msg.set_content(body)
    for filename, data, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(
            data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename
        )
    return msg.as_bytes(policy=email.policy.SMTP)  # CRLF line endings, as on the wire


def self_signed_cert(directory: Path, name: str = "localhost") -> tuple[Path, Path]:
    """Write a self-signed certificate and key for ``name`` and 127.0.0.1; returns paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def zipcrypto(members: dict[str, bytes], password: bytes) -> bytes:
    """A ZipCrypto-encrypted, stored zip (zipfile cannot write encrypted archives): the
    kind Japanese "PPAP" mail carries."""

    def crc_table() -> list[int]:
        table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
            table.append(c)
        return table

    table = crc_table()

    class Keys:
        def __init__(self) -> None:
            self.k = [0x12345678, 0x23456789, 0x34567890]
            for b in password:
                self.update(b)

        def update(self, b: int) -> None:
            k = self.k
            k[0] = (k[0] >> 8) ^ table[(k[0] ^ b) & 0xFF]
            k[1] = (k[1] + (k[0] & 0xFF)) & 0xFFFFFFFF
            k[1] = (k[1] * 134775813 + 1) & 0xFFFFFFFF
            k[2] = (k[2] >> 8) ^ table[(k[2] ^ (k[1] >> 24)) & 0xFF]

        def encrypt(self, data: bytes) -> bytes:
            out = bytearray()
            for b in data:
                t = (self.k[2] | 2) & 0xFFFF
                c = b ^ (((t * (t ^ 1)) >> 8) & 0xFF)
                self.update(b)
                out.append(c)
            return bytes(out)

    body = bytearray()
    central = bytearray()
    for name, data in members.items():
        crc = binascii.crc32(data) & 0xFFFFFFFF
        header = bytes(range(11)) + bytes([crc >> 24])
        enc = Keys().encrypt(header + data)
        fname = name.encode()
        offset = len(body)
        local = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 1, 0, 0, 0, crc, len(enc), len(data), len(fname), 0
        )
        body += local + fname + enc
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                1,
                0,
                0,
                0,
                crc,
                len(enc),
                len(data),
                len(fname),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + fname
        )
    eocd = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(body), 0
    )
    return bytes(body + central + eocd)


# -- Office documents with a real VBA project (MS-CFB + MS-OVBA, written from the specs) ----

_ENDOFCHAIN = 0xFFFFFFFE
_FREESECT = 0xFFFFFFFF
_FATSECT = 0xFFFFFFFD
_NOSTREAM = 0xFFFFFFFF


def ovba_compress(data: bytes) -> bytes:
    """MS-OVBA 2.4.1 compressed container using literal tokens only (valid, not small)."""
    out = bytearray(b"\x01")
    step = 3640  # 3640 literals + 455 flag bytes fit in one 4096-byte chunk
    for start in range(0, max(len(data), 1), step):
        chunk = data[start : start + step]
        body = bytearray()
        for i in range(0, len(chunk), 8):
            body.append(0)
            body += chunk[i : i + 8]
        size = len(body) + 2
        out += struct.pack("<H", ((size - 3) & 0x0FFF) | 0x3000 | 0x8000) + body
    return bytes(out)


def compound_file(tree: dict[str, object]) -> bytes:
    """A minimal MS-CFB v3 file; ``tree`` maps names to bytes (streams) or dicts (storages).
    Every stream goes to the mini stream, so streams must be under 4096 bytes."""
    entries: list[dict[str, object]] = [{"name": "Root Entry", "type": 5, "children": []}]

    def add(node: dict[str, object], parent: int) -> None:
        for name, value in node.items():
            idx = len(entries)
            if isinstance(value, dict):
                entries.append({"name": name, "type": 1, "children": []})
                add(value, idx)
            else:
                if not isinstance(value, bytes) or len(value) >= 4096:
                    raise ValueError(f"stream {name!r} must be bytes under 4096 long")
                entries.append({"name": name, "type": 2, "data": value})
            children = entries[parent]["children"]
            if isinstance(children, list):
                children.append(idx)

    add(tree, 0)
    mini = bytearray()
    minifat: list[int] = []
    for entry in entries:
        data = entry.get("data")
        if not isinstance(data, bytes):
            continue
        first = len(minifat)
        count = max(1, -(-len(data) // 64))
        minifat.extend(first + i + 1 for i in range(count - 1))
        minifat.append(_ENDOFCHAIN)
        entry["start"] = first
        mini += data.ljust(count * 64, b"\0")

    def sectors(blob: bytes) -> int:
        return max(1, -(-len(blob) // 512))

    # siblings as a right-leaning chain, sorted the way CFB compares names
    for entry in entries:
        kids = entry.get("children")
        if isinstance(kids, list) and kids:
            kids.sort(key=lambda i: (len(str(entries[i]["name"])), str(entries[i]["name"]).upper()))
            entry["child"] = kids[0]
            for a, b in zip(kids, kids[1:], strict=False):
                entries[a]["right"] = b

    minifat_blob = b"".join(struct.pack("<I", v) for v in minifat)
    n_dir = sectors(b"\0" * 128 * len(entries))
    n_minifat = sectors(minifat_blob)
    n_mini = sectors(bytes(mini))
    first_dir, first_minifat = 1, 1 + n_dir
    first_mini = first_minifat + n_minifat
    total = first_mini + n_mini
    if total > 128:
        raise ValueError("compound file too large for one FAT sector")
    fat = [_FATSECT]
    for first, count in ((first_dir, n_dir), (first_minifat, n_minifat), (first_mini, n_mini)):
        fat.extend(first + i + 1 for i in range(count - 1))
        fat.append(_ENDOFCHAIN)
    fat += [_FREESECT] * (128 - len(fat))
    entries[0]["start"] = first_mini
    entries[0]["size"] = len(mini)

    dir_blob = bytearray()
    for entry in entries:
        name = str(entry["name"]).encode("utf-16-le")
        data = entry.get("data")
        size = len(data) if isinstance(data, bytes) else int(entry.get("size", 0))  # type: ignore[call-overload]
        start = int(entry.get("start", 0))  # type: ignore[call-overload]
        dir_blob += name.ljust(64, b"\0") + struct.pack(
            "<HBBIII16sIQQIQ",
            len(name) + 2,
            int(entry["type"]),  # type: ignore[call-overload]
            1,
            _NOSTREAM,
            int(entry.get("right", _NOSTREAM)),  # type: ignore[call-overload]
            int(entry.get("child", _NOSTREAM)),  # type: ignore[call-overload]
            b"\0" * 16,
            0,
            0,
            0,
            start if entry["type"] != 1 else 0,
            size,
        )
    while len(dir_blob) % 512:
        dir_blob += b"\0" * 64 + struct.pack(
            "<HBBIII16sIQQIQ", 0, 0, 0, _NOSTREAM, _NOSTREAM, _NOSTREAM, b"\0" * 16, 0, 0, 0, 0, 0
        )
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack(
            "<HHHHH6sIIIIIIIII",
            0x3E,
            3,
            0xFFFE,
            9,
            6,
            b"\0" * 6,
            0,
            1,
            first_dir,
            0,
            4096,
            first_minifat,
            n_minifat,
            _ENDOFCHAIN,
            0,
        )
        + struct.pack("<I", 0)
        + struct.pack("<I", _FREESECT) * 108
    )
    body = b"".join(struct.pack("<I", v) for v in fat)
    return (
        header
        + body
        + bytes(dir_blob)
        + minifat_blob.ljust(n_minifat * 512, b"\xff")
        + bytes(mini).ljust(n_mini * 512, b"\0")
    )


def _rec(rid: int, payload: bytes) -> bytes:
    return struct.pack("<HI", rid, len(payload)) + payload


def vba_project(source: str, module: str = "Module1") -> bytes:
    """``vbaProject.bin`` with one standard module holding ``source``."""
    name = module.encode("latin-1")
    uname = module.encode("utf-16-le")
    project = b"VBAProject"
    dir_stream = (
        _rec(0x01, struct.pack("<I", 1))
        + _rec(0x02, struct.pack("<I", 0x409))
        + _rec(0x14, struct.pack("<I", 0x409))
        + _rec(0x03, struct.pack("<H", 1252))
        + _rec(0x04, project)
        + _rec(0x05, b"")
        + struct.pack("<HI", 0x40, 0)
        + _rec(0x06, b"")
        + struct.pack("<HI", 0x3D, 0)
        + _rec(0x07, struct.pack("<I", 0))
        + _rec(0x08, struct.pack("<I", 0))
        + struct.pack("<HIIH", 0x09, 4, 1, 0)
        + _rec(0x0C, b"")
        + struct.pack("<HI", 0x3C, 0)
        + _rec(0x0F, struct.pack("<H", 1))
        + _rec(0x13, struct.pack("<H", 0xFFFF))
        + _rec(0x19, name)
        + _rec(0x47, uname)
        + _rec(0x1A, name)
        + struct.pack("<HI", 0x32, len(uname))
        + uname
        + _rec(0x1C, b"")
        + struct.pack("<HI", 0x48, 0)
        + _rec(0x31, struct.pack("<I", 0))
        + _rec(0x1E, struct.pack("<I", 0))
        + _rec(0x2C, struct.pack("<H", 0xFFFF))
        + struct.pack("<HI", 0x21, 0)
        + struct.pack("<HI", 0x2B, 0)
        + struct.pack("<HI", 0x10, 0)
    )
    code = f'Attribute VB_Name = "{module}"\r\n{source}'.encode("cp1252")
    project_text = (
        f'ID="{{00000000-0000-0000-0000-000000000000}}"\r\nModule={module}\r\nName="VBAProject"\r\n'
    ).encode()
    return compound_file(
        {
            "VBA": {
                "dir": ovba_compress(dir_stream),
                "_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x00\x00",
                module: ovba_compress(code),
            },
            "PROJECT": project_text,
        }
    )


MACRO_SOURCE = 'Sub AutoOpen()\r\n    Shell "cmd.exe /c calc.exe"\r\nEnd Sub\r\n'


def make_docm(source: str = MACRO_SOURCE) -> bytes:
    """A macro-enabled Word document (.docm) whose VBA project holds ``source``."""
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="bin" ContentType="application/'
        'vnd.ms-office.vbaProject"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.ms-word.document.macroEnabled.main+xml"/></Types>'
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
        'openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>見積書'
        "</w:t></w:r></w:p></w:body></w:document>"
    )
    return _zip(
        {
            "[Content_Types].xml": content_types.encode(),
            "word/document.xml": document.encode(),
            "word/vbaProject.bin": vba_project(source),
        }
    )


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@dataclass
class IcapResponse:
    status: int
    headers: dict[str, str]
    http_head: bytes
    body: bytes


def icap_request(
    port: int,
    method: str,
    service: str,
    *,
    req_hdr: bytes = b"",
    res_hdr: bytes = b"",
    body: bytes | None = None,
    preview: int | None = None,
    allow_204: bool = True,
    host: str = "127.0.0.1",
    sock: Any = None,
) -> IcapResponse:
    """A minimal ICAP client (what Squid sends), for tests and benchmarks."""
    import socket

    sections: list[tuple[str, bytes]] = []
    if req_hdr:
        sections.append(("req-hdr", req_hdr))
    if res_hdr:
        sections.append(("res-hdr", res_hdr))
    offsets, payload = [], b""
    for name, data in sections:
        offsets.append(f"{name}={len(payload)}")
        payload += data
    body_name = "res-body" if method == "RESPMOD" else "req-body"
    offsets.append(f"{body_name if body is not None else 'null-body'}={len(payload)}")
    head = f"{method} icap://{host}:{port}/{service} ICAP/1.0\r\nHost: {host}:{port}\r\n"
    if method != "OPTIONS":
        head += f"Encapsulated: {', '.join(offsets)}\r\n"
    if allow_204:
        head += "Allow: 204\r\n"
    if preview is not None and body is not None:
        head += f"Preview: {preview}\r\n"
    own = sock is None
    conn = sock or socket.create_connection((host, port), timeout=30)
    try:
        conn.sendall(head.encode() + b"\r\n" + (payload if method != "OPTIONS" else b""))
        reader = conn.makefile("rb")
        if body is not None:
            if preview is not None:
                first = body[:preview]
                last = len(body) <= preview
                if first:
                    conn.sendall(f"{len(first):x}\r\n".encode() + first + b"\r\n")
                conn.sendall(b"0; ieof\r\n\r\n" if last else b"0\r\n\r\n")
                if not last:
                    status_line = reader.readline()
                    if b" 100 " not in status_line:
                        return _read_icap(reader, status_line)
                    reader.readline()  # blank line after 100 Continue
                    rest = body[preview:]
                    conn.sendall(f"{len(rest):x}\r\n".encode() + rest + b"\r\n0\r\n\r\n")
            else:
                if body:
                    conn.sendall(f"{len(body):x}\r\n".encode() + body + b"\r\n")
                conn.sendall(b"0\r\n\r\n")
        return _read_icap(reader, reader.readline())
    finally:
        if own:
            conn.close()


def _read_icap(reader: Any, status_line: bytes) -> IcapResponse:
    parts = status_line.decode("latin-1").split(" ", 2)
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        line = reader.readline().decode("latin-1").rstrip("\r\n")
        if not line:
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    encapsulated: dict[str, int] = {}
    for entry in headers.get("encapsulated", "").split(","):
        key, sep, value = entry.partition("=")
        if sep:
            encapsulated[key.strip()] = int(value)
    http_head = b""
    body = b""
    body_key = next((k for k in encapsulated if k.endswith("body")), "null-body")
    if encapsulated:
        http_head = reader.read(encapsulated[body_key]) if encapsulated[body_key] else b""
    if body_key in ("res-body", "req-body"):
        chunks = bytearray()
        while True:
            size = int(reader.readline().split(b";")[0].strip(), 16)
            if size == 0:
                reader.readline()
                break
            chunks += reader.read(size)
            reader.readline()
        body = bytes(chunks)
    return IcapResponse(status, headers, http_head, body)


def zip_aes(members: dict[str, bytes], password: str, *, strength: int = 3) -> bytes:
    """A WinZip AES (AE-2) encrypted, deflated zip — what 7-Zip writes with ZipCrypto off."""
    import hmac as std_hmac
    import os
    import zlib

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key_len = 8 + 8 * strength
    body = bytearray()
    central = bytearray()
    for name, data in members.items():
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        deflated = comp.compress(data) + comp.flush()
        salt = os.urandom(key_len // 2)
        derived = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, 1000, 2 * key_len + 2)
        counters = b"".join(
            i.to_bytes(16, "little") for i in range(1, (len(deflated) + 15) // 16 + 1)
        )
        stream = Cipher(algorithms.AES(derived[:key_len]), modes.ECB()).encryptor().update(counters)  # noqa: S305
        enc = bytes(a ^ b for a, b in zip(deflated, stream, strict=False))
        mac = std_hmac.new(derived[key_len : 2 * key_len], enc, "sha1").digest()[:10]
        payload = salt + derived[-2:] + enc + mac
        extra = struct.pack("<HHH2sBH", 0x9901, 7, 2, b"AE", strength, 8)
        fname = name.encode()
        offset = len(body)
        body += (
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                51,
                1,
                99,
                0,
                0,
                0,
                len(payload),
                len(data),
                len(fname),
                len(extra),
            )
            + fname
            + extra
            + payload
        )
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                51,
                51,
                1,
                99,
                0,
                0,
                0,
                len(payload),
                len(data),
                len(fname),
                len(extra),
                0,
                0,
                0,
                0,
                offset,
            )
            + fname
            + extra
        )
    eocd = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(body), 0
    )
    return bytes(body + central + eocd)


def make_tnef(attachments: dict[str, bytes]) -> bytes:
    """A minimal TNEF stream (winmail.dat) carrying ``attachments``."""

    def attr(level: int, attr_id: int, value: bytes) -> bytes:
        checksum = sum(value) & 0xFFFF
        return (
            bytes([level])
            + struct.pack("<II", attr_id, len(value))
            + value
            + struct.pack("<H", checksum)
        )

    out = bytearray(b"\x78\x9f\x3e\x22" + struct.pack("<H", 0x0001))
    out += attr(1, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    for name, data in attachments.items():
        out += attr(2, 0x00069002, b"\0" * 14)  # attAttachRendData
        out += attr(2, 0x00018010, name.encode("cp1252") + b"\0")  # attAttachTitle
        out += attr(2, 0x0006800F, data)  # attAttachData
    return bytes(out)


__all__ = [
    "MACRO_SOURCE",
    "Received",
    "RecordingSmtpServer",
    "IcapResponse",
    "compound_file",
    "icap_request",
    "make_docm",
    "make_message",
    "make_tnef",
    "ovba_compress",
    "self_signed_cert",
    "vba_project",
    "zip_aes",
    "zipcrypto",
]
