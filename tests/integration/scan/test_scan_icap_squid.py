"""Squid (Debian's /usr/sbin/squid) as the real ICAP client of mamori's ICAP server."""

from __future__ import annotations

import httpx
import pytest

from mamori.scan.engine import ScanEngine
from mamori.scan.runner import ServiceThread
from mamori.scan.scanners.eicar import EICAR
from mamori.scan.web.icap import IcapConfig, IcapServer
from tests.integration.scan.scan_services import origin_server, squid

CLEAN = b"%PDF-1.4\n" + bytes(range(256)) * 4000  # ~1 MB, binary


@pytest.fixture(scope="module")
def proxy_rig(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("squid")
    events = []
    server = IcapServer(ScanEngine.from_options(), IcapConfig(port=0), on_event=events.append)
    files = {
        "/clean.pdf": (CLEAN, "application/pdf"),
        "/eicar.com": (EICAR, "application/octet-stream"),
        "/small.txt": (b"hello", "text/plain"),
        "/big-eicar.bin": (CLEAN + EICAR, "application/octet-stream"),
    }
    with ServiceThread(server), origin_server(files) as origin, squid(tmp, server.port) as port:
        yield port, origin, events


def _client(proxy_port: int) -> httpx.Client:
    return httpx.Client(proxy=f"http://127.0.0.1:{proxy_port}", timeout=60)


def test_clean_download_passes_unchanged(proxy_rig):
    proxy, origin, events = proxy_rig
    with _client(proxy) as client:
        response = client.get(f"http://127.0.0.1:{origin}/clean.pdf")
        small = client.get(f"http://127.0.0.1:{origin}/small.txt")
    assert response.status_code == 200
    assert response.content == CLEAN
    assert response.headers["content-type"] == "application/pdf"
    assert small.content == b"hello"
    assert any(e.fields["url.full"].endswith("/clean.pdf") for e in events)


def test_eicar_download_gets_block_page(proxy_rig):
    proxy, origin, events = proxy_rig
    with _client(proxy) as client:
        response = client.get(f"http://127.0.0.1:{origin}/eicar.com")
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    page = response.content.decode("utf-8")
    assert "危険なコンテンツをブロックしました" in page
    assert "Dangerous content blocked" in page
    assert EICAR not in response.content
    blocked = [e for e in events if e.fields["url.full"].endswith("/eicar.com")]
    assert blocked and blocked[0].fields["scan.outcome"] == "blocked"


def test_eicar_upload_is_blocked_by_reqmod(proxy_rig):
    proxy, origin, _ = proxy_rig
    with _client(proxy) as client:
        response = client.post(
            f"http://127.0.0.1:{origin}/upload", files={"file": ("e.txt", EICAR, "text/plain")}
        )
        ok = client.post(
            f"http://127.0.0.1:{origin}/upload", files={"file": ("a.txt", b"fine", "text/plain")}
        )
    assert response.status_code == 403
    assert ok.status_code == 200


def test_large_malicious_download_never_completes(proxy_rig):
    """Over 64 KiB Squid cannot let the ICAP server answer 204 later, so the body trickles
    back while it is scanned and the transfer is aborted before its end when blocked."""
    proxy, origin, events = proxy_rig
    with _client(proxy) as client:
        try:
            response = client.get(f"http://127.0.0.1:{origin}/big-eicar.bin")
        except httpx.HTTPError:
            response = None
    if response is not None:
        assert response.content != CLEAN + EICAR
        assert EICAR not in response.content
    blocked = [e for e in events if e.fields["url.full"].endswith("/big-eicar.bin")]
    assert blocked and blocked[0].fields["scan.outcome"] == "blocked"


def test_large_uploads_through_reqmod(proxy_rig):
    proxy, origin, _ = proxy_rig
    with _client(proxy) as client:
        clean = client.post(f"http://127.0.0.1:{origin}/upload", content=CLEAN)
        bad = client.post(f"http://127.0.0.1:{origin}/upload", content=CLEAN + EICAR)
    assert clean.status_code == 200
    assert bad.status_code == 403
    assert "Dangerous content blocked" in bad.text


def test_buffering_with_squid_falls_back_instead_of_hanging(tmp_path):
    """Squid 5 sends at most 64 KiB of a body before the adapted body flows, so buffering
    (``buffer_bytes``) cannot hold a large download: it must fall back to trickling."""
    server = IcapServer(
        ScanEngine.from_options(), IcapConfig(port=0, buffer_bytes=8 << 20, buffer_stall=0.3)
    )
    files = {
        "/clean.pdf": (CLEAN, "application/pdf"),
        "/eicar.com": (EICAR, "application/octet-stream"),
        "/big-eicar.bin": (CLEAN + EICAR, "application/octet-stream"),
    }
    with (
        ServiceThread(server),
        origin_server(files) as origin,
        squid(tmp_path, server.port, reqmod=False) as port,
        httpx.Client(proxy=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        assert client.get(f"http://127.0.0.1:{origin}/clean.pdf").content == CLEAN
        assert client.get(f"http://127.0.0.1:{origin}/eicar.com").status_code == 403
        try:
            body = client.get(f"http://127.0.0.1:{origin}/big-eicar.bin").content
        except httpx.HTTPError:
            body = b""
        assert EICAR not in body
