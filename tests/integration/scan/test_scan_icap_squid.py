"""Squid (Debian's /usr/sbin/squid) as the real ICAP client of mamori's ICAP server.

Squid is configured with the lines ``mamori icap --squid-conf`` prints. mamori reads every
body whole before it answers, so a blocked download of any size gets the block page.
"""

from __future__ import annotations

import io
import random
import zipfile

import httpx
import pytest

from mamori.scan.engine import ScanEngine
from mamori.scan.runner import ServiceThread
from mamori.scan.scanners.eicar import EICAR
from mamori.scan.web.icap import IcapConfig, IcapServer
from tests.integration.scan.scan_services import origin_server, squid

CLEAN = b"%PDF-1.4\n" + bytes(range(256)) * 4000  # ~1 MB, binary
KIB = 1024
MIB = 1024 * KIB


def _noise(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)  # noqa: S311 - test data, not crypto


def _zip_with_eicar(size: int) -> bytes:
    """A zip of about ``size`` bytes: incompressible filler members, EICAR in the middle."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("docs/part1.bin", _noise(size // 2, 1))
        archive.writestr("tools/eicar.com", EICAR)
        archive.writestr("docs/part2.bin", _noise(size // 2 - 512, 2))
    return out.getvalue()


BLOCKED = {
    "/blocked-100k.bin": _noise(100 * KIB, 3) + EICAR,  # EICAR appended
    "/blocked-1m.zip": _zip_with_eicar(1 * MIB),  # EICAR inside a zip
    "/blocked-8m.bin": _noise(8 * MIB, 4) + EICAR,
}
CLEAN_8M = _noise(8 * MIB, 5)
SLOW_BLOCKED = _noise(1 * MIB, 6) + EICAR
SLOW_CLEAN = _noise(1 * MIB, 7)


@pytest.fixture(scope="module")
def proxy_rig(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("squid")
    events = []
    server = IcapServer(ScanEngine.from_options(), IcapConfig(port=0), on_event=events.append)
    files = {
        "/clean.pdf": (CLEAN, "application/pdf"),
        "/eicar.com": (EICAR, "application/octet-stream"),
        "/small.txt": (b"hello", "text/plain"),
        "/clean-8m.bin": (CLEAN_8M, "application/octet-stream"),
        "/slow-blocked.bin": (SLOW_BLOCKED, "application/octet-stream"),
        "/slow-clean.bin": (SLOW_CLEAN, "application/octet-stream"),
    }
    files.update({path: (body, "application/octet-stream") for path, body in BLOCKED.items()})
    slow = {"/slow-blocked.bin": (5, 0.6), "/slow-clean.bin": (5, 0.6)}
    with (
        ServiceThread(server),
        origin_server(files, slow) as origin,
        squid(tmp, server.port) as port,
    ):
        yield port, origin, events


def _client(proxy_port: int) -> httpx.Client:
    return httpx.Client(proxy=f"http://127.0.0.1:{proxy_port}", timeout=60)


def _assert_block_page(response: httpx.Response) -> None:
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert response.headers["x-mamori-verdict"] == "blocked"
    page = response.content.decode("utf-8")
    assert "危険なコンテンツをブロックしました" in page
    assert "Dangerous content blocked" in page
    assert EICAR not in response.content


def _event(events, path: str):
    found = [e for e in events if e.fields["url.full"].endswith(path)]
    assert found, f"no verdict event for {path}"
    return found[-1]


def test_clean_download_passes_unchanged(proxy_rig):
    proxy, origin, events = proxy_rig
    with _client(proxy) as client:
        response = client.get(f"http://127.0.0.1:{origin}/clean.pdf")
        small = client.get(f"http://127.0.0.1:{origin}/small.txt")
    assert response.status_code == 200
    assert response.content == CLEAN
    assert response.headers["content-type"] == "application/pdf"
    assert small.content == b"hello"
    assert _event(events, "/clean.pdf").fields["scan.outcome"] == "clean"


def test_eicar_download_gets_block_page(proxy_rig):
    proxy, origin, events = proxy_rig
    with _client(proxy) as client:
        response = client.get(f"http://127.0.0.1:{origin}/eicar.com")
    _assert_block_page(response)
    assert _event(events, "/eicar.com").fields["scan.outcome"] == "blocked"


@pytest.mark.parametrize("path", list(BLOCKED))
def test_large_blocked_download_gets_block_page(proxy_rig, path):
    """Over Squid's 64 KiB ICAP buffer too: mamori reads the whole body, then answers."""
    proxy, origin, events = proxy_rig
    with _client(proxy) as client:
        response = client.get(f"http://127.0.0.1:{origin}{path}")
    _assert_block_page(response)
    event = _event(events, path)
    assert event.fields["scan.outcome"] == "blocked"
    assert event.fields["file.size"] == len(BLOCKED[path])  # the whole body was scanned
    assert "eicar" in event.fields["scan.reasons"]


