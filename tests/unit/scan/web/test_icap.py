from __future__ import annotations

import socket
import time

import pytest

from mamori.scan.base import ScanOptions
from mamori.scan.engine import ScanEngine
from mamori.scan.quarantine import QuarantineStore
from mamori.scan.runner import ServiceThread
from mamori.scan.scanners.eicar import EICAR
from mamori.scan.testing import icap_request
from mamori.scan.web.icap import IcapConfig, IcapServer

REQ = b"GET http://origin.example/files/report.pdf HTTP/1.1\r\nHost: origin.example\r\n\r\n"


def _res(length: int, ctype: str = "application/octet-stream") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


@pytest.fixture
def icap(engine, tmp_path):
    events = []
    server = IcapServer(
        engine,
        IcapConfig(port=0),
        on_event=events.append,
        quarantine=QuarantineStore(tmp_path / "q", b"k" * 32),
    )
    with ServiceThread(server):
        server.events = events  # type: ignore[attr-defined]
        yield server


def test_options(icap):
    response = icap_request(icap.port, "OPTIONS", "respmod")
    assert response.status == 200
    assert response.headers["methods"] == "RESPMOD"
    assert response.headers["allow"] == "204"
    assert response.headers["istag"].startswith('"mamori-')
    assert "preview" not in response.headers  # mamori reads whole bodies: no preview asked
    assert icap_request(icap.port, "OPTIONS", "reqmod").headers["methods"] == "REQMOD"
    assert icap_request(icap.port, "OPTIONS", "nothing").status == 404


def test_options_advertise_a_configured_preview(engine):
    server = IcapServer(engine, IcapConfig(port=0, preview=2048))
    with ServiceThread(server):
        headers = icap_request(server.port, "OPTIONS", "respmod").headers
    assert headers["preview"] == "2048"
    assert headers["transfer-preview"] == "*"


def test_clean_respmod_204_and_echo(icap):
    body = b"%PDF-1.4 harmless"
    assert (
        icap_request(
            icap.port, "RESPMOD", "respmod", req_hdr=REQ, res_hdr=_res(len(body)), body=body
        ).status
        == 204
    )
    echoed = icap_request(
        icap.port,
        "RESPMOD",
        "respmod",
        req_hdr=REQ,
        res_hdr=_res(len(body)),
        body=body,
        allow_204=False,
    )
    assert echoed.status == 200
    assert echoed.http_head == _res(len(body))
    assert echoed.body == body
    assert icap.events[0].fields["scan.outcome"] == "clean"
    assert icap.events[0].fields["url.full"] == "http://origin.example/files/report.pdf"


@pytest.mark.parametrize("preview", [None, 0, 10, 4096])
def test_eicar_gets_block_page(icap, preview):
    response = icap_request(
        icap.port,
        "RESPMOD",
        "respmod",
        req_hdr=REQ,
        res_hdr=_res(len(EICAR)),
        body=EICAR,
        preview=preview,
    )
    assert response.status == 200
    assert response.http_head.startswith(b"HTTP/1.1 403 Forbidden")
    page = response.body.decode("utf-8")
    assert "危険なコンテンツをブロックしました" in page
    assert "Dangerous content blocked" in page
    assert "EICAR" in page


def test_preview_whole_body_and_large_body(icap):
    body = b"A" * 300_000
    response = icap_request(
        icap.port,
        "RESPMOD",
        "respmod",
        req_hdr=REQ,
        res_hdr=_res(len(body)),
        body=body,
        preview=1024,
    )
    assert response.status == 204
    small = icap_request(
        icap.port, "RESPMOD", "respmod", req_hdr=REQ, res_hdr=_res(3), body=b"abc", preview=1024
    )
    assert small.status == 204


