"""Garbage behind archive magic bytes never crashes the walker and is never read as clean."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mamori.scan.archive import ArchiveWalker
from mamori.scan.base import ScanItem
from mamori.scan.policy import Limits
from mamori.scan.testing import make_tnef, zip_aes, zipcrypto
from mamori.scan.verdict import Reason

from .builders import make_tar, make_zip

_SEEDS = [
    make_zip({"a.txt": b"hello world " * 50, "b/c.bin": bytes(range(256))}),
    make_tar({"a.txt": b"x" * 3000}, "w:gz"),
    make_tar({"a.txt": b"y" * 3000}, "w:xz"),
    make_tar({"a.txt": b"z" * 3000}, "w:bz2"),
    zipcrypto({"s.txt": b"secret" * 20}, b"pw"),
    zip_aes({"s.txt": b"secret" * 20}, "pw"),
    make_tnef({"a.pdf": b"%PDF-1.4" * 20, "b.txt": b"hello"}),
    b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(200),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(_SEEDS),
    cut=st.integers(min_value=0, max_value=4000),
    flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(1, 255)), max_size=8),
)
def test_mutated_archives_never_raise(seed, cut, flips):
    data = bytearray(seed[: max(cut, 8)])
    for pos, value in flips:
        if pos < len(data) and pos > 6:  # keep the magic so the format handler runs
            data[pos] ^= value
    walker = ArchiveWalker(Limits(max_total_bytes=5_000_000), ("pw",))
    entries = list(walker.walk(ScanItem(bytes(data), name="x")))
    assert entries  # the object itself at least
    assert all(isinstance(e, ScanItem | Reason) for e in entries)
