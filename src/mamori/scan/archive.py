"""The archive walker: unpack zip, tar, gzip, bzip2, xz and 7z, nested, within limits.

Every read is bounded: a member is read in chunks and abandoned as soon as it passes the
per-file, total-bytes or compression-ratio limit, so a decompression bomb is never expanded
into memory. The member count of a zip is checked from its end-of-central-directory record
before the directory is parsed. Encrypted members are opened only with candidate passwords
(PPAP); otherwise they, like every limit hit, become a :class:`~mamori.scan.verdict.Reason`
of their own — never a silent "clean".
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Protocol

import py7zr
import py7zr.io
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from mamori.scan.base import ScanItem
from mamori.scan.filetype import detect
from mamori.scan.policy import Limits
from mamori.scan.verdict import Category, Reason

ARCHIVE_TYPES = frozenset({"zip", "tar", "gzip", "bzip2", "xz", "7z", "tnef"})
UNSUPPORTED_ARCHIVES = frozenset({"rar", "cab", "iso"})
_CHUNK = 64 * 1024
# Everything a decoder may raise on hostile input (zipfile alone raises IndexError, KeyError,
# struct.error, OverflowError... on crafted headers): any of them means "corrupt", never clean.
_DECOMPRESS_ERRORS = (Exception,)


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


_Opener = Callable[[], _Readable]


class _LimitHit(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


@dataclass
class WalkStats:
    """What one walk did: members seen, bytes expanded, members opened with a password."""

    members: int = 0
    expanded_bytes: int = 0
    decrypted: list[str] = field(default_factory=list)
    passwords_used: list[str] = field(default_factory=list)


class ArchiveWalker:
    """Walks one object and everything nested in it, depth first.

    :meth:`walk` yields the object itself first, then each unpacked member (as a
    :class:`ScanItem` with its ``path`` and ``depth``), interleaved with :class:`Reason`
    objects for encrypted members, limits hit and corrupt archives.
    """

    def __init__(self, limits: Limits, passwords: Sequence[str] = ()) -> None:
        self.limits = limits
        self.passwords = tuple(dict.fromkeys(p for p in passwords if p))
        self.stats = WalkStats()

    def walk(self, root: ScanItem) -> Iterator[ScanItem | Reason]:
        root = _with_type(root)
        yield root
        yield from self._children(root)

    # -- dispatch ---------------------------------------------------------------------------

    def _children(self, item: ScanItem) -> Iterator[ScanItem | Reason]:
        kind = item.detected_type
        if kind in UNSUPPORTED_ARCHIVES:
            yield _reason(Category.LIMIT, "unsupported_archive", kind, item)
            return
        handler = self._handlers().get(kind)
        if handler is None:
            return
        if item.depth >= self.limits.max_depth:
            yield _reason(Category.LIMIT, "depth_limit", str(self.limits.max_depth), item)
            return
        for entry in handler(item):
            if isinstance(entry, Reason):
                yield entry
                continue
            child = _with_type(entry)
            yield child
            yield from self._children(child)

    def _handlers(self) -> dict[str, Callable[[ScanItem], Iterator[ScanItem | Reason]]]:
        return {
            "zip": self._zip,
            "tar": self._tar,
            "gzip": self._stream,
            "bzip2": self._stream,
            "xz": self._stream,
            "7z": self._sevenzip,
            "tnef": self._tnef,
        }

    # -- budgets ----------------------------------------------------------------------------

    def _take_member(self) -> bool:
        if self.stats.members >= self.limits.max_members:
            return False
        self.stats.members += 1
        return True

    def _caps(self, compressed: int | None) -> list[tuple[int, str, str]]:
        lim = self.limits
        remaining = max(lim.max_total_bytes - self.stats.expanded_bytes, 0)
        caps = [
            (lim.max_file_bytes, "size_limit", f"member over {lim.max_file_bytes} bytes"),
            (remaining, "size_limit", f"total expanded over {lim.max_total_bytes} bytes"),
        ]
        if compressed is not None:
            ratio_cap = max(int(max(compressed, 1) * lim.max_ratio), lim.ratio_min_bytes)
            caps.append((ratio_cap, "ratio_limit", f"ratio over {lim.max_ratio:g}:1"))
        return caps

    def _read_bounded(self, opener: _Opener, compressed: int | None) -> bytes:
        """Read everything ``opener()`` gives, raising _LimitHit past the tightest cap."""
        cap, code, detail = min(self._caps(compressed), key=lambda c: c[0])
        buf = bytearray()
        fh = opener()
        try:
            while True:
                chunk = fh.read(min(_CHUNK, cap + 1 - len(buf)))
                if not chunk:
                    break
                buf += chunk
                if len(buf) > cap:
                    raise _LimitHit(code, detail)
        finally:
            fh.close()
        self.stats.expanded_bytes += len(buf)
        return bytes(buf)

    def _member(
        self,
        parent: ScanItem,
        name: str,
        opener: _Opener,
        compressed: int | None,
    ) -> ScanItem | Reason:
        path = (*parent.path, name)
        try:
            data = self._read_bounded(opener, compressed)
        except _LimitHit as hit:
            return Reason(Category.LIMIT, hit.code, hit.detail, "archive", "/".join(path[1:]))
        except _DECOMPRESS_ERRORS as exc:
            return Reason(
                Category.MALFORMED,
                "corrupt_archive",
                _short(exc),
                "archive",
                "/".join(path[1:]),
            )
        return ScanItem(data=data, name=name, path=path, depth=parent.depth + 1)

    # -- formats ----------------------------------------------------------------------------

    def _zip(self, item: ScanItem) -> Iterator[ScanItem | Reason]:
        declared = zip_declared_count(item.data)
        if declared is not None and declared > self.limits.max_members - self.stats.members:
            yield _reason(Category.LIMIT, "member_limit", str(self.limits.max_members), item)
            return
        try:
            zf = zipfile.ZipFile(io.BytesIO(item.data))
        except _DECOMPRESS_ERRORS as exc:
            yield _reason(Category.MALFORMED, "corrupt_archive", _short(exc), item)
            return
        with zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                if not self._take_member():
                    yield _reason(
                        Category.LIMIT, "member_limit", str(self.limits.max_members), item
                    )
                    return
                name = _zip_name(info)
                if info.flag_bits & 0x1:
                    yield from self._zip_encrypted(zf, info, name, item)
                    continue
                yield self._member(item, name, _zip_opener(zf, info, None), info.compress_size)

    def _zip_encrypted(
        self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, item: ScanItem
    ) -> Iterator[ScanItem | Reason]:
        path = "/".join((*item.path[1:], name))
        aes = info.compress_type == 99
        for password in self.passwords:
            if aes:
                entry = self._zip_aes_member(item, info, name, password)
            else:
                entry = self._member(
                    item, name, _zip_opener(zf, info, password.encode()), info.compress_size
                )
            if isinstance(entry, Reason) and entry.category is Category.MALFORMED:
                continue  # wrong password (check value, CRC or authentication code)
            self.stats.decrypted.append(path)
            self.stats.passwords_used.append(password)
            yield entry
            return
        method = "WinZip AES" if aes else "ZipCrypto"
        detail = f"zip {method}" + (" (no candidate password fits)" if self.passwords else "")
        yield Reason(Category.ENCRYPTED, "encrypted", detail, "archive", path)

    def _zip_aes_member(
        self, item: ScanItem, info: zipfile.ZipInfo, name: str, password: str
    ) -> ScanItem | Reason:
        path = "/".join((*item.path[1:], name))
        try:
            method, plain = _winzip_aes_decrypt(item.data, info, password)
        except ValueError as exc:
            return Reason(Category.MALFORMED, "corrupt_archive", str(exc), "archive", path)
        if method == zipfile.ZIP_STORED:
            return self._member(item, name, lambda: io.BytesIO(plain), len(plain))
        if method == zipfile.ZIP_DEFLATED:
            return self._member(item, name, lambda: _Inflater(plain), len(plain))
        return Reason(
            Category.ENCRYPTED, "encrypted", f"zip AES with method {method}", "archive", path
        )

    def _tar(self, item: ScanItem) -> Iterator[ScanItem | Reason]:
        try:
            tf = tarfile.open(fileobj=io.BytesIO(item.data), mode="r:")  # noqa: SIM115
        except _DECOMPRESS_ERRORS as exc:
            yield _reason(Category.MALFORMED, "corrupt_archive", _short(exc), item)
            return
        with tf:
            while True:
                try:
                    member = tf.next()
                except _DECOMPRESS_ERRORS as exc:
                    yield _reason(Category.MALFORMED, "corrupt_archive", _short(exc), item)
                    return
                if member is None:
                    return
                tf.members = []  # type: ignore[attr-defined]  # do not keep every header: a 100,000-member tar stays small
                if not member.isfile():
                    continue
                if not self._take_member():
                    yield _reason(
                        Category.LIMIT, "member_limit", str(self.limits.max_members), item
                    )
                    return
                yield self._member(item, member.name, _tar_opener(tf, member), None)

    def _stream(self, item: ScanItem) -> Iterator[ScanItem | Reason]:
        opener: _Opener
        raw = io.BytesIO(item.data)
        if item.detected_type == "gzip":
            opener = lambda: gzip.GzipFile(fileobj=raw, mode="rb")  # noqa: E731, SIM115
        elif item.detected_type == "bzip2":
            opener = lambda: bz2.BZ2File(raw, mode="rb")  # noqa: E731, SIM115
        else:
            opener = lambda: lzma.LZMAFile(raw, mode="rb")  # noqa: E731, SIM115
        if not self._take_member():
            yield _reason(Category.LIMIT, "member_limit", str(self.limits.max_members), item)
            return
        yield self._member(item, _decompressed_name(item.name), opener, len(item.data))

    def _sevenzip(self, item: ScanItem) -> Iterator[ScanItem | Reason]:
        attempts: list[str | None] = [None, *self.passwords]
        last: Reason | None = None
        for password in attempts:
            result = self._sevenzip_try(item, password)
            if isinstance(result, Reason):
                if result.category is Category.LIMIT:
                    yield result
                    return
                last = result
                continue
            if password is not None:
                self.stats.decrypted.append(item.display_path or item.name)
                self.stats.passwords_used.append(password)
            yield from result
            return
        if last is not None:
            yield last

    def _sevenzip_try(
        self, item: ScanItem, password: str | None
    ) -> list[ScanItem | Reason] | Reason:
        path = item.display_path
        encrypted = Reason(
            Category.ENCRYPTED,
            "encrypted",
            "7z" + (" (no candidate password fits)" if self.passwords else ""),
            "archive",
            path,
        )
        try:
            archive = py7zr.SevenZipFile(io.BytesIO(item.data), mode="r", password=password)
        except py7zr.PasswordRequired:
            return encrypted
        except Exception as exc:  # py7zr raises many kinds on garbage input  # noqa: BLE001
            if password is not None:
                return encrypted
            return Reason(Category.MALFORMED, "corrupt_archive", _short(exc), "archive", path)
        with archive:
            try:
                files = [f for f in archive.list() if not f.is_directory]
                locked = archive.needs_password()
            except Exception as exc:  # noqa: BLE001 - a corrupt header
                return Reason(Category.MALFORMED, "corrupt_archive", _short(exc), "archive", path)
            if password is None and locked:
                return encrypted
            if len(files) > self.limits.max_members - self.stats.members:
                return Reason(
                    Category.LIMIT, "member_limit", str(self.limits.max_members), "archive", path
                )
            factory = _BoundedFactory(self._caps(len(item.data)))
            try:
                archive.extractall(factory=factory)  # noqa: S202 - in memory, bounded
            except _LimitHit as hit:
                return Reason(Category.LIMIT, hit.code, hit.detail, "archive", path)
            except Exception as exc:  # noqa: BLE001 - wrong password or corrupt data
                if password is not None or locked:
                    return encrypted
                return Reason(Category.MALFORMED, "corrupt_archive", _short(exc), "archive", path)
        out: list[ScanItem | Reason] = []
        self.stats.members += len(factory.files)
        for name, buf in factory.files.items():
            self.stats.expanded_bytes += len(buf)
            out.append(
                ScanItem(data=bytes(buf), name=name, path=(*item.path, name), depth=item.depth + 1)
            )
        return out

    def _tnef(self, item: ScanItem) -> Iterator[ScanItem | Reason]:
        """Attachments inside Outlook's ``winmail.dat`` (TNEF attAttachTitle/attAttachData)."""
        data = item.data
        pos = 6  # signature + legacy key
        title = ""
        count = 0
        while pos + 9 <= len(data):
            _level = data[pos]
            attr_id, length = struct.unpack_from("<II", data, pos + 1)
            start = pos + 9
            end = start + length
            if end + 2 > len(data):
                yield _reason(Category.MALFORMED, "corrupt_archive", "truncated TNEF", item)
                return
            value = data[start:end]
            if attr_id == 0x00069002:  # attAttachRendData: a new attachment begins
                title = ""
            elif attr_id == 0x00018010:  # attAttachTitle
                title = value.rstrip(b"\0").decode("cp1252", "replace")
            elif attr_id == 0x0006800F:  # attAttachData
                if not self._take_member():
                    yield _reason(
                        Category.LIMIT, "member_limit", str(self.limits.max_members), item
                    )
                    return
                count += 1
                name = title or f"attachment{count}"
                yield self._member(item, name, _bytes_opener(value), len(value))
            pos = end + 2  # checksum


