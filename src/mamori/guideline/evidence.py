"""Evidence files: validation (size limit, type check by content), SHA-256, tenant-scoped storage.

:func:`validate_evidence` is the service function the web upload and the CLI both call: it
reads the stream once (never more than ``max_bytes + 1`` bytes), decides the media type from
the *content* and checks that it is allowed and agrees with the file name's extension, and
returns an :class:`~mamori.guideline.assessment.EvidenceRef` with the SHA-256 of the bytes.
:class:`EvidenceStore` keeps the bytes content-addressed under one directory per tenant; a
tenant can only ever open its own evidence.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from mamori.errors import NotFoundError, ValidationError
from mamori.guideline.assessment import EvidenceRef

DEFAULT_MAX_BYTES = 20 * 1024 * 1024

# media type -> file name extensions that may carry it
ALLOWED_TYPES: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "text/plain": (".txt", ".log", ".md"),
    "text/csv": (".csv",),
    "application/json": (".json",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
}

_OOXML = {
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def sniff_media_type(head: bytes, data_for_zip: bytes | None = None) -> str:
    """The media type the content shows (``application/octet-stream`` when unknown)."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"MZ"):
        return "application/x-msdownload"
    if head.startswith(b"\x7fELF"):
        return "application/x-elf"
    if head.startswith(b"PK\x03\x04") and data_for_zip is not None:
        try:
            with zipfile.ZipFile(io.BytesIO(data_for_zip)) as zf:
                names = zf.namelist()
        except zipfile.BadZipFile:
            return "application/octet-stream"
        if "[Content_Types].xml" in names:
            for prefix, media in _OOXML.items():
                if any(n.startswith(prefix) for n in names):
                    if any(n.lower().endswith("vbaproject.bin") for n in names):
                        return "application/vnd.ms-office.macroenabled"
                    return media
        return "application/zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "application/x-ole-storage"  # legacy Office, may carry macros
    if b"\x00" in head:
        return "application/octet-stream"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a cut multibyte char at the end is fine
            return "application/octet-stream"
        text = head[: exc.start].decode("utf-8")
    stripped = text.lstrip("\ufeff \t\r\n")
    low = stripped[:200].lower()
    if low.startswith(("<!doctype html", "<html", "<script", "<svg", "<?xml")):
        return "text/html"
    if low.startswith("#!"):
        return "text/x-script"
    if stripped[:1] in ("{", "["):
        return "application/json"
    return "text/plain"


@dataclass(frozen=True, slots=True)
class ValidatedEvidence:
    """A validated upload: its reference and its bytes (to be stored)."""

    ref: EvidenceRef
    data: bytes


def validate_evidence(
    stream: BinaryIO | bytes,
    filename: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allowed: Iterable[str] | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> ValidatedEvidence:
    """Check an evidence upload and compute its SHA-256.

    Raises:
        ValidationError: empty, larger than ``max_bytes``, a type that is not allowed, or a
            file name whose extension does not match the content.
    """
    name = Path(filename.replace("\\", "/")).name.strip()
    if not name:
        raise ValidationError("evidence file needs a name")
    data = stream if isinstance(stream, bytes) else stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValidationError(f"evidence {name!r} is larger than the limit of {_human(max_bytes)}")
    if not data:
        raise ValidationError(f"evidence {name!r} is empty")
    media = sniff_media_type(data[:4096], data if data[:4] == b"PK\x03\x04" else None)
    if media == "text/plain" and name.lower().endswith(".csv"):
        media = "text/csv"
    if media == "application/json" and not name.lower().endswith(".json"):
        media = "text/plain"
    allowed_types = set(allowed) if allowed is not None else set(ALLOWED_TYPES)
    if media not in allowed_types:
        raise ValidationError(
            f"evidence {name!r} has type {media}, which is not allowed "
            f"(allowed: PDF, PNG, JPEG, text/CSV/JSON, xlsx/docx/pptx)"
        )
    ext = Path(name).suffix.lower()
    if ext not in ALLOWED_TYPES.get(media, ()):
        raise ValidationError(
            f"evidence {name!r}: the extension {ext or '(none)'} does not match "
            f"its content ({media})"
        )
    ref = EvidenceRef(
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        media_type=media,
        filename=name,
        added_at=now or datetime.now(UTC),
        added_by=actor,
    )
    return ValidatedEvidence(ref=ref, data=data)


def _human(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MiB"
    if n >= 1024:
        return f"{n / 1024:g} KiB"
    return f"{n} bytes"


class EvidenceStore:
    """Content-addressed evidence files, one directory per tenant (``root/<tenant>/<sha>``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _dir(self, tenant: str) -> Path:
        if not _TENANT_RE.match(tenant):
            raise ValidationError(f"invalid tenant name {tenant!r}")
        return self.root / tenant

    def put(self, tenant: str, evidence: ValidatedEvidence) -> EvidenceRef:
        """Store the bytes (idempotent: the same content is stored once)."""
        directory = self._dir(tenant)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / evidence.ref.sha256
        if not target.exists():
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload.")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(evidence.data)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return evidence.ref

    def open(self, tenant: str, sha256: str) -> bytes:
        """The bytes of one piece of the tenant's evidence.

        Raises:
            NotFoundError: unknown hash, or evidence of another tenant.
        """
        if not _SHA_RE.match(sha256):
            raise NotFoundError("evidence not found")
        path = self._dir(tenant) / sha256
        if not path.is_file():
            raise NotFoundError("evidence not found")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValidationError(f"stored evidence {sha256[:12]} is corrupted (hash mismatch)")
        return data


__all__ = [
    "ALLOWED_TYPES",
    "DEFAULT_MAX_BYTES",
    "EvidenceStore",
    "ValidatedEvidence",
    "sniff_media_type",
    "validate_evidence",
]
