"""``mamori up`` as a real process with the SMTP filter switched on in the settings."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time

import httpx

from mamori.bus.embedded import EmbeddedBus
from mamori.scan.scanners.eicar import EICAR
from mamori.scan.testing import RecordingSmtpServer, make_message


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check, proc, what: str) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else what
        try:
            if check():
                return
        except (OSError, httpx.TransportError):
            pass
        assert time.monotonic() < deadline, f"{what} did not come up"
        time.sleep(0.2)


def test_up_runs_the_mail_filter_and_publishes_verdicts(tmp_path):
    web, smtp_port = _free_port(), _free_port()
    data = tmp_path / "var"
    with RecordingSmtpServer() as hop:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAMORI_")}
        env.update(
            {
                "MAMORI_DATA_DIR": str(data),
                "MAMORI_FAST_PASSWORD_HASHING": "1",
                "MAMORI_ADMIN_PASSWORD": "a-good-password-1",
                "MAMORI_SCAN_MAIL_ENABLED": "1",
                "MAMORI_SCAN_MAIL_PORT": str(smtp_port),
                "MAMORI_SCAN_MAIL_NEXT_HOP": f"127.0.0.1:{hop.port}",
                "MAMORI_SCAN_MAIL_TENANT": "acme",
                "MAMORI_SCAN_MAIL_HOSTNAME": "gw.example.jp",
            }
        )
        proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "mamori", "up", "--port", str(web)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait(
                lambda: httpx.get(f"http://127.0.0.1:{web}/healthz", timeout=1).status_code == 200,
                proc,
                "mamori up",
            )
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as smtp:
                assert smtp.sendmail("a@example.co.jp", ["b@example.jp"], make_message()) == {}
                bad = make_message(attachments=[("e.com", EICAR, "application/octet-stream")])
                try:
                    smtp.sendmail("a@example.co.jp", ["b@example.jp"], bad)
                    rejected = 0
                except smtplib.SMTPDataError as exc:
                    rejected = exc.smtp_code
            assert rejected == 550
            assert len(hop.wait_for(1)) == 1
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()

    async def read() -> list[dict[str, object]]:
        async with EmbeddedBus(data / "spool") as bus:
            sub = await bus.subscribe("mamori.events.*.scan", "e2e")
            got = [json.loads(d.message.data) for d in await sub.fetch(10, timeout=2)]
            await sub.close()
            return got

    events = asyncio.run(read())
    assert sorted(e["scan.outcome"] for e in events) == ["blocked", "clean"]
    assert {e["tenant"] for e in events} == {"acme"}