class _BoundedIO(py7zr.io.Py7zIO):
    def __init__(self, factory: _BoundedFactory) -> None:
        self.factory = factory
        self.buf = bytearray()

    def write(self, s: bytes | bytearray) -> int:
        self.buf += s
        self.factory.total += len(s)
        file_cap, code, detail = self.factory.caps[0]
        if len(self.buf) > file_cap:
            raise _LimitHit(code, detail)
        for cap, code, detail in self.factory.caps[1:]:
            if self.factory.total > cap:
                raise _LimitHit(code, detail)
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return bytes(self.buf if size is None else self.buf[:size])

    def seek(self, offset: int, whence: int = 0) -> int:  # noqa: ARG002
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return len(self.buf)


class _BoundedFactory(py7zr.io.WriterFactory):
    def __init__(self, caps: list[tuple[int, str, str]]) -> None:
        self.caps = caps
        self.total = 0
        self.files: dict[str, bytearray] = {}

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        io_ = _BoundedIO(self)
        self.files[filename] = io_.buf
        return io_


class _Inflater:
    """A raw-deflate stream read with bounded output (``read(n)`` never returns more)."""

    def __init__(self, data: bytes) -> None:
        self._d = zlib.decompressobj(-15)
        self._pending = data

    def read(self, size: int = -1, /) -> bytes:
        limit = size if size and size > 0 else _CHUNK
        out = self._d.decompress(self._pending, limit)
        self._pending = self._d.unconsumed_tail
        if not out and not self._pending and not self._d.eof:
            out = self._d.flush()
        return out

    def close(self) -> None:
        return None