def test_reqmod_upload_multipart(icap):
    boundary = "XyZ"
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="e.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + EICAR
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = (
        "POST http://upload.example/send HTTP/1.1\r\nHost: upload.example\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(form)}\r\n\r\n"
    ).encode()
    blocked = icap_request(icap.port, "REQMOD", "reqmod", req_hdr=req, body=form)
    assert blocked.status == 200
    assert blocked.http_head.startswith(b"HTTP/1.1 403")
    clean = icap_request(
        icap.port, "REQMOD", "reqmod", req_hdr=req, body=form.replace(EICAR, b"hello")
    )
    assert clean.status == 204
    get = icap_request(icap.port, "REQMOD", "reqmod", req_hdr=REQ)
    assert get.status == 204


def test_method_service_mismatch(icap):
    assert icap_request(icap.port, "REQMOD", "respmod", req_hdr=REQ).status == 405


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(4096):
            out += chunk
        return out


@pytest.mark.parametrize(
    "chunks",
    [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcXX0\r\n\r\n", b"-5\r\nabc\r\n0\r\n\r\n"],
    ids=["not-hex", "no-crlf", "negative"],
)
def test_broken_chunked_body_is_400(icap, chunks):
    head = (
        f"RESPMOD icap://127.0.0.1:{icap.port}/respmod ICAP/1.0\r\nHost: x\r\n"
        f"Encapsulated: req-hdr=0, res-hdr={len(REQ)}, res-body={len(REQ) + len(_res(3))}\r\n\r\n"
    ).encode()
    reply = _raw(icap.port, head + REQ + _res(3) + chunks)
    assert reply.startswith(b"ICAP/1.0 400")
    # and the server still works
    assert icap_request(icap.port, "OPTIONS", "respmod").status == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"HELLO\r\n\r\n",
        b"RESPMOD icap://x/respmod ICAP/1.0\r\nEncapsulated: bogus=1\r\n\r\n",
        b"RESPMOD icap://x/respmod ICAP/1.0\r\nEncapsulated: res-body=5, res-hdr=0\r\n\r\n",
        b"RESPMOD icap://x/respmod ICAP/1.0\r\nHost: x\r\n\r\n",
    ],
)
def test_malformed_requests_are_400(icap, request_bytes):
    assert _raw(icap.port, request_bytes).startswith(b"ICAP/1.0 400")


def test_client_disconnect_mid_body(icap):
    head = (
        f"RESPMOD icap://127.0.0.1:{icap.port}/respmod ICAP/1.0\r\nHost: x\r\n"
        f"Encapsulated: res-hdr=0, res-body={len(_res(1000))}\r\n\r\n"
    ).encode()
    reply = _raw(icap.port, head + _res(1000) + b"3e8\r\n" + b"x" * 100)
    assert reply == b""
    assert icap_request(icap.port, "OPTIONS", "respmod").status == 200
    deadline = time.monotonic() + 10
    while icap.active and time.monotonic() < deadline:  # the server closes after the client
        time.sleep(0.01)
    assert icap.active == 0


@pytest.mark.parametrize(("on_error", "status"), [("block", 200), ("error", 500), ("allow", 204)])
def test_clamd_down_fail_closed_as_configured(tmp_path, on_error, status):
    engine = ScanEngine.from_options(ScanOptions(clamd=f"unix:{tmp_path}/none.sock"))
    server = IcapServer(engine, IcapConfig(port=0, on_error=on_error))
    with ServiceThread(server):
        response = icap_request(
            server.port, "RESPMOD", "respmod", req_hdr=REQ, res_hdr=_res(5), body=b"hello"
        )
    assert response.status == status
    if on_error == "block":
        assert response.http_head.startswith(b"HTTP/1.1 403")
        assert "検査できなかった" in response.body.decode()