def test_large_clean_download_is_byte_identical(proxy_rig):
    proxy, origin, events = proxy_rig
    with _client(proxy) as client:
        response = client.get(f"http://127.0.0.1:{origin}/clean-8m.bin")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(CLEAN_8M))
    assert response.content == CLEAN_8M
    event = _event(events, "/clean-8m.bin")
    assert event.fields["scan.outcome"] == "clean"
    assert event.fields["file.size"] == len(CLEAN_8M)


def test_slow_origin_does_not_stall_the_icap_side(proxy_rig):
    """The origin sends 1 MiB in five pieces 0.6 s apart: mamori waits for all of them."""
    proxy, origin, events = proxy_rig
    with _client(proxy) as client:
        blocked = client.get(f"http://127.0.0.1:{origin}/slow-blocked.bin")
        clean = client.get(f"http://127.0.0.1:{origin}/slow-clean.bin")
    _assert_block_page(blocked)
    assert _event(events, "/slow-blocked.bin").fields["file.size"] == len(SLOW_BLOCKED)
    assert clean.status_code == 200
    assert clean.content == SLOW_CLEAN


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


def test_large_uploads_through_reqmod(proxy_rig):
    proxy, origin, _ = proxy_rig
    with _client(proxy) as client:
        clean = client.post(f"http://127.0.0.1:{origin}/upload", content=CLEAN)
        bad = client.post(f"http://127.0.0.1:{origin}/upload", content=CLEAN + EICAR)
    assert clean.status_code == 200
    assert bad.status_code == 403
    assert "Dangerous content blocked" in bad.text


def test_preview_advertised_works_with_squid_too(tmp_path):
    """With a Preview in OPTIONS, Squid waits for ``100 Continue``; the result is the same."""
    events = []
    server = IcapServer(
        ScanEngine.from_options(), IcapConfig(port=0, preview=4096), on_event=events.append
    )
    files = {
        "/blocked-1m.zip": (BLOCKED["/blocked-1m.zip"], "application/zip"),
        "/clean.pdf": (CLEAN, "application/pdf"),
    }
    with (
        ServiceThread(server),
        origin_server(files) as origin,
        squid(tmp_path, server.port, reqmod=False) as port,
        _client(port) as client,
    ):
        _assert_block_page(client.get(f"http://127.0.0.1:{origin}/blocked-1m.zip"))
        assert client.get(f"http://127.0.0.1:{origin}/clean.pdf").content == CLEAN


def test_squid_without_the_delay_pool_falls_back_to_streaming(tmp_path):
    """Without the delay pool, Squid 5 stops sending after about 64 KiB until the answer
    flows; after ``stall_timeout`` mamori streams the body back: clean content completes,
    blocked content is cut off before its end (never delivered whole)."""
    server = IcapServer(ScanEngine.from_options(), IcapConfig(port=0, stall_timeout=0.5))
    files = {
        "/clean.pdf": (CLEAN, "application/pdf"),
        "/eicar.com": (EICAR, "application/octet-stream"),
        "/big-eicar.bin": (CLEAN + EICAR, "application/octet-stream"),
    }
    with (
        ServiceThread(server),
        origin_server(files) as origin,
        squid(tmp_path, server.port, reqmod=False, kick_parked_reads=False) as port,
        _client(port) as client,
    ):
        assert client.get(f"http://127.0.0.1:{origin}/clean.pdf").content == CLEAN
        assert client.get(f"http://127.0.0.1:{origin}/eicar.com").status_code == 403
        try:
            body = client.get(f"http://127.0.0.1:{origin}/big-eicar.bin").content
        except httpx.HTTPError:
            body = b""
        assert EICAR not in body
        assert body != CLEAN + EICAR
