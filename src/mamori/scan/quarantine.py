"""The quarantine store: content kept encrypted at rest (AES-256-GCM), one item per id.

Each item is two files in the store directory: ``<id>.bin`` (12-byte nonce + ciphertext, the
id bound as associated data) and ``<id>.json`` (metadata: verdict, tenant, origin, status).
Lists and counts come from ``index.sqlite3`` (:mod:`mamori.scan.quarantine_index`), kept in
step with every metadata write and rebuilt from the ``.json`` files when missing or corrupt,
so a page of the list reads one page, not every item.
Operators retrieve content by id, and release or delete it; every such action is handed to
the audit callback as a :class:`~mamori.hooks.AuditRecorded` (the wiring layer stores it).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mamori.config import Settings
from mamori.errors import ConfigError, MamoriError, NotFoundError, ValidationError
from mamori.hooks import AuditRecorded
from mamori.scan.quarantine_index import QuarantineIndex
from mamori.scan.verdict import Verdict

AuditCallback = Callable[[AuditRecorded], None]
KEY_FILE = "quarantine.key"
STATUSES = ("quarantined", "held", "released", "deleted")


class QuarantineIntegrityError(MamoriError):
    """Stored content that does not decrypt (wrong key or tampered file)."""


@dataclass(frozen=True, slots=True)
class QuarantineItem:
    """Metadata of one quarantined object (the content is fetched separately)."""

    id: str
    created: datetime
    status: str
    kind: str  # "file", "mail", "http"
    name: str = ""
    tenant: str | None = None
    size: int = 0
    sha256: str = ""
    verdict: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    history: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created.isoformat(),
            "status": self.status,
            "kind": self.kind,
            "name": self.name,
            "tenant": self.tenant,
            "size": self.size,
            "sha256": self.sha256,
            "verdict": self.verdict,
            "meta": self.meta,
            "history": list(self.history),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuarantineItem:
        return cls(
            id=str(data["id"]),
            created=datetime.fromisoformat(str(data["created"])),
            status=str(data["status"]),
            kind=str(data.get("kind", "file")),
            name=str(data.get("name", "")),
            tenant=data.get("tenant"),
            size=int(data.get("size", 0)),
            sha256=str(data.get("sha256", "")),
            verdict=dict(data.get("verdict") or {}),
            meta=dict(data.get("meta") or {}),
            history=tuple(data.get("history") or ()),
        )


def load_or_create_key(path: Path) -> bytes:
    """A 32-byte key stored at ``path`` (mode 0600), created on first use.

    Raises:
        ConfigError: the file exists but does not hold a 32-byte key, or cannot be written.
    """
    if path.exists():
        key = path.read_bytes()
        if len(key) != 32:
            raise ConfigError(f"quarantine key {path} is not 32 bytes")
        return key
    key = AESGCM.generate_key(bit_length=256)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
    except FileExistsError:
        return load_or_create_key(path)
    except OSError as exc:
        raise ConfigError(f"cannot write quarantine key {path}: {exc.strerror or exc}") from exc
    return key


def key_from_secret(secret: str) -> bytes:
    """Derive the quarantine key from the installation secret (HKDF-SHA256)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"mamori quarantine v1"
    ).derive(secret.encode("utf-8"))


