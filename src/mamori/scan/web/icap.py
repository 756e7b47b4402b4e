"""An ICAP server (RFC 3507) for Squid: OPTIONS, RESPMOD (downloads), REQMOD (uploads).

mamori reads the WHOLE encapsulated body (up to the policy's ``max_file_bytes``), scans it, and
only then answers: ``204 No Content`` (when the client allows it: ``Allow: 204``, or a preview
that held the whole body) or the unchanged message for clean content, and a ``200`` whose HTTP
response is an HTML block page (403, Japanese and English) for blocked or unscannable content.
Preview (``100 Continue`` / ``ieof``), ``ISTag`` (changes with the rule set), persistent
connections and chunked bodies are supported; OPTIONS advertises a preview only when
configured (``preview``), because mamori has to see the whole body anyway.

A body over the scan limit gets the policy's ``limit`` answer: when the policy allows it
(``actions.limit: allow`` or ``code_actions.size_limit: allow``) it is streamed back unscanned,
otherwise the rest is drained and the block page answers. What happens when a scanner is down
is configurable (``on_error``): the block page (default, fail closed), an ICAP 500 (Squid then
fails the transaction unless the service is ``bypass=on``), or pass.

Squid 5 (Debian 12's 5.7) and large downloads: Squid buffers at most 64 KiB of a response
body for the ICAP service (its ``BodyPipe``). When that buffer is full at the moment Squid
reads from the origin, Squid parks the read on the response's store entry, and only data
reaching the client wakes it (Squid bug 5352, fixed in Squid 7). An ICAP server that answers
only after the whole body therefore waits forever for any response over about 64 KiB from a
fast origin. A delay pool whose rate is far above the link speed wakes parked reads every
second; :func:`mamori.scan.web.squid.squid_conf` prints the squid.conf lines, with it.
Without them, ``stall_timeout`` seconds without body data make mamori fall back to streaming
the download back while it arrives (holding back the last ``trickle_holdback`` bytes): clean
content completes, blocked content ends as an aborted transfer instead of the block page.
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
from mamori.scan.digests import Hasher
from mamori.scan.engine import ScanEngine
from mamori.scan.events import verdict_event
from mamori.scan.mail.message import parse_message
from mamori.scan.policy import Policy
from mamori.scan.quarantine import QuarantineStore
from mamori.scan.verdict import Category, Outcome, Reason, Verdict, combine
from mamori.scan.web.blockpage import render_block_page

log = logging.getLogger(__name__)

_MAX_HEADER = 64 * 1024
_READ_BUFFER = 1024 * 1024  # stream reader buffer: body chunks arrive in large pieces
_SECTIONS = ("req-hdr", "res-hdr", "req-body", "res-body", "null-body", "opt-body")


class IcapBadRequest(Exception):
    """A request that does not follow RFC 3507 (answered with 400, connection closed)."""


@dataclass(frozen=True, slots=True)
class IcapConfig:
    host: str = "127.0.0.1"
    port: int = 1344
    tenant: str | None = None
    # Preview size advertised in OPTIONS; None = no preview (the client sends the whole body).
    preview: int | None = None
    max_connections: int = 100
    on_error: Literal["block", "error", "allow"] = "block"
    name_checks: bool = False  # apply the attachment policy's name/type checks to downloads
    contact: str = ""
    # Bytes of a body held until it is scanned; 0 = up to the policy's max_file_bytes (the
    # whole body). A smaller value streams larger bodies back while they arrive (the last
    # ``trickle_holdback`` bytes wait for the scan; blocked content ends as an aborted transfer).
    buffer_bytes: int = 0
    # Seconds without RESPMOD body data before streaming starts anyway (a Squid that waits for
    # the answer, see the module docstring); 0 = wait for the whole body however long it takes.
    stall_timeout: float = 10.0
    trickle_holdback: int = 16 * 1024
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
    received: int = 0  # body bytes read (kept or not)
    continued: bool = False  # "100 Continue" was sent after the preview
    streaming: bool = False  # the 200 response was started before the scan (trickle mode)
    sent: int = 0  # kept body bytes already echoed while streaming
    oversize_allowed: bool = False  # over the scan limit, and the policy lets it pass
    hasher: Hasher | None = None  # the engine's digests, computed while the body arrives

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
            self._client, self.config.host, self.config.port, limit=_READ_BUFFER
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
        if len(head) > _MAX_HEADER:
            raise IcapBadRequest("ICAP header too long")
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
        wanted = self.engine.object_digests()
        if wanted and not _is_form(request):
            request.hasher = Hasher(wanted)
        preview = bool(request.header("preview"))
        # the answer channel is handed to the reader once the whole rest of the body follows
        # (and only for a request its service will answer with the message)
        answer = writer if request.method.lower() == request.service else None
        ieof = await self._read_chunks(reader, request, limit, None if preview else answer)
        if preview and not ieof:
            writer.write(b"ICAP/1.0 100 Continue\r\n\r\n")
            request.continued = True
            await writer.drain()
            await self._read_chunks(reader, request, limit, answer)

    async def _start_streaming(self, request: IcapRequest, writer: asyncio.StreamWriter) -> None:
        """Begin the 200 answer (unchanged headers) before the scan has a verdict."""
        request.streaming = True
        if request.method == "RESPMOD":
            hdr, names = request.sections.get("res-hdr", b""), ("res-hdr", "res-body")
        else:
            hdr, names = request.sections.get("req-hdr", b""), ("req-hdr", "req-body")
        writer.write(
            (
                "ICAP/1.0 200 OK\r\n"
                f"ISTag: {self.istag}\r\n"
                f"Encapsulated: {names[0]}=0, {names[1]}={len(hdr)}\r\n\r\n"
            ).encode("ascii")
            + hdr
        )
        self._echo(request, writer, holdback=not request.oversize_allowed)
        await writer.drain()

    def _echo(
        self, request: IcapRequest, writer: asyncio.StreamWriter, *, holdback: bool = True
    ) -> None:
        upto = len(request.body) - (self.config.trickle_holdback if holdback else 0)
        if upto > request.sent:
            writer.write(_chunk(bytes(request.body[request.sent : upto])))
            request.sent = upto

    async def _hash(self, hasher: Hasher, data: bytes) -> None:
        """Feed the digests while the body arrives: big pieces on a worker thread (hashlib
        releases the GIL there), so the event loop keeps serving the other connections."""
        if len(data) < 64 * 1024:
            hasher.update(data)
        else:
            await asyncio.get_running_loop().run_in_executor(self._executor, hasher.update, data)

    def _oversize_allowed(self) -> bool:
        policy = self.engine.policies.for_tenant(self.config.tenant)
        return policy.outcome_for(_oversize_reason(policy.limits.max_file_bytes)) is Outcome.CLEAN

    async def _read_chunks(
        self,
        reader: asyncio.StreamReader,
        request: IcapRequest,
        limit: int,
        answer: asyncio.StreamWriter | None = None,
    ) -> bool:
        """Read chunks up to the terminating zero chunk; returns True on ``ieof``.

        The body is kept up to ``limit`` bytes. ``answer`` (the rest of the body follows) lets
        the answer start before the end: a body over ``buffer_bytes`` or one whose sender
        pauses ``stall_timeout`` seconds (RESPMOD) is echoed while it arrives, less the last
        ``trickle_holdback`` bytes; a body over ``limit`` that the policy lets pass is echoed
        whole. Blocked content that already streams is cut off (the connection is aborted).
        """
        hold = min(limit, self.config.buffer_bytes) if self.config.buffer_bytes > 0 else limit
        stall = self.config.stall_timeout if request.method == "RESPMOD" else 0.0

        async def recv(read: Callable[[], Awaitable[bytes]]) -> bytes:
            if answer is None or request.streaming or stall <= 0:
                return await read()
            try:  # a StreamReader read that times out consumes nothing
                return await asyncio.wait_for(read(), stall)
            except TimeoutError:
                log.warning(
                    "ICAP client stopped sending at %d bytes for %.1f s: streaming the answer"
                    " (see mamori.scan.web.squid for the squid.conf lines that avoid this)",
                    request.received,
                    stall,
                )
                await self._start_streaming(request, answer)
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
                request.received += len(data)
                if not request.overflow and len(request.body) + len(data) <= limit:
                    request.body += data
                    if request.hasher is not None:
                        await self._hash(request.hasher, data)
                    continue
                if not request.overflow:  # the scan limit is reached: the policy decides
                    request.overflow = True
                    request.oversize_allowed = self._oversize_allowed()
                    if answer is not None and request.oversize_allowed:
                        if not request.streaming:
                            await self._start_streaming(request, answer)
                        self._echo(request, answer, holdback=False)
                if request.streaming and answer is not None:
                    if not request.oversize_allowed:
                        raise ConnectionAbortedError("body over the scan limit while streaming")
                    answer.write(_chunk(data))
                    await answer.drain()
                # else: keep draining, stop keeping; the block page answers at the end
            if await recv(lambda: reader.readexactly(2)) != b"\r\n":
                raise IcapBadRequest("chunk not terminated by CRLF")
            if answer is not None and not request.overflow:
                if not request.streaming and len(request.body) > hold:
                    await self._start_streaming(request, answer)
                if request.streaming:
                    self._echo(request, answer)
                    await answer.drain()

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
            reason = policy.decide(_oversize_reason(policy.limits.max_file_bytes))
            verdict = Verdict(reason.outcome, (reason,), name=name or url, size=request.received)
        elif request.method == "REQMOD" and mime.lower().startswith("multipart/form-data"):
            verdict = self._scan_form(body, mime, name or url, policy)
        else:
            verdict = self.engine.scan_bytes(
                body,
                name=name,
                declared_mime=mime if self.config.name_checks else "",
                policy=policy,
                name_checks=self.config.name_checks,
                digests=request.hasher.digests() if request.hasher is not None else None,
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
            if request.overflow:  # only part of the body is here: it cannot be echoed
                return self._status(500, "Server Error")
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
                meta={"url": url, "method": request.method, "truncated": request.overflow},
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
        preview = ""
        if self.config.preview is not None:
            preview = f"Preview: {self.config.preview}\r\nTransfer-Preview: *\r\n"
        return (
            "ICAP/1.0 200 OK\r\n"
            f"Methods: {service.upper()}\r\n"
            f"Service: {self.config.service_name}\r\n"
            f"ISTag: {self.istag}\r\n"
            f"Max-Connections: {self.config.max_connections}\r\n"
            f"Options-TTL: {self.config.options_ttl}\r\n"
            "Allow: 204\r\n"
            f"{preview}"
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


def _is_form(request: IcapRequest) -> bool:
    """A REQMOD upload form: its parts are scanned one by one, not the body as a whole."""
    if request.method != "REQMOD":
        return False
    _, headers = _http_headers(request.sections.get("req-hdr", b""))
    return headers.get("content-type", "").lower().startswith("multipart/form-data")


def _oversize_reason(limit: int) -> Reason:
    return Reason(Category.LIMIT, "size_limit", f"body over the {limit}-byte scan limit", "icap")


def _error_verdict(message: str) -> Verdict:
    reason = Reason(Category.ERROR, "scanner_error", message, "icap", outcome=Outcome.ERROR)
    return Verdict(Outcome.ERROR, (reason,))


__all__ = ["IcapBadRequest", "IcapConfig", "IcapRequest", "IcapServer"]