def test_zip_bomb_download_is_blocked_and_quarantined(icap):
    from tests.unit.scan.builders import zip_bomb

    bomb = zip_bomb(50 * 1024 * 1024)
    response = icap_request(
        icap.port,
        "RESPMOD",
        "respmod",
        req_hdr=REQ,
        res_hdr=_res(len(bomb), "application/zip"),
        body=bomb,
        preview=1024,
    )
    assert response.status == 200
    assert "ZIP 爆弾" in response.body.decode()
    (item,) = icap.quarantine.list()
    assert item.kind == "http"
    assert icap.quarantine.content(item.id) == bomb


@pytest.mark.parametrize("preview", [None, 1024])
def test_large_bodies_are_read_whole_before_the_answer(icap, preview):
    """Without ``Allow: 204`` (Squid over 64 KiB) the answer still waits for the whole body:
    a blocked one gets the block page, a clean one comes back unchanged."""
    body = bytes(range(256)) * 800  # 200 KiB

    def ask(data: bytes):
        return icap_request(
            icap.port,
            "RESPMOD",
            "respmod",
            req_hdr=REQ,
            res_hdr=_res(len(data)),
            body=data,
            preview=preview,
            allow_204=False,
        )

    clean = ask(body)
    assert clean.status == 200
    assert clean.http_head == _res(len(body))
    assert clean.body == body
    bad = ask(body + EICAR)
    assert bad.status == 200 and bad.http_head.startswith(b"HTTP/1.1 403 Forbidden")
    assert EICAR not in bad.body and "EICAR" in bad.body.decode("utf-8")
    assert icap.events[-1].fields["scan.outcome"] == "blocked"
    assert icap.events[-1].fields["file.size"] == len(body) + len(EICAR)


def test_persistent_connection_serves_several_requests(icap):
    with socket.create_connection(("127.0.0.1", icap.port), timeout=10) as sock:
        for body in (b"one", EICAR, b"three"):
            response = icap_request(
                icap.port,
                "RESPMOD",
                "respmod",
                req_hdr=REQ,
                res_hdr=_res(len(body)),
                body=body,
                sock=sock,
            )
            assert response.status == (200 if body == EICAR else 204)


def test_connection_limit_answers_503(engine):
    server = IcapServer(engine, IcapConfig(port=0, max_connections=1))
    with ServiceThread(server), socket.create_connection(("127.0.0.1", server.port)) as first:
        first.sendall(b"")  # hold the only slot open
        deadline = time.monotonic() + 10
        while server.active < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as second:
            assert second.recv(100).startswith(b"ICAP/1.0 503")


def test_204_answers_a_complete_preview_without_allow_204(icap):
    small = icap_request(
        icap.port,
        "RESPMOD",
        "respmod",
        req_hdr=REQ,
        res_hdr=_res(3),
        body=b"abc",
        preview=1024,
        allow_204=False,
    )
    assert small.status == 204  # the whole body was in the preview (ieof)


