from __future__ import annotations

import hashlib

import pytest

from mamori.errors import ConfigError
from mamori.scan.base import ScanItem, ScanOptions
from mamori.scan.scanners.hashes import HashScanner, load_hash_file


def test_md5_sha1_sha256_iocs(tmp_path):
    bad = b"known bad sample"
    path = tmp_path / "iocs.txt"
    path.write_text(
        "# threat intel\n"
        f"{hashlib.sha256(bad).hexdigest()} Emotet-dropper\n"
        f"{hashlib.md5(b'other', usedforsecurity=False).hexdigest().upper()}\n\n",
        encoding="utf-8",
    )
    scanner = HashScanner.from_options(
        ScanOptions(
            hash_files=(path,),
            hashes=frozenset({hashlib.sha1(bad, usedforsecurity=False).hexdigest()}),
        )
    )
    assert scanner is not None
    found = scanner.scan(ScanItem(bad))
    assert sorted(r.detail.split(":")[0] for r in found) == ["sha1", "sha256"]
    assert any("Emotet-dropper" in r.detail for r in found)
    assert [r.code for r in scanner.scan(ScanItem(b"other"))] == ["hash_ioc"]
    assert scanner.scan(ScanItem(b"clean")) == []


def test_unconfigured_is_none():
    assert HashScanner.from_options(ScanOptions()) is None


def test_bad_hash_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("# x\nnot-a-hash\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_hash_file(path)
    assert f"{path}:2" in str(info.value)
    with pytest.raises(ConfigError):
        load_hash_file(tmp_path / "missing.txt")
