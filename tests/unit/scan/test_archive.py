from __future__ import annotations

import io
import tracemalloc

import py7zr
import pytest

from mamori.scan.archive import ArchiveWalker, zip_declared_count
from mamori.scan.base import ScanItem
from mamori.scan.policy import Limits
from mamori.scan.scanners.eicar import EICAR
from mamori.scan.verdict import Category, Outcome, Reason

from .builders import make_tar, make_zip, many_member_zip, nested_zip, zip_bomb, zipcrypto


def _walk(data: bytes, limits: Limits | None = None, passwords: tuple[str, ...] = ()):
    walker = ArchiveWalker(limits or Limits(), passwords)
    entries = list(walker.walk(ScanItem(data=data, name="root")))
    items = [e for e in entries if isinstance(e, ScanItem)]
    reasons = [e for e in entries if isinstance(e, Reason)]
    return items, reasons, walker


def test_zip_members_are_unpacked_with_paths():
    items, reasons, _ = _walk(make_zip({"a/b.txt": b"hello", "c.bin": b"\x00\x01"}))
    assert reasons == []
    assert [i.display_path for i in items] == ["", "a/b.txt", "c.bin"]
    assert items[1].data == b"hello"
    assert items[1].depth == 1


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_tar_variants(mode):
    items, reasons, _ = _walk(make_tar({"x/e.txt": EICAR}, mode))
    assert reasons == []
    assert items[-1].data == EICAR
    assert items[-1].path[-1] == "x/e.txt"


def test_gzip_single_file():
    import gzip

    items, reasons, _ = _walk(gzip.compress(b"payload"))
    assert reasons == []
    assert items[-1].data == b"payload"


def test_7z_members():
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as archive:
        archive.writestr(b"inside 7z", "doc/readme.txt")
    items, reasons, _ = _walk(buf.getvalue())
    assert reasons == []
    assert items[-1].data == b"inside 7z"


