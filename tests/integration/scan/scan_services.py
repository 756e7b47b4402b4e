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
