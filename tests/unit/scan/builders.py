"""Builders for synthetic test inputs (archives, bombs, Office files) — generated in code."""

from __future__ import annotations

import io
import tarfile
import zipfile

from mamori.scan.scanners.eicar import EICAR
from mamori.scan.testing import MACRO_SOURCE, make_docm, vba_project, zipcrypto

__all__ = [
    "MACRO_SOURCE",
    "make_docm",
    "make_tar",
    "make_zip",
    "many_member_zip",
    "nested_zip",
    "vba_project",
    "zip_bomb",
    "zipcrypto",
]


def make_zip(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def make_tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bomb(expanded: int = 200 * 1024 * 1024) -> bytes:
    """One member of ``expanded`` zero bytes, streamed so the test never holds it."""
    buf = io.BytesIO()
    block = b"\0" * (1024 * 1024)
    with (
        zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open("zeros.bin", "w", force_zip64=True) as fh,
    ):
        for _ in range(expanded // len(block)):
            fh.write(block)
    return buf.getvalue()


def nested_zip(depth: int, payload: bytes = EICAR) -> bytes:
    data = payload
    name = "payload.txt"
    for level in range(depth):
        data = make_zip({name: data})
        name = f"level{level}.zip"
    return data


def many_member_zip(count: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for i in range(count):
            zf.writestr(zipfile.ZipInfo(f"f{i}"), b"")
    return buf.getvalue()
