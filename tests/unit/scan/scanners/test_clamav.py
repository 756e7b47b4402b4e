"""clamd protocol against an in-process fake (the real clamd runs in the integration tests)."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from mamori.errors import ConfigError, ScanError
from mamori.scan.base import ScanItem, ScannerUnavailable, ScanOptions
from mamori.scan.scanners.clamav import ClamavScanner, ClamdAddress


class FakeClamd:
    def __init__(self, path: str, reply: bytes | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(5)
        self.reply = reply
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                command = b""
                while not command.endswith(b"\0"):
                    command += conn.recv(1)
                if command == b"zPING\0":
                    conn.sendall(b"PONG\0")
                    continue
                data = bytearray()
                while True:
                    head = b""
                    while len(head) < 4:
                        head += conn.recv(4 - len(head))
                    (size,) = struct.unpack("!L", head)
                    if size == 0:
                        break
                    while size:
                        part = conn.recv(size)
                        data += part
                        size -= len(part)
                self.received.append(bytes(data))
                if self.reply is not None:
                    conn.sendall(self.reply)
                elif b"BAD" in data:
                    conn.sendall(b"stream: Test.Sig FOUND\0")
                else:
                    conn.sendall(b"stream: OK\0")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def sock_path(tmp_path):
    return str(tmp_path / "clamd.sock")


def test_instream_ok_and_found(sock_path):
    fake = FakeClamd(sock_path)
    try:
        scanner = ClamavScanner.from_options(ScanOptions(clamd=f"unix:{sock_path}"))
        assert scanner is not None
        assert scanner.client.ping()
        big = b"x" * 600_000 + b"BAD"
        (reason,) = scanner.scan(ScanItem(big))
        assert reason.detail == "ClamAV:Test.Sig"
        assert fake.received[-1] == big  # sent in several chunks, reassembled whole
        assert scanner.scan(ScanItem(b"fine")) == []
    finally:
        fake.close()


def test_error_reply_is_scan_error(sock_path):
    fake = FakeClamd(sock_path, reply=b"INSTREAM size limit exceeded. ERROR\0")
    try:
        scanner = ClamavScanner.from_options(ScanOptions(clamd=sock_path))
        with pytest.raises(ScanError, match="size limit") as info:
            scanner.scan(ScanItem(b"data"))
        assert not isinstance(info.value, ScannerUnavailable)
    finally:
        fake.close()


def test_down_is_unavailable(tmp_path):
    scanner = ClamavScanner.from_options(ScanOptions(clamd=f"unix:{tmp_path}/none.sock"))
    with pytest.raises(ScannerUnavailable):
        scanner.scan(ScanItem(b"data"))
    assert not scanner.client.ping()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    tcp = ClamavScanner.from_options(ScanOptions(clamd=f"tcp:127.0.0.1:{port}", clamd_timeout=2))
    with pytest.raises(ScannerUnavailable):
        tcp.scan(ScanItem(b"data"))


def test_address_parsing():
    assert ClamdAddress.parse("/run/c.sock").path == "/run/c.sock"
    assert ClamdAddress.parse("unix:/x").path == "/x"
    assert (ClamdAddress.parse("tcp:10.0.0.1:3310").host, ClamdAddress.parse("h:1").port) == (
        "10.0.0.1",
        1,
    )
    with pytest.raises(ConfigError):
        ClamdAddress.parse("nonsense")
    assert ClamavScanner.from_options(ScanOptions()) is None
