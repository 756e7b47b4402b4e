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


def test_sha256_of_the_object_is_taken_from_the_engine_when_given():
    known = hashlib.sha256(b"the real bytes").hexdigest()
    scanner = HashScanner.from_hashes([known])
    calls = []

    def digest() -> str:
        calls.append(1)
        return known

    hits = scanner.scan(ScanItem(data=b"the real bytes", sha256=digest))
    assert [r.code for r in hits] == ["hash_ioc"] and calls == [1]
    assert scanner.scan(ScanItem(data=b"the real bytes"))[0].detail == f"sha256:{known}"


def test_engine_hashes_a_large_object_once_for_verdict_and_ioc(monkeypatch):
    from mamori.scan import engine as engine_module
    from mamori.scan.engine import ScanEngine
    from mamori.scan.scanners import hashes as hashes_module

    data = b"invoice " * 100_000
    known = hashlib.sha256(data).hexdigest()
    eng = ScanEngine.from_options(ScanOptions(scanners=("hashes",), hashes=frozenset({known})))
    counted = []
    real = engine_module._started_sha256

    def counting(payload, started):
        counted.append(len(payload))
        return real(payload, started)

    monkeypatch.setattr(engine_module, "_started_sha256", counting)

    class NoSecondSha256:
        @staticmethod
        def new(algo, data, usedforsecurity=True):
            assert algo != "sha256", "the object was hashed a second time"
            return hashlib.new(algo, data, usedforsecurity=usedforsecurity)

    monkeypatch.setattr(hashes_module, "hashlib", NoSecondSha256)
    verdict = eng.scan_bytes(data, name="big.bin")
    assert verdict.sha256 == known and not verdict.clean
    assert [r.code for r in verdict.reasons] == ["hash_ioc"] and counted == [len(data)]
