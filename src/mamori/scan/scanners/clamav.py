"""ClamAV through ``clamd``: the INSTREAM command over a unix or TCP socket."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import ClassVar

from mamori.errors import ConfigError, ScanError
from mamori.scan.base import ScanItem, Scanner, ScannerUnavailable, ScanOptions, scanners
from mamori.scan.verdict import Category, Reason

_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class ClamdAddress:
    """Where clamd listens: a unix socket path, or a TCP host and port."""

    path: str | None = None
    host: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, value: str) -> ClamdAddress:
        """``unix:/run/clamd.sock``, ``/run/clamd.sock``, ``tcp:127.0.0.1:3310`` or ``host:3310``.

        Raises:
            ConfigError: anything else.
        """
        text = value.strip()
        if text.startswith("unix:"):
            return cls(path=text[5:])
        if text.startswith("/"):
            return cls(path=text)
        if text.startswith("tcp:"):
            text = text[4:]
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ConfigError(f"invalid clamd address {value!r} (unix:/path or host:port)")
        return cls(host=host.strip("[]"), port=int(port))

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path else f"tcp:{self.host}:{self.port}"

    def connect(self, timeout: float) -> socket.socket:
        if self.path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(self.path)
            except OSError:
                sock.close()
                raise
            return sock
        assert self.host is not None and self.port is not None  # noqa: S101 - parse guarantees
        return socket.create_connection((self.host, self.port), timeout=timeout)


class ClamdClient:
    """A minimal clamd client (PING, VERSION, INSTREAM)."""

    def __init__(self, address: ClamdAddress, timeout: float = 30.0) -> None:
        self.address = address
        self.timeout = timeout

    def _command(self, command: bytes, payload: bytes | None = None) -> str:
        try:
            with self.address.connect(self.timeout) as sock:
                sock.sendall(b"z" + command + b"\0")
                if payload is not None:
                    view = memoryview(payload)
                    for start in range(0, len(view), _CHUNK):
                        chunk = view[start : start + _CHUNK]
                        sock.sendall(struct.pack("!L", len(chunk)) + chunk)
                    sock.sendall(struct.pack("!L", 0))
                reply = bytearray()
                while not reply.endswith(b"\0"):
                    data = sock.recv(4096)
                    if not data:
                        break
                    reply += data
        except TimeoutError as exc:
            raise ScannerUnavailable(f"clamd at {self.address} timed out") from exc
        except OSError as exc:
            raise ScannerUnavailable(
                f"clamd at {self.address} unreachable: {exc.strerror or exc}"
            ) from exc
        if not reply:
            raise ScannerUnavailable(f"clamd at {self.address} closed the connection")
        return reply.rstrip(b"\0").decode("utf-8", "replace").strip()

    def ping(self) -> bool:
        try:
            return self._command(b"PING") == "PONG"
        except ScannerUnavailable:
            return False

    def version(self) -> str:
        return self._command(b"VERSION")

    def instream(self, data: bytes) -> str | None:
        """Scan ``data``; return the signature name when infected, None when clean.

        Raises:
            ScannerUnavailable: clamd cannot be reached.
            ScanError: clamd answered with an error (size limit, ...).
        """
        reply = self._command(b"INSTREAM", data)
        _, _, status = reply.partition(": ")
        if status == "OK":
            return None
        if status.endswith(" FOUND"):
            return status[: -len(" FOUND")]
        if "size limit" in reply.lower():
            raise ScanError(f"clamd: {reply} (raise StreamMaxLength)")
        raise ScanError(f"clamd: {reply}")


@scanners.register
class ClamavScanner(Scanner):
    """ClamAV signatures through a running clamd (configured with ``clamd``)."""

    NAME: ClassVar[str] = "clamav"
    DESCRIPTION: ClassVar[str] = "ClamAV via clamd INSTREAM"

    def __init__(self, client: ClamdClient) -> None:
        self.client = client

    @classmethod
    def from_options(cls, options: ScanOptions) -> ClamavScanner | None:
        if not options.clamd:
            return None
        return cls(ClamdClient(ClamdAddress.parse(options.clamd), options.clamd_timeout))

    def scan(self, item: ScanItem) -> list[Reason]:
        if not item.data:
            return []
        name = self.client.instream(item.data)
        if name is None:
            return []
        return [
            Reason(Category.MALWARE, "signature", f"ClamAV:{name}", self.NAME, item.display_path)
        ]

    def version(self) -> str:
        try:
            return f"{self.NAME}:{self.client.version()}"
        except ScanError:
            return f"{self.NAME}:unavailable"


__all__ = ["ClamavScanner", "ClamdAddress", "ClamdClient"]
