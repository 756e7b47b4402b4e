"""``mamori icap`` and ``mamori mail-filter`` as real processes."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

from mamori.scan.scanners.eicar import EICAR
from mamori.scan.testing import RecordingSmtpServer, icap_request, make_message
from tests.integration.scan.scan_services import free_port


@contextmanager
def _process(args, port, tmp_path):
    env = dict(os.environ, MAMORI_DATA_DIR=str(tmp_path / "data"), MAMORI_SECRET_KEY="t")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mamori", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "service did not start"
                time.sleep(0.1)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_icap_command(tmp_path):
    port = free_port()
    events = tmp_path / "events.jsonl"
    with _process(
        ["icap", "--listen", f"127.0.0.1:{port}", "--events", str(events)], port, tmp_path
    ) as proc:
        assert icap_request(port, "OPTIONS", "respmod").status == 200
        res = b"HTTP/1.1 200 OK\r\nContent-Length: 68\r\n\r\n"
        req = b"GET http://x.example/e HTTP/1.1\r\nHost: x.example\r\n\r\n"
        blocked = icap_request(port, "RESPMOD", "respmod", req_hdr=req, res_hdr=res, body=EICAR)
        assert blocked.http_head.startswith(b"HTTP/1.1 403")
    assert proc.returncode == 0
    assert '"scan.outcome": "blocked"' in events.read_text()


def test_mail_filter_command(tmp_path):
    port = free_port()
    with RecordingSmtpServer() as hop:
        args = [
            "mail-filter",
            "--listen",
            f"127.0.0.1:{port}",
            "--next-hop",
            f"127.0.0.1:{hop.port}",
            "--hostname",
            "gw.example.jp",
        ]
        with _process(args, port, tmp_path), smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.sendmail("a@x.example.jp", ["b@y.example.jp"], make_message())
    assert len(hop.messages) == 1
    assert hop.messages[0].data.startswith(b"X-Mamori-Scan: clean")