class QuarantineStore:
    """Encrypted quarantine in one directory."""

    def __init__(self, root: Path, key: bytes, *, audit: AuditCallback | None = None) -> None:
        if len(key) != 32:
            raise ConfigError("quarantine key must be 32 bytes")
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._aead = AESGCM(key)
        self.audit = audit
        self.index = QuarantineIndex(self.root, self._read_all_meta)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, audit: AuditCallback | None = None
    ) -> QuarantineStore:
        """``<data_dir>/quarantine`` with the key derived from the installation secret."""
        data_dir = settings.ensure_data_dir()
        return cls(
            data_dir / "quarantine", key_from_secret(settings.ensure_secret_key()), audit=audit
        )

    # -- writing ----------------------------------------------------------------------------

    def put(
        self,
        content: bytes,
        *,
        kind: str = "file",
        name: str = "",
        tenant: str | None = None,
        verdict: Verdict | None = None,
        meta: dict[str, Any] | None = None,
        status: str = "quarantined",
        actor: str | None = "mamori",
    ) -> QuarantineItem:
        """Store ``content`` encrypted and return its metadata (with a new id)."""
        if status not in STATUSES:
            raise ValidationError(f"unknown quarantine status {status!r}")
        item_id = datetime.now(UTC).strftime("%Y%m%d") + "-" + secrets.token_hex(8)
        nonce = secrets.token_bytes(12)
        blob = nonce + self._aead.encrypt(nonce, content, item_id.encode())
        item = QuarantineItem(
            id=item_id,
            created=datetime.now(UTC),
            status=status,
            kind=kind,
            name=name,
            tenant=tenant,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            verdict=verdict.to_dict() if verdict else {},
            meta=dict(meta or {}),
            history=({"at": datetime.now(UTC).isoformat(), "action": status, "actor": actor},),
        )
        self._atomic_write(self.root / f"{item_id}.bin", blob)
        self._write_meta(item)
        self._audit(f"quarantine.{status}", actor, item, {})
        return item

    # -- reading ----------------------------------------------------------------------------

    def get(self, item_id: str) -> QuarantineItem:
        """Metadata of ``item_id``.

        Raises:
            NotFoundError: no such item.
        """
        path = self._meta_path(item_id)
        try:
            return QuarantineItem.from_dict(json.loads(path.read_text("utf-8")))
        except FileNotFoundError:
            raise NotFoundError(f"quarantine item {item_id!r} does not exist") from None

    def content(self, item_id: str, *, actor: str | None = None) -> bytes:
        """Decrypt and return the content (audited as a retrieval when ``actor`` is given).

        Raises:
            NotFoundError: no such item, or its content was deleted.
            QuarantineIntegrityError: the content does not decrypt.
        """
        item = self.get(item_id)
        path = self.root / f"{item.id}.bin"
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"content of quarantine item {item_id!r} was deleted") from None
        try:
            data = self._aead.decrypt(blob[:12], blob[12:], item.id.encode())
        except InvalidTag:
            raise QuarantineIntegrityError(
                f"quarantine item {item_id!r} does not decrypt (wrong key or tampered)"
            ) from None
        if actor is not None:
            self._audit("quarantine.retrieve", actor, item, {})
        return data

    def list(
        self,
        *,
        tenant: str | None = None,
        status: str | None = None,
        tenants: Collection[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[QuarantineItem]:
        """Items, newest first, optionally filtered (``tenants``: any of these) and paged.

        Reads the index, so a page costs one query whatever the number of items.

        Raises:
            ValidationError: a negative ``limit`` or ``offset``.
        """
        if (limit is not None and limit < 0) or offset < 0:
            raise ValidationError("limit and offset must not be negative")
        docs = self.index.page(
            tenants=tenants, tenant=tenant, status=status, limit=limit, offset=offset
        )
        return [QuarantineItem.from_dict(doc) for doc in docs]

    def counts(
        self, *, tenant: str | None = None, tenants: Collection[str] | None = None
    ) -> dict[str, int]:
        """Number of items per status (every status, zeros included)."""
        found = self.index.counts(tenants=tenants, tenant=tenant)
        return {status: found.get(status, 0) for status in STATUSES}

    def rebuild_index(self) -> int:
        """Rebuild the list index from the metadata files; returns the number of items."""
        return self.index.rebuild()

    def __iter__(self) -> Iterator[QuarantineItem]:
        return iter(self.list())

    # -- operator actions -------------------------------------------------------------------

    def set_status(
        self, item_id: str, status: str, *, actor: str | None, note: str = "", **detail: Any
    ) -> QuarantineItem:
        """Change the status, recording who and why in the item's history and the audit."""
        if status not in STATUSES:
            raise ValidationError(f"unknown quarantine status {status!r}")
        item = self.get(item_id)
        if item.status == "deleted":
            raise ValidationError(f"quarantine item {item_id!r} was deleted")
        entry = {"at": datetime.now(UTC).isoformat(), "action": status, "actor": actor}
        if note:
            entry["note"] = note
        updated = QuarantineItem.from_dict(
            {**item.to_dict(), "status": status, "history": [*item.history, entry]}
        )
        self._write_meta(updated)
        self._audit(f"quarantine.{status}", actor, updated, {"note": note, **detail})
        return updated

    def release(
        self, item_id: str, *, actor: str | None, note: str = ""
    ) -> tuple[QuarantineItem, bytes]:
        """Mark released and return the content for delivery (the caller delivers it).

        Raises:
            ValidationError: already released or deleted.
        """
        item = self.get(item_id)
        if item.status in ("released", "deleted"):
            raise ValidationError(f"quarantine item {item_id!r} is already {item.status}")
        data = self.content(item_id)
        return self.set_status(item_id, "released", actor=actor, note=note), data

    def delete(self, item_id: str, *, actor: str | None, note: str = "") -> QuarantineItem:
        """Destroy the content; the metadata stays as a record of what was deleted."""
        item = self.set_status(item_id, "deleted", actor=actor, note=note)
        (self.root / f"{item_id}.bin").unlink(missing_ok=True)
        return item

    # -- internals --------------------------------------------------------------------------

    def _meta_path(self, item_id: str) -> Path:
        if not item_id or "/" in item_id or "\\" in item_id or item_id.startswith("."):
            raise NotFoundError(f"quarantine item {item_id!r} does not exist")
        return self.root / f"{item_id}.json"

    def _write_meta(self, item: QuarantineItem) -> None:
        doc = item.to_dict()
        text = json.dumps(doc, ensure_ascii=False, indent=1, default=str)
        self._atomic_write(self._meta_path(item.id), text.encode("utf-8"))
        self.index.upsert(doc)

    def _read_all_meta(self) -> Iterator[dict[str, Any]]:
        """Every readable metadata file (the index rebuild; unreadable ones are skipped)."""
        for path in self.root.glob("*.json"):
            try:
                doc = json.loads(path.read_text("utf-8"))
                QuarantineItem.from_dict(doc)  # only well-formed items are listed
            except (OSError, ValueError, KeyError, TypeError):
                continue
            yield doc

    def _atomic_write(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _audit(
        self, action: str, actor: str | None, item: QuarantineItem, extra: dict[str, Any]
    ) -> None:
        if self.audit is None:
            return
        detail = {"id": item.id, "name": item.name, "kind": item.kind, "sha256": item.sha256}
        detail.update({k: v for k, v in extra.items() if v not in (None, "")})
        self.audit(AuditRecorded(action=action, actor=actor, tenant=item.tenant, detail=detail))


__all__ = [
    "AuditCallback",
    "QuarantineIntegrityError",
    "QuarantineItem",
    "QuarantineStore",
    "key_from_secret",
    "load_or_create_key",
]