def test_gzip_content_encoding_is_looked_into(icap):
    import gzip

    body = gzip.compress(b"<html>" + EICAR + b"</html>")
    res = (
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    response = icap_request(icap.port, "RESPMOD", "respmod", req_hdr=REQ, res_hdr=res, body=body)
    assert response.status == 200
    assert response.http_head.startswith(b"HTTP/1.1 403")


def test_buffer_bytes_streams_bigger_bodies_and_cuts_blocked_ones_off(engine):
    body = bytes(range(256)) * 800  # 200 KiB: held whole
    server = IcapServer(engine, IcapConfig(port=0, buffer_bytes=1 << 20))
    with ServiceThread(server):

        def ask(data: bytes):
            return icap_request(
                server.port,
                "RESPMOD",
                "respmod",
                req_hdr=REQ,
                res_hdr=_res(len(data)),
                body=data,
                preview=1024,
                allow_204=False,
            )

        bad = ask(body + EICAR)
        assert bad.status == 200 and bad.http_head.startswith(b"HTTP/1.1 403 Forbidden")
        over = body * 6  # over buffer_bytes: streamed while it arrives
        assert ask(over).body == over
        with pytest.raises(ValueError):  # blocked while streaming: cut off before the end
            ask(over + EICAR)


def _oversize_engine(tmp_path, action: str) -> ScanEngine:
    from mamori.scan.policy import PolicySet

    (tmp_path / "small.yaml").write_text(
        f"limits: {{max_file_bytes: 100000}}\ncode_actions: {{size_limit: {action}}}\n",
        encoding="utf-8",
    )
    return ScanEngine.from_options(policies=PolicySet(tmp_path))


@pytest.mark.parametrize("preview", [None, 1024])
def test_body_over_the_scan_limit_gets_the_policy_answer(tmp_path, preview):
    body = bytes(range(256)) * 1000  # 256,000 bytes: over the 100,000-byte limit
    for action, blocked in (("quarantine", True), ("allow", False)):
        events: list = []
        store = QuarantineStore(tmp_path / f"q-{action}", b"k" * 32)
        server = IcapServer(
            _oversize_engine(tmp_path, action),
            IcapConfig(port=0, tenant="small"),
            on_event=events.append,
            quarantine=store,
        )
        with ServiceThread(server):
            response = icap_request(
                server.port,
                "RESPMOD",
                "respmod",
                req_hdr=REQ,
                res_hdr=_res(len(body)),
                body=body,
                preview=preview,
                allow_204=False,
            )
        assert events[-1].fields["scan.reasons"] == ["size_limit"]
        assert events[-1].fields["file.size"] == len(body)
        if blocked:  # drained, then the block page (the kept part is quarantined)
            assert response.http_head.startswith(b"HTTP/1.1 403")
            (item,) = store.list()
            assert item.meta["truncated"] is True
        else:  # the policy lets oversize content pass: streamed back whole, unscanned
            assert response.http_head == _res(len(body))
            assert response.body == body
            assert store.list() == []


def test_stalled_sender_gets_the_answer_streamed(engine):
    """A client that stops sending until the answer flows (Squid 5 without the delay pool)
    is not left waiting: after ``stall_timeout`` seconds the body is echoed as it arrives."""
    body = bytes(range(256)) * 800
    server = IcapServer(engine, IcapConfig(port=0, stall_timeout=0.2))
    with ServiceThread(server), socket.create_connection(("127.0.0.1", server.port)) as sock:
        res = _res(len(body))
        head = (
            f"RESPMOD icap://127.0.0.1:{server.port}/respmod ICAP/1.0\r\n"
            f"Host: x\r\nEncapsulated: req-hdr=0, res-hdr={len(REQ)},"
            f" res-body={len(REQ) + len(res)}\r\n\r\n"
        ).encode()
        first = body[: 64 * 1024]
        sock.sendall(head + REQ + res + f"{len(first):x}\r\n".encode() + first + b"\r\n")
        reader = sock.makefile("rb")
        sock.settimeout(10)
        assert reader.readline().startswith(b"ICAP/1.0 200")  # answer started while waiting
        rest = body[len(first) :]
        sock.sendall(f"{len(rest):x}\r\n".encode() + rest + b"\r\n0\r\n\r\n")
        while reader.readline() not in (b"\r\n", b""):
            pass
        assert reader.read(len(res)) == res
        echoed = b""
        while True:
            size = int(reader.readline().strip(), 16)
            if size == 0:
                break
            echoed += reader.read(size)
            reader.readline()
        assert echoed == body


def test_a_slow_sender_is_waited_for(engine):
    """Pauses shorter than ``stall_timeout`` do not start the answer early."""
    body = bytes(range(256)) * 800 + EICAR
    server = IcapServer(engine, IcapConfig(port=0, stall_timeout=5.0))
    with ServiceThread(server), socket.create_connection(("127.0.0.1", server.port)) as sock:
        res = _res(len(body))
        head = (
            f"RESPMOD icap://127.0.0.1:{server.port}/respmod ICAP/1.0\r\n"
            f"Host: x\r\nEncapsulated: req-hdr=0, res-hdr={len(REQ)},"
            f" res-body={len(REQ) + len(res)}\r\n\r\n"
        ).encode()
        sock.sendall(head + REQ + res)
        for start in range(0, len(body), 50_000):
            piece = body[start : start + 50_000]
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            time.sleep(0.15)
        sock.sendall(b"0\r\n\r\n")
        sock.settimeout(10)
        reader = sock.makefile("rb")
        from mamori.scan.testing import _read_icap

        response = _read_icap(reader, reader.readline())
    assert response.http_head.startswith(b"HTTP/1.1 403")


def test_squid_conf_lines_from_the_cli():
    from typer.testing import CliRunner

    from mamori.cli.main import app
    from mamori.scan.web.squid import KICK_RATE, squid_conf

    result = CliRunner().invoke(app, ["icap", "--listen", "icap.example:11344", "--squid-conf"])
    assert result.exit_code == 0, result.output
    assert (
        "icap_service mamori_resp respmod_precache bypass=off icap://icap.example:11344/respmod"
        in result.output
    )
    assert "icap://icap.example:11344/reqmod" in result.output
    assert f"delay_parameters 1 {KICK_RATE}/{KICK_RATE}" in result.output
    assert "icap://127.0.0.1:1344/respmod" in squid_conf("0.0.0.0", 1344)  # noqa: S104 - text only
    only = squid_conf("::1", 1344, reqmod=False, bypass=True, kick_parked_reads=False)
    assert "bypass=on icap://[::1]:1344/respmod" in only
    assert "reqmod" not in only and "delay_pools" not in only


def test_body_is_hashed_while_it_arrives(monkeypatch):
    """The digests the engine needs (verdict SHA-256, MD5 IOCs) come from the read itself."""
    import hashlib

    from mamori.scan import digests as digests_module

    body = b"parts order " * 40_000
    md5 = hashlib.md5(body).hexdigest()  # noqa: S324 - an IOC format, not security
    engine = ScanEngine.from_options(ScanOptions(hashes=frozenset({md5})))
    hashed_again: list[str] = []
    real = digests_module._hexdigest
    monkeypatch.setattr(
        digests_module, "_hexdigest", lambda a, d: hashed_again.append(a) or real(a, d)
    )
    events: list = []
    server = IcapServer(engine, IcapConfig(port=0), on_event=events.append)
    with ServiceThread(server):
        response = icap_request(
            server.port,
            "RESPMOD",
            "respmod",
            req_hdr=REQ,
            res_hdr=_res(len(body)),
            body=body,
            allow_204=False,
        )
    assert response.http_head.startswith(b"HTTP/1.1 403")
    assert events[-1].fields["scan.reasons"] == ["hash_ioc"]
    assert events[-1].fields["file.hash.md5"] == md5
    assert events[-1].fields["file.hash.sha256"] == hashlib.sha256(body).hexdigest()
    assert hashed_again == []


def test_a_stalled_request_to_the_wrong_service_still_gets_405(engine):
    body = bytes(range(256)) * 400
    server = IcapServer(engine, IcapConfig(port=0, stall_timeout=0.1))
    with ServiceThread(server), socket.create_connection(("127.0.0.1", server.port)) as sock:
        res = _res(len(body))
        head = (
            f"RESPMOD icap://127.0.0.1:{server.port}/reqmod ICAP/1.0\r\n"
            f"Host: x\r\nEncapsulated: req-hdr=0, res-hdr={len(REQ)},"
            f" res-body={len(REQ) + len(res)}\r\n\r\n"
        ).encode()
        sock.sendall(head + REQ + res + f"{len(body):x}\r\n".encode() + body[:1000])
        time.sleep(0.4)  # longer than stall_timeout: no answer may start early
        sock.sendall(body[1000:] + b"\r\n0\r\n\r\n")
        sock.settimeout(10)
        assert sock.makefile("rb").readline().startswith(b"ICAP/1.0 405")
