"""Hex digests (MD5, SHA-1, SHA-256) of one object, each computed once and shared.

The engine needs the SHA-256 of every object for its verdict, and the hash-IOC scanner needs
whichever algorithms its list holds, for every object and archive member. :class:`Digests`
holds them for one object: computed on the hashing threads while the other scanners run
(:func:`digest_async`; hashlib releases the GIL, so the digest takes another core instead of
adding to the scan), or fed while the bytes arrive (:class:`Hasher`, "hash while reading": one
pass over the stream updates every algorithm), and then read by everyone who needs them.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

ALGORITHMS = ("md5", "sha1", "sha256")
_HASHING = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mamori-hash")
_PARALLEL_BYTES = 256 * 1024  # below this a thread costs more than it saves


def _check(algorithms: Iterable[str]) -> tuple[str, ...]:
    out = tuple(sorted(set(algorithms)))
    unknown = [a for a in out if a not in ALGORITHMS]
    if unknown:
        raise ValueError(f"unknown digest algorithm(s): {', '.join(unknown)}")
    return out


def _hexdigest(algorithm: str, data: bytes | memoryview) -> str:
    return hashlib.new(algorithm, data, usedforsecurity=False).hexdigest()


class Digests:
    """The digests of one object, by algorithm name; :meth:`get` waits for a pending one."""

    def __init__(self, values: Mapping[str, str | Future[str]]) -> None:
        self._values = dict(values)

    @property
    def algorithms(self) -> frozenset[str]:
        return frozenset(self._values)

    def get(self, algorithm: str) -> str:
        """The hex digest.

        Raises:
            KeyError: ``algorithm`` was not computed for this object.
        """
        value = self._values[algorithm]
        if isinstance(value, Future):
            value = value.result()
            self._values[algorithm] = value
        return value

    def merged(self, other: Digests) -> Digests:
        """These digests plus those of ``other`` that are not here (same object)."""
        values = dict(other._values)
        values.update(self._values)
        return Digests(values)

    def as_dict(self) -> dict[str, str]:
        return {name: self.get(name) for name in sorted(self._values)}


def _started(algorithm: str, data: bytes | memoryview, started: threading.Event) -> str:
    started.set()
    return _hexdigest(algorithm, data)  # one call: the GIL is released for the whole digest


def hexdigest_future(algorithm: str, data: bytes | memoryview) -> Future[str]:
    """One digest of ``data`` on a hashing thread; returns once that thread runs (small inputs
    are hashed at once, in a finished future).

    Raises:
        ValueError: an algorithm that is not MD5, SHA-1 or SHA-256.
    """
    (name,) = _check((algorithm,))
    if len(data) < _PARALLEL_BYTES:
        done: Future[str] = Future()
        done.set_result(_hexdigest(name, data))
        return done
    started = threading.Event()
    future = _HASHING.submit(_started, name, data, started)
    started.wait(1.0)  # never block for long: a busy pool just means less overlap
    return future


def digest_async(data: bytes | memoryview, algorithms: Iterable[str]) -> Digests:
    """Start the digests of ``data``; each algorithm runs on a hashing thread.

    Returns once the threads run, so the digests really overlap with what the caller does
    next (a scanner holding the GIL at its start cannot delay them). Small inputs are hashed
    at once. Each algorithm reads the bytes once, in one call that releases the GIL.

    Raises:
        ValueError: an algorithm that is not MD5, SHA-1 or SHA-256.
    """
    names = _check(algorithms)
    if len(data) < _PARALLEL_BYTES:
        return Digests({name: _hexdigest(name, data) for name in names})
    return Digests({name: hexdigest_future(name, data) for name in names})


class Hasher:
    """Every wanted digest of a stream, updated in one pass while its pieces arrive."""

    def __init__(self, algorithms: Iterable[str]) -> None:
        self._hashes = {
            name: hashlib.new(name, usedforsecurity=False) for name in _check(algorithms)
        }
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        for state in self._hashes.values():
            state.update(data)
        self.size += len(data)

    def digests(self) -> Digests:
        return Digests({name: state.hexdigest() for name, state in self._hashes.items()})


__all__ = ["ALGORITHMS", "Digests", "Hasher", "digest_async", "hexdigest_future"]