def _winzip_aes_decrypt(data: bytes, info: zipfile.ZipInfo, password: str) -> tuple[int, bytes]:
    """Decrypt one WinZip AES (AE-1/AE-2) member; returns (real method, compressed bytes).

    Raises:
        ValueError: wrong password, failed authentication or a malformed entry.
    """
    extra = info.extra
    pos, strength, method = 0, 0, 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        if tag == 0x9901 and size >= 7:
            _version, _vendor, strength, method = struct.unpack_from("<H2sBH", extra, pos + 4)
        pos += 4 + size
    if strength not in (1, 2, 3):
        raise ValueError("no WinZip AES extra field")
    offset = info.header_offset
    if data[offset : offset + 4] != b"PK\x03\x04":
        raise ValueError("bad local header")
    name_len, extra_len = struct.unpack_from("<HH", data, offset + 26)
    start = offset + 30 + name_len + extra_len
    raw = data[start : start + info.compress_size]
    key_len = 8 + 8 * strength
    salt_len = key_len // 2
    if len(raw) < salt_len + 2 + 10:
        raise ValueError("truncated AES entry")
    salt, check, body, mac = (
        raw[:salt_len],
        raw[salt_len : salt_len + 2],
        raw[salt_len + 2 : -10],
        raw[-10:],
    )
    derived = PBKDF2HMAC(
        algorithm=hashes.SHA1(),  # noqa: S303 - fixed by the WinZip AES format
        length=2 * key_len + 2,
        salt=salt,
        iterations=1000,
    ).derive(password.encode("utf-8"))
    if derived[-2:] != check:
        raise ValueError("wrong password")
    signer = hmac.HMAC(derived[key_len : 2 * key_len], hashes.SHA1())  # noqa: S303 - format
    signer.update(body)
    if signer.finalize()[:10] != mac:
        raise ValueError("authentication code mismatch")
    blocks = (len(body) + 15) // 16
    counters = b"".join(i.to_bytes(16, "little") for i in range(1, blocks + 1))
    encryptor = Cipher(algorithms.AES(derived[:key_len]), modes.ECB()).encryptor()  # noqa: S305 - CTR keystream
    stream = encryptor.update(counters)[: len(body)]
    plain = (int.from_bytes(body, "little") ^ int.from_bytes(stream, "little")).to_bytes(
        len(body), "little"
    )
    return method, plain