def test_zip_bomb_high_ratio_is_stopped_without_expanding():
    bomb = zip_bomb(200 * 1024 * 1024)
    tracemalloc.start()
    _, reasons, walker = _walk(bomb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [r.code for r in reasons] == ["ratio_limit"]
    assert reasons[0].category is Category.LIMIT
    assert peak < 64 * 1024 * 1024  # never near the 200 MiB the bomb expands to
    assert walker.stats.expanded_bytes == 0


def test_deep_nesting_hits_depth_limit():
    _, reasons, _ = _walk(nested_zip(8), Limits(max_depth=3))
    assert [r.code for r in reasons] == ["depth_limit"]


def test_total_bytes_limit():
    data = make_zip({f"f{i}": bytes([i]) * 4000 for i in range(5)}, compression=0)
    _, reasons, _ = _walk(data, Limits(max_total_bytes=10_000))
    assert "size_limit" in [r.code for r in reasons]


def test_hundred_thousand_members_rejected_from_directory_count():
    data = many_member_zip(100_000)
    assert zip_declared_count(data) == 100_000
    items, reasons, walker = _walk(data)
    assert [r.code for r in reasons] == ["member_limit"]
    assert len(items) == 1  # not one member was opened
    assert walker.stats.members == 0


def test_member_limit_on_tar_stops_streaming():
    data = make_tar({f"m{i}": b"x" for i in range(50)})
    items, reasons, _ = _walk(data, Limits(max_members=10))
    assert [r.code for r in reasons] == ["member_limit"]
    assert len(items) == 11


def test_encrypted_zip_without_password():
    _, reasons, _ = _walk(zipcrypto({"secret.txt": b"data"}, b"pw"))
    assert [(r.category, r.code, r.path) for r in reasons] == [
        (Category.ENCRYPTED, "encrypted", "secret.txt")
    ]


def test_encrypted_zip_with_candidate_password():
    items, reasons, walker = _walk(
        zipcrypto({"secret.txt": b"data"}, b"pw"), passwords=("no", "pw")
    )
    assert reasons == []
    assert items[-1].data == b"data"
    assert walker.stats.passwords_used == ["pw"]


def test_encrypted_7z_with_and_without_password():
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w", password="himitsu", header_encryption=True) as archive:
        archive.writestr(b"classified", "a.txt")
    _, reasons, _ = _walk(buf.getvalue())
    assert [r.code for r in reasons] == ["encrypted"]
    items, reasons, _ = _walk(buf.getvalue(), passwords=("himitsu",))
    assert reasons == []
    assert items[-1].data == b"classified"


@pytest.mark.parametrize(
    "data",
    [
        make_zip({"a.txt": b"x" * 50_000})[:-40],  # end of central directory cut off
        make_zip({"a.txt": bytes(range(256)) * 400})[:5000] + make_zip({"a.txt": b""})[-60:],
        make_tar({"a.txt": b"x" * 10_000}, "w:gz")[:60],
        make_tar({"a.txt": b"y" * 10_000})[:2000],
    ],
    ids=["zip-no-eocd", "zip-cut-data", "tgz-cut", "tar-cut"],
)
def test_truncated_archives_are_malformed_not_clean(data, engine):
    verdict = engine.scan_bytes(data, name="broken")
    assert verdict.outcome is not Outcome.CLEAN
    assert any(r.category is Category.MALFORMED for r in verdict.reasons)


def test_unsupported_archive_is_not_clean(engine):
    verdict = engine.scan_bytes(b"Rar!\x1a\x07\x01\x00" + b"\0" * 100, name="a.rar")
    assert verdict.outcome is Outcome.QUARANTINED
    assert [r.code for r in verdict.reasons] == ["unsupported_archive"]


def test_sjis_member_names_are_decoded():
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("x")
        zf.writestr(info, b"x")
    raw = buf.getvalue().replace(b"x\x00", b"x\x00", 1)
    name_sjis = "請求書.txt".encode("cp932")
    data = make_zip({"placeholder": b"1"})
    assert raw  # built
    patched = data.replace(b"placeholder", name_sjis.ljust(11, b"_")[:11])
    items, _, _ = _walk(patched)
    assert items[-1].name.startswith("請求書")


def _7z(members: dict[str, bytes], **kwargs) -> bytes:
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w", **kwargs) as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return buf.getvalue()


def test_7z_bomb_is_stopped():
    bomb = _7z({"zeros.bin": b"\0" * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    _, reasons, walker = _walk(bomb)
    assert [r.code for r in reasons] == ["ratio_limit"]
    assert walker.stats.expanded_bytes == 0


def test_7z_truncated_and_member_limit():
    data = _7z({f"m{i}.txt": bytes([i]) * 1000 for i in range(20)})
    _, reasons, _ = _walk(data[: len(data) // 2])
    assert [r.category for r in reasons] == [Category.MALFORMED]
    _, reasons, _ = _walk(data, Limits(max_members=5))
    assert [r.code for r in reasons] == ["member_limit"]


def test_member_limit_counts_across_nested_archives():
    inner = make_zip({f"i{i}": b"x" for i in range(4)})
    outer = make_zip({"a.zip": inner, "b.zip": inner})
    items, reasons, walker = _walk(outer, Limits(max_members=7))
    assert [(r.code, r.path) for r in reasons] == [("member_limit", "b.zip")]
    assert walker.stats.members == 6  # b.zip's 4 members were refused from its directory
    assert len(items) == 7


def test_winzip_aes_zip():
    from mamori.scan.testing import zip_aes

    for strength in (1, 3):
        data = zip_aes({"doc/見積.txt": b"quote " * 500}, "Pa55#word", strength=strength)
        _, reasons, _ = _walk(data)
        assert [(r.code, r.detail) for r in reasons] == [("encrypted", "zip WinZip AES")]
        _, reasons, _ = _walk(data, passwords=("wrong",))
        assert "no candidate password fits" in reasons[0].detail
        items, reasons, walker = _walk(data, passwords=("wrong", "Pa55#word"))
        assert reasons == []
        assert items[-1].data == b"quote " * 500
        assert walker.stats.passwords_used == ["Pa55#word"]


def test_winzip_aes_tampered_is_not_opened():
    from mamori.scan.testing import zip_aes

    data = bytearray(zip_aes({"a.txt": b"payload " * 100}, "pw"))
    data[60] ^= 0xFF  # inside the encrypted data: the authentication code no longer matches
    _, reasons, _ = _walk(bytes(data), passwords=("pw",))
    assert [r.category for r in reasons] == [Category.ENCRYPTED]


def test_winzip_aes_bomb_is_bounded():
    from mamori.scan.testing import zip_aes

    data = zip_aes({"zeros": b"\0" * (8 * 1024 * 1024)}, "pw")
    _, reasons, walker = _walk(data, passwords=("pw",))
    assert [r.code for r in reasons] == ["ratio_limit"]
    assert walker.stats.expanded_bytes == 0


def test_tnef_winmail_dat_attachments(engine):
    from mamori.scan.testing import make_tnef

    data = make_tnef({"report.pdf": b"%PDF-1.4 ok", "setup.exe": b"MZ\x90\x00" + b"\0" * 60})
    items, reasons, _ = _walk(data)
    assert reasons == []
    assert [i.name for i in items[1:]] == ["report.pdf", "setup.exe"]
    verdict = engine.scan_bytes(data, name="winmail.dat", declared_mime="application/ms-tnef")
    assert [(r.code, r.path) for r in verdict.reasons] == [("blocked_extension", "setup.exe")]
    _, reasons, _ = _walk(data[:-30])
    assert [r.code for r in reasons] == ["corrupt_archive"]
