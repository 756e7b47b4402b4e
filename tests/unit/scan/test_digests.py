from __future__ import annotations

import hashlib

import pytest

from mamori.scan.digests import Digests, Hasher, digest_async, hexdigest_future


@pytest.mark.parametrize("size", [0, 100, 300_000, 2_000_000])
def test_digests_match_hashlib_for_small_and_large_objects(size):
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    digests = digest_async(data, ["md5", "sha256", "sha1"])
    assert digests.algorithms == {"md5", "sha1", "sha256"}
    for name in ("md5", "sha1", "sha256"):
        assert digests.get(name) == hashlib.new(name, data).hexdigest()
    assert hexdigest_future("sha256", data).result() == hashlib.sha256(data).hexdigest()


def test_hasher_fed_in_pieces_equals_one_digest():
    data = b"invoice " * 100_000
    hasher = Hasher(["sha256", "md5"])
    for start in range(0, len(data), 7_777):
        hasher.update(memoryview(data)[start : start + 7_777])
    assert hasher.size == len(data)
    assert hasher.digests().as_dict() == {
        "md5": hashlib.md5(data).hexdigest(),  # noqa: S324 - comparing digests only
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_unknown_or_missing_algorithms():
    with pytest.raises(ValueError, match="crc32"):
        digest_async(b"x", ["sha256", "crc32"])
    with pytest.raises(ValueError, match="sha512"):
        Hasher(["sha512"])
    with pytest.raises(KeyError):
        Digests({"md5": "0" * 32}).get("sha256")
    merged = Digests({"md5": "a"}).merged(Digests({"md5": "b", "sha1": "c"}))
    assert merged.as_dict() == {"md5": "a", "sha1": "c"}