def zip_declared_count(data: bytes) -> int | None:
    """The entry count in a zip's end-of-central-directory record (ZIP64 aware), or None."""
    tail = data[-(65536 + 22) :]
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or len(tail) - pos < 22:
        return None
    (total,) = struct.unpack_from("<H", tail, pos + 10)
    if total != 0xFFFF:
        return int(total)
    loc = tail.rfind(b"PK\x06\x07", 0, pos)
    if loc < 0 or len(tail) - loc < 20:
        return None
    (offset,) = struct.unpack_from("<Q", tail, loc + 8)
    if offset + 56 > len(data) or data[offset : offset + 4] != b"PK\x06\x06":
        return None
    (total64,) = struct.unpack_from("<Q", data, offset + 32)
    return int(total64)


def _zip_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437", "replace")
    for encoding in ("utf-8", "cp932"):
        with contextlib.suppress(UnicodeDecodeError):
            return raw.decode(encoding)
    return info.filename


def _zip_opener(zf: zipfile.ZipFile, info: zipfile.ZipInfo, pwd: bytes | None) -> _Opener:
    return lambda: zf.open(info, pwd=pwd)


def _bytes_opener(value: bytes) -> _Opener:
    return lambda: io.BytesIO(value)


def _tar_opener(tf: tarfile.TarFile, member: tarfile.TarInfo) -> _Opener:
    def opener() -> IO[bytes]:
        fh = tf.extractfile(member)
        if fh is None:
            raise tarfile.ReadError(f"cannot read {member.name}")
        return fh

    return opener


