"""``mamori up`` as a real process collecting logs: syslog over TCP and HTTP bulk intake
end up in the store and in ``GET /api/v1/events``."""

from __future__ import annotations

import gzip
import json
import signal
import socket
import subprocess
import sys
import time

import httpx

from mamori.store.db import Database
from mamori.store.repos import apikeys, tenants

MAMORI = [sys.executable, "-m", "mamori"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate, what: str, proc: subprocess.Popen, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            value = predicate()
            if value:
                return value
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_up_stores_syslog_and_http_bulk_events(cli_env, tmp_path):
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    db = Database(f"sqlite:///{data_dir / 'mamori.db'}")
    db.upgrade()
    with db.session() as s:
        acme = tenants.create_tenant(s, slug="acme", name="アクメ")
        other = tenants.create_tenant(s, slug="other", name="他社")
        _k, ingest_token = apikeys.create_api_key(s, tenant_id=acme.id, purpose="ingest")
        _k, api_token = apikeys.create_api_key(s, tenant_id=acme.id, purpose="api")
        _k, other_token = apikeys.create_api_key(s, tenant_id=other.id, purpose="api")
    db.dispose()
    port, syslog_port = _free_port(), _free_port()
    env = {
        **cli_env,
        "MAMORI_SYSLOG_TCP_PORT": str(syslog_port),
        "MAMORI_SYSLOG_BIND": "127.0.0.1",
        "MAMORI_SYSLOG_SENDERS": json.dumps(
            [{"network": "127.0.0.0/8", "tenant": "acme", "host": "fw1"}]
        ),
    }
    proc = subprocess.Popen(
        [*MAMORI, "up", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    api = {"Authorization": f"Bearer {api_token}"}
    try:
        _wait(lambda: httpx.get(f"{base}/healthz", timeout=1).status_code == 200, "health", proc)
        lines = [
            f"<38>Nov 25 10:00:{i:02d} fw1 sshd[42]: Failed password for root from "
            f"10.9.8.{i} port 22 ssh2\n"
            for i in range(50)
        ]
        with socket.create_connection(("127.0.0.1", syslog_port), timeout=10) as conn:
            conn.sendall("".join(lines).encode())
        body = gzip.compress(
            b"".join(json.dumps({"user": f"u{i}", "seq": i}).encode() + b"\n" for i in range(300))
        )
        r = httpx.post(
            f"{base}/api/v1/ingest/json_lines",
            content=body,
            headers={"Authorization": f"Bearer {ingest_token}", "Content-Encoding": "gzip"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 300

        def count(**params) -> int:
            got = httpx.get(
                f"{base}/api/v1/events", params={"limit": 1000, **params}, headers=api, timeout=10
            )
            assert got.status_code == 200, got.text
            return len(got.json()["items"])

        _wait(lambda: count(source="syslog") == 50, "syslog events in the store", proc)
        _wait(lambda: count(source="json_lines") == 300, "bulk events in the store", proc)
        events = httpx.get(
            f"{base}/api/v1/events",
            params={"source": "syslog", "q": "10.9.8.7 ", "limit": 10},
            headers=api,
            timeout=10,
        ).json()["items"]
        assert len(events) == 1
        assert events[0]["host"] == "fw1" and events[0]["fields"]["src_ip"] == "10.9.8.7"
        other_view = httpx.get(
            f"{base}/api/v1/events", headers={"Authorization": f"Bearer {other_token}"}, timeout=10
        )
        assert other_view.json()["items"] == []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
    db = Database(f"sqlite:///{data_dir / 'mamori.db'}")
    try:
        from sqlalchemy import func, select

        from mamori.store.tables import StoredEvent

        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(StoredEvent)) == 350
    finally:
        db.dispose()
