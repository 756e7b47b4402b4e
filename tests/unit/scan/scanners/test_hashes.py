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


def _count_hashing(monkeypatch):
    """Record every digest the engine computes; fail if the hash scanner hashes on its own."""
    from mamori.scan import digests as digests_module
    from mamori.scan.scanners import hashes as hashes_module

    counted: list[tuple[str, int]] = []
    real = digests_module._hexdigest

    def counting(algorithm, data):
        counted.append((algorithm, len(data)))
        return real(algorithm, data)

    class NoOwnHashing:
        @staticmethod
        def new(algo, *_args, **_kwargs):
            raise AssertionError(f"the scanner hashed the bytes again ({algo})")

    monkeypatch.setattr(digests_module, "_hexdigest", counting)
    monkeypatch.setattr(hashes_module, "hashlib", NoOwnHashing)
    return counted


def test_engine_hashes_a_large_object_once_for_verdict_and_ioc(monkeypatch):
    from mamori.scan.engine import ScanEngine

    data = b"invoice " * 100_000
    known = hashlib.sha256(data).hexdigest()
    eng = ScanEngine.from_options(ScanOptions(scanners=("hashes",), hashes=frozenset({known})))
    counted = _count_hashing(monkeypatch)
    verdict = eng.scan_bytes(data, name="big.bin")
    assert verdict.sha256 == known and not verdict.clean
    assert [r.code for r in verdict.reasons] == ["hash_ioc"]
    assert counted == [("sha256", len(data))]


def test_md5_and_sha256_iocs_share_one_digest_each_with_the_verdict(monkeypatch):
    from mamori.scan.engine import ScanEngine

    data = b"quotation " * 60_000
    md5 = hashlib.md5(data).hexdigest()  # noqa: S324 - an IOC format, not security
    sha256 = hashlib.sha256(data).hexdigest()
    eng = ScanEngine.from_options(
        ScanOptions(scanners=("yara", "hashes"), hashes=frozenset({md5, "0" * 64}))
    )
    counted = _count_hashing(monkeypatch)
    verdict = eng.scan_bytes(data, name="q.bin")
    assert sorted(counted) == [("md5", len(data)), ("sha256", len(data))]
    assert verdict.md5 == md5 and verdict.sha256 == sha256
    assert [r.detail for r in verdict.reasons] == [f"md5:{md5}"]


def test_archive_members_are_hashed_once_for_every_ioc_algorithm(monkeypatch):
    import io
    import zipfile

    from mamori.scan.engine import ScanEngine

    inner = b"dropper payload " * 40_000
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a/readme.txt", b"hello")
        archive.writestr("a/tool.bin", inner)
    md5 = hashlib.md5(inner).hexdigest()  # noqa: S324 - an IOC format, not security
    sha1 = hashlib.sha1(inner).hexdigest()  # noqa: S324 - an IOC format, not security
    eng = ScanEngine.from_options(
        ScanOptions(scanners=("hashes",), hashes=frozenset({md5, sha1}), hash_objects=False)
    )
    counted = _count_hashing(monkeypatch)
    verdict = eng.scan_bytes(out.getvalue(), name="bundle.zip")
    hits = sorted(r.detail for r in verdict.reasons if r.code == "hash_ioc")
    assert hits == [f"md5:{md5}", f"sha1:{sha1}"]
    assert {r.path for r in verdict.reasons if r.code == "hash_ioc"} == {"a/tool.bin"}
    # every object (the zip and its two members) hashed once per IOC algorithm, no more
    assert sorted(counted).count(("md5", len(inner))) == 1
    assert sorted(counted).count(("sha1", len(inner))) == 1
    assert len(counted) == 6


def test_hash_iocs_run_after_the_other_scanners(monkeypatch):
    from mamori.scan.base import Scanner
    from mamori.scan.engine import ScanEngine

    order: list[str] = []

    class Recorder(Scanner):
        NAME = "recorder"

        @classmethod
        def from_options(cls, _options):
            return cls()

        def scan(self, item):
            order.append(self.NAME)
            return []

    hashes = HashScanner.from_hashes(["0" * 64])
    real_scan = hashes.scan

    def recording_scan(item):
        order.append("hashes")
        return real_scan(item)

    monkeypatch.setattr(hashes, "scan", recording_scan)
    eng = ScanEngine([hashes, Recorder()])
    assert eng.scan_bytes(b"x" * 10).clean
    assert order == ["recorder", "hashes"]


def test_digests_computed_while_reading_are_not_computed_again(monkeypatch):
    from mamori.scan.digests import Hasher
    from mamori.scan.engine import ScanEngine

    data = b"parts order " * 50_000
    md5 = hashlib.md5(data).hexdigest()  # noqa: S324 - an IOC format, not security
    eng = ScanEngine.from_options(ScanOptions(scanners=("hashes",), hashes=frozenset({md5})))
    hasher = Hasher(eng.object_digests())
    for start in range(0, len(data), 65_536):
        hasher.update(data[start : start + 65_536])
    counted = _count_hashing(monkeypatch)
    verdict = eng.scan_bytes(data, digests=hasher.digests())
    assert counted == []
    assert verdict.md5 == md5 and verdict.sha256 == hashlib.sha256(data).hexdigest()
    assert [r.code for r in verdict.reasons] == ["hash_ioc"]