def _decompressed_name(name: str) -> str:
    base = name.rsplit("/", 1)[-1] or "data"
    low = base.lower()
    for suffix, repl in ((".tgz", ".tar"), (".tbz2", ".tar"), (".tbz", ".tar"), (".txz", ".tar")):
        if low.endswith(suffix):
            return base[: -len(suffix)] + repl
    for suffix in (".gz", ".gzip", ".bz2", ".xz"):
        if low.endswith(suffix):
            return base[: -len(suffix)]
    return base + ".decompressed"


def _with_type(item: ScanItem) -> ScanItem:
    if item.detected_type:
        return item
    return replace(  # keeps the engine's digest getters
        item, path=item.path or ((item.name or "<data>"),), detected_type=detect(item.data)
    )


def _reason(category: Category, code: str, detail: str, item: ScanItem) -> Reason:
    return Reason(category, code, detail, "archive", item.display_path)


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


def walk(root: ScanItem, limits: Limits, passwords: Sequence[str] = ()) -> list[ScanItem | Reason]:
    """Convenience: the whole walk as a list (items and reasons)."""
    return list(ArchiveWalker(limits, passwords).walk(root))


__all__ = ["ARCHIVE_TYPES", "ArchiveWalker", "WalkStats", "walk", "zip_declared_count"]
