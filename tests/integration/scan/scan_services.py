"""Helpers for the scan area's integration tests (a plain module: the folder has no package
``__init__`` so that it never collides with the unit tests' ``scan`` package)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mamori.model import Event
from mamori.scan.base import ScanOptions
from mamori.scan.engine import ScanEngine
from mamori.scan.mail.gateway import MailGateway, MailGatewayConfig
from mamori.scan.mail.ppap import HoldStore
from mamori.scan.mail.relay import NextHop
from mamori.scan.policy import PolicySet
from mamori.scan.quarantine import QuarantineStore, load_or_create_key
from mamori.scan.runner import ServiceThread
from mamori.scan.web.squid import squid_conf

CLAMD = "/usr/sbin/clamd"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MailRig:
    gateway: MailGateway
    thread: ServiceThread
    events: list[Event] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.gateway.port


@contextmanager
def mail_gateway(
    data_dir: Path,
    next_hop_port: int,
    *,
    options: ScanOptions | None = None,
    policy_dir: Path | None = None,
    **config: Any,
) -> Iterator[MailRig]:
    engine = ScanEngine.from_options(options or ScanOptions(), PolicySet(policy_dir))
    events: list[Event] = []
    gateway = MailGateway(
        engine,
        MailGatewayConfig(
            port=0,
            next_hop=NextHop(port=next_hop_port, timeout=10),
            hostname="gw.example.jp",
            **config,
        ),
        quarantine=QuarantineStore(data_dir / "quarantine", load_or_create_key(data_dir / "q.key")),
        holds=HoldStore(data_dir / "ppap"),
        on_event=events.append,
    )
    with ServiceThread(gateway) as thread:
        yield MailRig(gateway, thread, events)


@contextmanager
def clamd(tmp: Path, signatures: dict[str, str]) -> Iterator[Path]:
    """Run the real clamd in the foreground on a unix socket with our own tiny database.

    ``signatures`` maps database file names (``x.hdb``, ``x.ndb``) to their text. clamd runs
    as the invoking user (``User`` is not set, so there is no privilege drop to attempt).
    """
    if not Path(CLAMD).exists():
        import pytest

        pytest.skip("clamd not installed")
    db = tmp / "clamdb"
    db.mkdir()
    for name, text in signatures.items():
        (db / name).write_text(text, encoding="ascii")
    sock = tmp / "clamd.sock"
    conf = tmp / "clamd.conf"
    conf.write_text(
        f"LocalSocket {sock}\nForeground yes\nDatabaseDirectory {db}\n"
        f"LogFile {tmp / 'clamd.log'}\nPidFile {tmp / 'clamd.pid'}\n"
        "StreamMaxLength 50M\nBytecode no\nSelfCheck 0\n",
        encoding="ascii",
    )
    proc = subprocess.Popen(  # noqa: S603 - fixed binary, our own config
        [CLAMD, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"clamd exited: {err}")
            if time.monotonic() > deadline:
                raise RuntimeError("clamd did not start")
            time.sleep(0.1)
        yield sock
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def have(binary: str) -> bool:
    return shutil.which(binary) is not None or Path(binary).exists()


SQUID = "/usr/sbin/squid"


@contextmanager
def squid(
    tmp: Path, icap_port: int, *, reqmod: bool = True, kick_parked_reads: bool = True
) -> Iterator[int]:
    """Debian's squid on loopback, with mamori as its ICAP RESPMOD (and REQMOD) service.

    The ICAP lines are the ones ``mamori icap --squid-conf`` prints (:func:`squid_conf`);
    ``kick_parked_reads=False`` leaves out the delay pool that Squid 5 needs (see there).

    squid starts as root and drops to ``cache_effective_user`` (``proxy``); its working
    directory is handed to that user. Run as another user, squid keeps that user.
    """
    import os
    import pwd

    if not Path(SQUID).exists():
        import pytest

        pytest.skip("squid not installed")
    import tempfile

    port = free_port()
    # pytest's own temp root is private (0700): squid's unprivileged user could not reach it
    work = Path(tempfile.mkdtemp(prefix="mamori-squid-"))
    work.chmod(0o755)
    user = "proxy"
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(work, entry.pw_uid, entry.pw_gid)
    else:
        user = pwd.getpwuid(os.geteuid()).pw_name
    conf = tmp / "squid.conf"
    conf.write_text(
        f"http_port 127.0.0.1:{port}\n"
        f"pid_filename {work}/squid.pid\n"
        f"cache_log {work}/cache.log\n"
        f"access_log stdio:{work}/access.log\n"
        "cache_store_log none\n"
        "cache deny all\n"
        "cache_mem 8 MB\n"
        f"coredump_dir {work}\n"
        f"cache_effective_user {user}\n"
        "visible_hostname mamori-test\n"
        "shutdown_lifetime 0 seconds\n"
        "acl local src 127.0.0.1/32\n"
        "http_access allow local\n"
        "http_access deny all\n"
        + squid_conf("127.0.0.1", icap_port, reqmod=reqmod, kick_parked_reads=kick_parked_reads)
        + os.environ.get("MAMORI_SQUID_EXTRA", ""),
        encoding="ascii",
    )
    log = (tmp / "squid.out").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - fixed binary, our own config
        [SQUID, "-N", "-f", str(conf)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"squid exited: {(tmp / 'squid.out').read_text(errors='replace')}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("squid did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def origin_server(
    files: dict[str, tuple[bytes, str]], slow: dict[str, tuple[int, float]] | None = None
) -> Iterator[int]:
    """An HTTP server on loopback serving ``path -> (body, content type)``.

    ``slow`` maps a path to ``(pieces, pause)``: its body is sent in that many pieces with
    ``pause`` seconds between them (an origin that is slower than the proxy).
    """
    slow = slow or {}
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    uploads: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            body, ctype = files.get(self.path, (b"not found", "text/plain"))
            self.send_response(200 if self.path in files else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            pieces, pause = slow.get(self.path, (1, 0.0))
            step = -(-len(body) // pieces)
            for start in range(0, len(body), step):
                if start:
                    self.wfile.flush()
                    time.sleep(pause)
                self.wfile.write(body[start : start + step])

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            length = int(self.headers.get("Content-Length", "0"))
            uploads.append(self.rfile.read(length))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.uploads = uploads  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
