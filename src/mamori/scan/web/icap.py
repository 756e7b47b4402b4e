"""An ICAP server (RFC 3507) for Squid: OPTIONS, RESPMOD (downloads), REQMOD (uploads).

Supports Preview (``100 Continue`` to get the rest; ``ieof`` when the preview was all),
``204 No Content`` for unchanged content when the client allows it (``Allow: 204``, or during
preview), ``ISTag`` (changes with the rule set), persistent connections and chunked bodies.
Blocked or unscannable content is replaced by an HTML block page (HTTP 403). What happens when
a scanner is down is configurable (``on_error``): the block page (default, fail closed), an
ICAP 500 (Squid then fails the transaction unless the service is ``bypass=on``), or pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Literal
from urllib.parse import unquote, urlsplit

from mamori.model import Event
from mamori.scan.engine import ScanEngine
from mamori.scan.events import verdict_event
from mamori.scan.mail.message import parse_message
from mamori.scan.policy import Policy
from mamori.scan.quarantine import QuarantineStore
from mamori.scan.verdict import Category, Outcome, Reason, Verdict, combine
from mamori.scan.web.blockpage import render_block_page

log = logging.getLogger(__name__)

_MAX_HEADER = 64 * 1024
_SECTIONS = ("req-hdr", "res-hdr", "req-body", "res-body", "null-body", "opt-body")


class IcapBadRequest(Exception):
    """A request that does not follow RFC 3507 (answered with 400, connection closed)."""


@dataclass(frozen=True, slots=True)
class IcapConfig:
    host: str = "127.0.0.1"
    port: int = 1344
    tenant: str | None = None
    preview: int = 4096
    max_connections: int = 100
    on_error: Literal["block", "error", "allow"] = "block"
    name_checks: bool = False  # apply the attachment policy's name/type checks to downloads
    contact: str = ""
    # Squid allows "204 outside preview" only for bodies it can buffer (64 KiB). For bigger
    # bodies it waits for the ICAP response before reading more from the origin, so the body is
    # echoed while it arrives, holding back the last ``trickle_holdback`` bytes until the scan
    # is done; blocked content then ends in an aborted (truncated) transfer, never a complete one.
    trickle: bool = True
    trickle_holdback: int = 16 * 1024
    # Optional buffering before trickling: keep the whole body (up to ``buffer_bytes``) and
    # answer only after the scan, so blocked content gets the block page. An ICAP client that
    # sends the whole body without waiting for the answer gets that; one that stops sending
    # (Squid 5 stops after 64 KiB until the adapted body flows) is detected by ``buffer_stall``
    # seconds without data, and the transfer falls back to trickling. 0 = trickle at once.
    buffer_bytes: int = 0
    buffer_stall: float = 0.5
    workers: int = 4
    options_ttl: int = 3600
    service_name: str = "mamori ICAP content scanner"


@dataclass
class IcapRequest:
    method: str
    uri: str
    version: str
    headers: dict[str, str]
    sections: dict[str, bytes] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    has_body: bool = False
    overflow: bool = False
    continued: bool = False  # "100 Continue" was sent after the preview
    streaming: bool = False  # the 200 response was started before the scan (trickle mode)
    sent: int = 0  # body bytes already echoed in trickle mode

    @property
    def service(self) -> str:
        return urlsplit(self.uri).path.strip("/").split("/", 1)[0]

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def allow_204(self) -> bool:
        return "204" in [v.strip() for v in self.header("allow").split(",")]


def _http_headers(raw: bytes) -> tuple[str, dict[str, str]]:
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


class IcapServer:
    """ICAP services ``/respmod`` and ``/reqmod`` on one port."""

    def __init__(
        self,
        engine: ScanEngine,
        config: IcapConfig,
        *,
        on_event: Callable[[Event], None] | None = None,
        quarantine: QuarantineStore | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.on_event = on_event
        self.quarantine = quarantine
        self.port = config.port
        self.istag = f'"mamori-{engine.version()[:16]}"'
        self.active = 0
        self._server: asyncio.AbstractServer | None = None
        self._executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="icap")

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._client, self.config.host, self.config.port, limit=_MAX_HEADER
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("ICAP server listening on %s:%d", self.config.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # wait for running scans off the loop: their event callbacks may need the loop
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown)

    # -- connection -------------------------------------------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.active += 1
        try:
            if self.active > self.config.max_connections:
                writer.write(self._status(503, "Service Overloaded", close=True))
                await writer.drain()
                return
            while True:
                try:
                    request = await self._read_request(reader, writer)
                except IcapBadRequest as exc:
                    log.info("bad ICAP request: %s", exc)
                    writer.write(self._status(400, "Bad Request", close=True))
                    await writer.drain()
                    return
                if request is None:
                    return
                await self._dispatch(request, writer)
                await writer.drain()
                if request.header("connection").lower() == "close":
                    return
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            return  # the client went away mid-request (or a trickled transfer was aborted)
        finally:
            self.active -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> IcapRequest | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise
            return None
        except asyncio.LimitOverrunError as exc:
            raise IcapBadRequest("ICAP header too long") from exc
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("ICAP/"):
            raise IcapBadRequest(f"bad request line {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise IcapBadRequest(f"bad header line {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        request = IcapRequest(parts[0].upper(), parts[1], parts[2], headers)
        await self._read_encapsulated(request, reader, writer)
        return request

    async def _read_encapsulated(
        self, request: IcapRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        spec = request.header("encapsulated")
        if not spec:
            if request.method == "OPTIONS":
                return
            raise IcapBadRequest("missing Encapsulated header")
        entries: list[tuple[str, int]] = []
        for item in spec.split(","):
            name, sep, offset = item.strip().partition("=")
            if not sep or name not in _SECTIONS or not offset.strip().isdigit():
                raise IcapBadRequest(f"bad Encapsulated entry {item.strip()!r}")
            entries.append((name, int(offset)))
        offsets = [o for _, o in entries]
        if offsets != sorted(offsets) or not entries[-1][0].endswith("body"):
            raise IcapBadRequest("Encapsulated offsets out of order or no body entry last")
        total = entries[-1][1]
        if total > _MAX_HEADER:
            raise IcapBadRequest("encapsulated headers too long")
        raw = await reader.readexactly(total) if total else b""
        for (name, start), (_, end) in zip(entries, entries[1:], strict=False):
            request.sections[name] = raw[start:end]
        last = entries[-1][0]
        if last == "null-body":
            return
        request.has_body = True
        limit = self.engine.policies.for_tenant(self.config.tenant).limits.max_file_bytes
        preview = request.header("preview")
        ieof = await self._read_chunks(reader, request, limit)
        if preview and not ieof:
            writer.write(b"ICAP/1.0 100 Continue\r\n\r\n")
            request.continued = True
            trickle = (
                self.config.trickle
                and request.method == "RESPMOD"
                and not request.allow_204
                and request.service == "respmod"
            )
            if trickle and self.config.buffer_bytes <= 0:
                await self._start_streaming(request, writer)
            await writer.drain()
            await self._read_chunks(reader, request, limit, writer if trickle else None)

    async def _start_streaming(self, request: IcapRequest, writer: asyncio.StreamWriter) -> None:
        """Begin the 200 answer (unchanged headers) before the scan: trickle mode."""
        request.streaming = True
        res_hdr = request.sections.get("res-hdr", b"")
        writer.write(
            (
                "ICAP/1.0 200 OK\r\n"
                f"ISTag: {self.istag}\r\n"
                f"Encapsulated: res-hdr=0, res-body={len(res_hdr)}\r\n\r\n"
            ).encode("ascii")
            + res_hdr
        )
        self._echo(request, writer)
        await writer.drain()

    def _echo(self, request: IcapRequest, writer: asyncio.StreamWriter) -> None:
        upto = len(request.body) - self.config.trickle_holdback
        if upto > request.sent:
            writer.write(_chunk(bytes(request.body[request.sent : upto])))
            request.sent = upto

    async def _read_chunks(
        self,
        reader: asyncio.StreamReader,
        request: IcapRequest,
        limit: int,
        echo: asyncio.StreamWriter | None = None,
    ) -> bool:
        """Read chunks up to the terminating zero chunk; returns True on ``ieof``.

        With ``echo`` (trickle mode) the body is written back as it arrives, except for the
        last ``trickle_holdback`` bytes; while ``buffer_bytes`` allows, the echo waits until
        the body is over that size or the client stops sending for ``buffer_stall`` seconds.
        """

        async def recv(read: Callable[[], Awaitable[bytes]]) -> bytes:
            if echo is None or request.streaming:
                return await read()
            try:  # a StreamReader read that times out consumes nothing
                return await asyncio.wait_for(read(), self.config.buffer_stall)
            except TimeoutError:
                log.debug("ICAP client stopped sending at %d bytes: trickling", len(request.body))
                await self._start_streaming(request, echo)
                return await read()

        while True:
            try:
                line = await recv(lambda: reader.readuntil(b"\r\n"))
            except asyncio.LimitOverrunError as exc:
                raise IcapBadRequest("chunk size line too long") from exc
            size_text, _, ext = line[:-2].partition(b";")
            try:
                size = int(size_text.strip(), 16)
            except ValueError:
                raise IcapBadRequest(f"bad chunk size {size_text[:20]!r}") from None
            if size < 0:
                raise IcapBadRequest("negative chunk size")
            if size == 0:
                trailer = await recv(lambda: reader.readuntil(b"\r\n"))
                while trailer != b"\r\n":  # skip trailer headers
                    trailer = await recv(lambda: reader.readuntil(b"\r\n"))
                return ext.strip() == b"ieof"
            remaining = size
            while remaining:
                want = min(remaining, 256 * 1024)
                data = await recv(lambda want=want: reader.readexactly(want))  # type: ignore[misc]
                remaining -= len(data)
                if len(request.body) + len(data) > limit:
                    request.overflow = True  # keep draining, stop keeping
                else:
                    request.body += data
            if await recv(lambda: reader.readexactly(2)) != b"\r\n":
                raise IcapBadRequest("chunk not terminated by CRLF")
            if echo is not None:
                if not request.streaming and (
                    request.overflow or len(request.body) > self.config.buffer_bytes
                ):
                    await self._start_streaming(request, echo)
                if request.streaming:
                    if request.overflow:
                        raise ConnectionAbortedError("body over the scan limit in trickle mode")
                    self._echo(request, echo)
                    await echo.drain()

    # -- services ---------------------------------------------------------------------------

    async def _dispatch(self, request: IcapRequest, writer: asyncio.StreamWriter) -> None:
        service = request.service
        if service not in ("respmod", "reqmod"):
            writer.write(self._status(404, "ICAP Service Not Found"))
            return
        if request.method == "OPTIONS":
            writer.write(self._options(service))
            return
        if request.method.lower() != service:
            writer.write(self._status(405, "Method Not Allowed For Service"))
            return
        if not request.has_body:  # nothing to scan (a GET request, a 304 response)
            writer.write(self._unchanged(request))
            return
        loop = asyncio.get_running_loop()
        try:
            verdict, url = await loop.run_in_executor(self._executor, self._scan, request)
        except Exception:  # scanning itself broke: fail closed as configured
            log.exception("ICAP scan failed")
            verdict, url = _error_verdict("internal scanning failure"), ""
        answer = self._answer(request, verdict, url)
        if answer is None:
            # trickle mode: part of the body is already out; abort so it never completes
            writer.transport.abort()
            raise ConnectionAbortedError("blocked content in trickle mode")
        writer.write(answer)

    def _scan(self, request: IcapRequest) -> tuple[Verdict, str]:
        policy = self.engine.policies.for_tenant(self.config.tenant)
        req_line, req_headers = _http_headers(request.sections.get("req-hdr", b""))
        url = req_line.split(" ")[1] if req_line.count(" ") >= 2 else ""
        if request.method == "RESPMOD":
            _, headers = _http_headers(request.sections.get("res-hdr", b""))
        else:
            headers = req_headers
        name = _filename(url, headers)
        mime = headers.get("content-type", "")
        body = bytes(request.body)
        if request.overflow:
            reason = policy.decide(
                Reason(Category.LIMIT, "size_limit", f"body over {len(body)} bytes", "icap")
            )
            verdict = Verdict(reason.outcome, (reason,), name=name or url)
        elif request.method == "REQMOD" and mime.lower().startswith("multipart/form-data"):
            verdict = self._scan_form(body, mime, name or url, policy)
        else:
            verdict = self.engine.scan_bytes(
                body,
                name=name,
                declared_mime=mime if self.config.name_checks else "",
                policy=policy,
                name_checks=self.config.name_checks,
            )
            verdict = replace(verdict, name=name or url)
        self._emit(verdict, request, url, req_line)
        return verdict, url

    def _scan_form(self, body: bytes, mime: str, name: str, policy: Policy) -> Verdict:
        parsed = parse_message(f"Content-Type: {mime}\r\n\r\n".encode("latin-1") + body)
        reasons: list[Reason] = []
        items = 0
        for part in parsed.parts:
            verdict = self.engine.scan_bytes(
                part.data,
                name=part.filename,
                policy=policy,
                name_checks=self.config.name_checks,
            )
            items += verdict.items_scanned
            for reason in verdict.reasons:
                label = part.filename or f"field {part.index}"
                reasons.append(
                    replace(reason, path=label + (f"/{reason.path}" if reason.path else ""))
                )
        return Verdict(
            combine([r.outcome for r in reasons]),
            tuple(reasons),
            name=name,
            size=len(body),
            items_scanned=items,
        )

    # -- answers ----------------------------------------------------------------------------

    def _answer(self, request: IcapRequest, verdict: Verdict, url: str) -> bytes | None:
        """The ICAP response; None means "abort the connection" (trickle mode, not clean)."""
        if request.streaming:
            allowed = verdict.outcome is Outcome.CLEAN or (
                self.config.on_error == "allow"
                and verdict.outcome is not Outcome.BLOCKED
                and (verdict.temporary_failure or verdict.outcome is Outcome.ERROR)
            )
            if not allowed:
                return None
            return _chunk(bytes(request.body[request.sent :])) + b"0\r\n\r\n"
        outcome = verdict.outcome
        if verdict.temporary_failure or outcome is Outcome.ERROR:
            if self.config.on_error == "error":
                return self._status(500, "Server Error")
            if self.config.on_error == "allow" and outcome is not Outcome.BLOCKED:
                return self._unchanged(request)
            if outcome is not Outcome.BLOCKED:
                verdict = replace(verdict, outcome=Outcome.ERROR)
                outcome = Outcome.ERROR
        if outcome is Outcome.CLEAN:
            return self._unchanged(request)
        reference = ""
        if outcome is Outcome.QUARANTINED and self.quarantine is not None:
            item = self.quarantine.put(
                bytes(request.body),
                kind="http",
                name=verdict.name,
                tenant=self.config.tenant,
                verdict=verdict,
                actor="mamori:icap",
                meta={"url": url, "method": request.method},
            )
            reference = item.id
        page = render_block_page(
            verdict, url=url, reference=reference, contact=self.config.contact
        ).encode("utf-8")
        http = (
            "HTTP/1.1 403 Forbidden\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(page)}\r\n"
            "Cache-Control: no-store\r\n"
            f"X-Mamori-Verdict: {verdict.outcome.value}\r\n"
            "Connection: close\r\n\r\n"
        ).encode("ascii")
        head = (
            "ICAP/1.0 200 OK\r\n"
            f"ISTag: {self.istag}\r\n"
            f"Date: {formatdate(usegmt=True)}\r\n"
            f"Encapsulated: res-hdr=0, res-body={len(http)}\r\n\r\n"
        ).encode("ascii")
        return head + http + _chunked(page)

    def _unchanged(self, request: IcapRequest) -> bytes:
        # RFC 3507 4.6: 204 needs "Allow: 204", except as the answer to a preview
        if request.allow_204 or (request.header("preview") and not request.continued):
            return self._status(204, "No Content")
        # echo the message back unchanged
        if request.method == "RESPMOD":
            names = ["res-hdr"]
            body_name = "res-body"
        else:
            names = ["req-hdr"]
            body_name = "req-body"
        encapsulated: list[str] = []
        payload = b""
        for name in names:
            section = request.sections.get(name, b"")
            encapsulated.append(f"{name}={len(payload)}")
            payload += section
        if request.has_body:
            encapsulated.append(f"{body_name}={len(payload)}")
            body = _chunked(bytes(request.body))
        else:
            encapsulated.append(f"null-body={len(payload)}")
            body = b""
        head = (
            "ICAP/1.0 200 OK\r\n"
            f"ISTag: {self.istag}\r\n"
            f"Encapsulated: {', '.join(encapsulated)}\r\n\r\n"
        ).encode("ascii")
        return head + payload + body

    def _options(self, service: str) -> bytes:
        return (
            "ICAP/1.0 200 OK\r\n"
            f"Methods: {service.upper()}\r\n"
            f"Service: {self.config.service_name}\r\n"
            f"ISTag: {self.istag}\r\n"
            f"Max-Connections: {self.config.max_connections}\r\n"
            f"Options-TTL: {self.config.options_ttl}\r\n"
            "Allow: 204\r\n"
            f"Preview: {self.config.preview}\r\n"
            "Transfer-Preview: *\r\n"
            f"Date: {formatdate(usegmt=True)}\r\n"
            "Encapsulated: null-body=0\r\n\r\n"
        ).encode("ascii")

    def _status(self, code: int, text: str, *, close: bool = False) -> bytes:
        extra = "Connection: close\r\n" if close else ""
        return (
            f"ICAP/1.0 {code} {text}\r\nISTag: {self.istag}\r\n{extra}"
            "Encapsulated: null-body=0\r\n\r\n"
        ).encode("ascii")

    def _emit(self, verdict: Verdict, request: IcapRequest, url: str, req_line: str) -> None:
        if self.on_event is None:
            return
        context = {
            "url.full": url,
            "http.request.method": req_line.split(" ", 1)[0] if req_line else "",
            "icap.method": request.method,
            "scan.truncated": request.overflow,
        }
        try:
            self.on_event(
                verdict_event(
                    verdict,
                    source="scan:web",
                    tenant=self.config.tenant,
                    context=context,
                    timestamp=datetime.now(UTC),
                )
            )
        except Exception:
            log.exception("verdict event sink failed")


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n" if data else b""


def _chunked(data: bytes) -> bytes:
    if not data:
        return b"0\r\n\r\n"
    return f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n0\r\n\r\n"


def _filename(url: str, headers: dict[str, str]) -> str:
    disposition = headers.get("content-disposition", "")
    if "filename" in disposition:
        message = parse_message(f"Content-Disposition: {disposition}\r\n\r\n".encode("latin-1"))
        if message.parts and message.parts[0].filename:
            return message.parts[0].filename
    path = urlsplit(url).path if url else ""
    return unquote(path.rsplit("/", 1)[-1]) if path else ""


def _error_verdict(message: str) -> Verdict:
    reason = Reason(Category.ERROR, "scanner_error", message, "icap", outcome=Outcome.ERROR)
    return Verdict(Outcome.ERROR, (reason,))


__all__ = ["IcapBadRequest", "IcapConfig", "IcapRequest", "IcapServer"]
