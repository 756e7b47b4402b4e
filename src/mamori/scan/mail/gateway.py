"""The SMTP content filter: receive, scan every part, then relay, reject or quarantine.

Replies: 250 after the next hop accepted (or after quarantining / holding); 550 5.7.1 when the
policy blocks; 451 when a scanner or the next hop fails temporarily, so the sending MTA retries
and nothing is lost or delivered unscanned; 552 over the size limit; 452 over the recipient
limit; 421 over the connection limit. PPAP mail (an encrypted archive) is rejected,
quarantined or held per the tenant's policy; see :mod:`mamori.scan.mail.ppap`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from mamori.config import Settings
from mamori.model import Event
from mamori.scan.engine import ScanEngine, sha256_async
from mamori.scan.events import verdict_event
from mamori.scan.mail.message import ParsedMessage, parse_message
from mamori.scan.mail.notify import Notifier, SmtpNotifier
from mamori.scan.mail.ppap import Hold, HoldStore
from mamori.scan.mail.relay import NextHop, RelayResult
from mamori.scan.policy import Policy
from mamori.scan.quarantine import AuditCallback, QuarantineStore
from mamori.scan.verdict import Category, Outcome, Reason, Verdict, combine

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MailGatewayConfig:
    """Listening address, next hop and limits of the mail gateway."""

    host: str = "127.0.0.1"
    port: int = 10025
    next_hop: NextHop = field(default_factory=NextHop)
    hostname: str = "mamori.localdomain"
    tenant: str | None = None
    # recipient domain -> tenant (a domain also covers its subdomains); others get ``tenant``
    tenant_domains: tuple[tuple[str, str], ...] = ()
    max_message_bytes: int = 25 * 1024 * 1024
    max_recipients: int = 100
    max_connections: int = 50
    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_starttls: bool = False
    admin_addresses: tuple[str, ...] = ()
    notify_recipients: bool = True
    tempfail_on_scanner_error: bool = True
    workers: int = 4
    scan: bool = True  # False: relay only (the benchmark's baseline)
    session_timeout: float = 300.0


class _SMTP(SMTP):
    """aiosmtpd's SMTP, counting live connections for the gateway's limit."""

    def __init__(self, gateway: MailGateway, **kwargs: Any) -> None:
        super().__init__(gateway, **kwargs)
        self._gateway = gateway
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._counted:
            self._counted = True
            self._gateway.active_connections += 1
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted:
            self._counted = False
            self._gateway.active_connections -= 1
        super().connection_lost(error)


class _Busy(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)  # noqa: S101 - a TCP transport
        transport.write(b"421 4.7.0 Too many connections, try again later\r\n")
        transport.close()


class MailGateway:
    """The filter. ``process`` holds the whole decision and can be called without SMTP."""

    def __init__(
        self,
        engine: ScanEngine,
        config: MailGatewayConfig,
        *,
        quarantine: QuarantineStore,
        holds: HoldStore,
        on_event: Callable[[Event], None] | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.quarantine = quarantine
        self.holds = holds
        self.on_event = on_event
        self.notifier = notifier or SmtpNotifier(
            config.next_hop, sender=f"postmaster@{config.hostname}"
        )
        self.active_connections = 0
        self.port = config.port
        self._server: asyncio.AbstractServer | None = None
        self._executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="mail")
        self._sweeper: asyncio.Task[None] | None = None
        self._tls = self._tls_context()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        engine: ScanEngine,
        config: MailGatewayConfig,
        *,
        on_event: Callable[[Event], None] | None = None,
        audit: AuditCallback | None = None,
    ) -> MailGateway:
        """The gateway with its state in ``settings.data_dir`` (``quarantine/``, ``ppap/``);
        ``on_event`` gets every verdict event, ``audit`` every quarantine action."""
        return cls(
            engine,
            config,
            quarantine=QuarantineStore.from_settings(settings, audit=audit),
            holds=HoldStore(settings.ensure_data_dir() / "ppap"),
            on_event=on_event,
        )

    # -- network ----------------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.config.tls_cert is None:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return ctx

    def _factory(self) -> asyncio.Protocol:
        if self.active_connections >= self.config.max_connections:
            return _Busy()
        return _SMTP(
            self,
            data_size_limit=self.config.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=self.config.hostname,
            ident="mamori ESMTP content filter",
            tls_context=self._tls,
            require_starttls=self.config.require_starttls and self._tls is not None,
            timeout=self.config.session_timeout,
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._factory, self.config.host, self.config.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._sweeper = asyncio.create_task(self._sweep())
        log.info("mail gateway listening on %s:%d", self.config.host, self.port)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # wait for running scans off the loop: their event callbacks may need the loop
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown)

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(self._executor, self.expire_holds)
            except Exception:  # the sweeper must keep running
                log.exception("expiring PPAP holds failed")
            await asyncio.sleep(60)

    # -- aiosmtpd handler hooks -------------------------------------------------------------

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self,
        server: SMTP,  # noqa: ARG002
        session: Session,  # noqa: ARG002
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],  # noqa: ARG002
    ) -> str:
        if len(envelope.rcpt_tos) >= self.config.max_recipients:
            return "452 4.5.3 Too many recipients"
        if envelope.rcpt_tos and self.tenant_for([address]) != self.tenant_for(envelope.rcpt_tos):
            # one tenant's policy per transaction: the client retries this one separately
            return "451 4.5.3 Recipient of another tenant, send it in a separate transaction"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self,
        server: SMTP,  # noqa: ARG002
        session: Session,
        envelope: Envelope,
    ) -> str:
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode("utf-8")
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor,
                self.process,
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
                data,
                peer,
            )
        except Exception:  # never lose a message: the sender retries
            log.exception("processing a message failed")
            return "451 4.3.0 Temporary failure in the content filter"

    # -- the decision -----------------------------------------------------------------------

    def scan_message(
        self, parsed: ParsedMessage, raw: bytes, policy: Policy, passwords: Sequence[str] = ()
    ) -> Verdict:
        """One verdict for the whole message: every part, plus MIME defects."""
        digest = sha256_async(raw)  # overlaps with the scans of the parts
        reasons: list[Reason] = []
        if parsed.defects:
            reasons.append(
                policy.decide(
                    Reason(
                        Category.MALFORMED,
                        "malformed_mime",
                        ", ".join(parsed.defects),
                        "mail",
                    )
                )
            )
        items = 0
        decrypted: list[str] = []
        for part in parsed.parts:
            verdict = self.engine.scan_bytes(
                part.data,
                name=part.filename,
                declared_mime=part.content_type if part.attachment else "",
                policy=policy,
                passwords=passwords,
            )
            items += verdict.items_scanned
            decrypted += [f"{part.label}/{p}" for p in verdict.extra.get("decrypted", [])]
            for reason in verdict.reasons:
                path = part.label + (f"/{reason.path}" if reason.path else "")
                reasons.append(replace(reason, path=path))
        return Verdict(
            outcome=combine([r.outcome for r in reasons]),
            reasons=tuple(reasons),
            name=parsed.subject or parsed.message_id or "message",
            size=len(raw),
            sha256=digest.result(),
            detected_type="message/rfc822",
            items_scanned=items,
            extra={"decrypted": decrypted} if decrypted else {},
        )

    def tenant_for(self, rcpt_tos: Sequence[str]) -> str | None:
        """The tenant of a transaction, from its first recipient's domain."""
        if rcpt_tos and self.config.tenant_domains:
            domain = rcpt_tos[0].strip().strip("<>").rsplit("@", 1)[-1].lower()
            for suffix, tenant in self.config.tenant_domains:
                suffix = suffix.lower().lstrip(".")
                if domain == suffix or domain.endswith("." + suffix):
                    return tenant
        return self.config.tenant

    def process(self, mail_from: str, rcpt_tos: list[str], data: bytes, peer: str = "") -> str:
        """Decide about one message and return the SMTP reply."""
        tenant = self.tenant_for(rcpt_tos)
        policy = self.engine.policies.for_tenant(tenant)
        if not self.config.scan:
            return self.config.next_hop.send(mail_from, rcpt_tos, data).reply()
        parsed = parse_message(data)
        verdict = self.scan_message(parsed, data, policy)
        context = {
            "mail.from": mail_from,
            "mail.to": list(rcpt_tos),
            "mail.subject": parsed.subject,
            "mail.message_id": parsed.message_id,
            "source.ip": peer,
            "tenant": tenant,
        }
        bad = [r for r in verdict.reasons if r.outcome is not Outcome.CLEAN]

        if verdict.outcome is Outcome.BLOCKED:
            self._emit(verdict, context, "rejected")
            return f"550 5.7.1 Message rejected by content filter: {_ascii(verdict.summary('en'))}"
        if verdict.temporary_failure and self.config.tempfail_on_scanner_error:
            self._emit(verdict, context, "deferred")
            return "451 4.7.1 Temporary content scanning failure, try again later"
        if verdict.outcome is Outcome.ERROR:
            self._emit(verdict, context, "deferred")
            return "451 4.7.1 Message could not be scanned, try again later"
        if bad and all(r.category is Category.ENCRYPTED for r in bad):
            return self._ppap(mail_from, rcpt_tos, data, parsed, verdict, policy, context)
        if verdict.outcome is Outcome.QUARANTINED:
            item = self._quarantine(mail_from, rcpt_tos, data, parsed, verdict, peer, tenant)
            self._emit(verdict, {**context, "quarantine.id": item}, "quarantined")
            self._notify("quarantined", rcpt_tos, item, parsed, mail_from, verdict)
            return f"250 2.0.0 Accepted and quarantined as {item}"

        # clean: maybe it is the password mail for a held PPAP message
        holds = self.holds.matching(mail_from, rcpt_tos) if mail_from else []  # not bounces
        for hold in holds:
            try:
                self._try_release(hold, parsed.text, policy)
            except Exception:  # the password mail itself must still go through
                log.exception("releasing PPAP hold %s failed", hold.id)
        result = self.config.next_hop.send(mail_from, rcpt_tos, self._stamp(data, verdict))
        context["mail.next_hop"] = result.reply()
        if result.ok and result.refused:
            # accepted for the others: tell the sender which recipients the next hop refused
            refused = [f"{rcpt}: {code} {text}" for rcpt, (code, text) in result.refused.items()]
            context["mail.refused"] = refused
            notice_to = [mail_from] if mail_from else list(self.config.admin_addresses)
            try:
                self.notifier.notify(
                    "refused",
                    recipients=notice_to,
                    item_id="",
                    subject=parsed.subject,
                    sender=mail_from,
                    expires="\n".join(refused),
                )
            except Exception:  # best effort, like every notice
                log.exception("refusal notice failed")
        self._emit(verdict, context, _action(result))
        return result.reply()

    # -- PPAP -------------------------------------------------------------------------------

    def _ppap(
        self,
        mail_from: str,
        rcpt_tos: list[str],
        data: bytes,
        parsed: ParsedMessage,
        verdict: Verdict,
        policy: Policy,
        context: dict[str, Any],
    ) -> str:
        mode = policy.ppap.mode
        if mode == "reject":
            self._emit(verdict, context, "rejected")
            return (
                "550 5.7.1 Password-protected archives are not accepted (PPAP); "
                "please use a file-sharing service"
            )
        if mode == "quarantine":
            item = self._quarantine(
                mail_from, rcpt_tos, data, parsed, verdict, "", context["tenant"]
            )
            self._emit(verdict, {**context, "quarantine.id": item}, "quarantined")
            self._notify("quarantined", rcpt_tos, item, parsed, mail_from, verdict)
            return f"250 2.0.0 Accepted and quarantined as {item}"
        item = self._quarantine(
            mail_from, rcpt_tos, data, parsed, verdict, "", context["tenant"], status="held"
        )
        hold = self.holds.add(
            item,
            sender=mail_from,
            recipients=rcpt_tos,
            hours=policy.ppap.hold_hours,
            tenant=context["tenant"],
        )
        self._emit(verdict, {**context, "quarantine.id": item}, "held")
        self._notify("held", rcpt_tos, item, parsed, mail_from, verdict, expires=hold.expires)
        return f"250 2.0.0 Accepted and held for the password mail as {item}"

    def _try_release(self, hold: Hold, text: str, policy: Policy) -> str:
        """Open a held message with the passwords in ``text``; returns what happened."""
        item = self.quarantine.get(hold.id)
        if item.status != "held":  # an operator released or deleted it meanwhile
            self.holds.remove(hold.id)
            return "not-held"
        passwords = _candidates(text, policy)
        if not passwords:
            return "no-candidates"
        raw = self.quarantine.content(hold.id)
        parsed = parse_message(raw)
        verdict = self.scan_message(parsed, raw, policy, passwords)
        bad = [r for r in verdict.reasons if r.outcome is not Outcome.CLEAN]
        mail_from = str(item.meta.get("mail_from", hold.sender))
        rcpt_tos = [str(r) for r in item.meta.get("rcpt_tos", hold.recipients)]
        context = {
            "mail.from": mail_from,
            "mail.to": rcpt_tos,
            "quarantine.id": hold.id,
            "tenant": hold.tenant,
        }
        if bad and all(r.category is Category.ENCRYPTED for r in bad):
            return "still-encrypted"  # wrong passwords: keep holding until it expires
        if verdict.temporary_failure:
            return "deferred"
        if verdict.outcome is Outcome.CLEAN:
            result = self.config.next_hop.send(mail_from, rcpt_tos, self._stamp(raw, verdict))
            if not result.ok:
                return "relay-failed"
            self.quarantine.set_status(
                hold.id, "released", actor="mamori:ppap", note="password mail"
            )
            self.holds.remove(hold.id)
            self._emit(verdict, context, "released")
            return "released"
        self.quarantine.set_status(
            hold.id, "quarantined", actor="mamori:ppap", note=verdict.summary("en")
        )
        self.holds.remove(hold.id)
        self._emit(verdict, context, "blocked")
        self._notify("blocked_after_password", rcpt_tos, hold.id, parsed, mail_from, verdict)
        return "blocked"

    def expire_holds(self, now: datetime | None = None) -> int:
        """Quarantine holds whose password mail did not come in time; returns how many."""
        count = 0
        for hold in self.holds.expired(now=now or datetime.now(UTC)):
            try:
                item = self.quarantine.set_status(
                    hold.id, "quarantined", actor="mamori:ppap", note="hold expired"
                )
            except Exception:  # noqa: BLE001 - item gone: drop the stale hold
                self.holds.remove(hold.id)
                continue
            self.holds.remove(hold.id)
            rcpts = [str(r) for r in item.meta.get("rcpt_tos", hold.recipients)]
            self.notifier.notify(
                "expired",
                recipients=[*rcpts, *self.config.admin_addresses],
                item_id=hold.id,
                subject=str(item.meta.get("subject", "")),
                sender=hold.sender,
            )
            count += 1
        return count

    # -- operator release -------------------------------------------------------------------

    def release(self, item_id: str, *, actor: str, note: str = "") -> RelayResult:
        """Deliver a quarantined or held message to its recipients (operator action)."""
        item = self.quarantine.get(item_id)
        data = self.quarantine.content(item_id)
        result = self.config.next_hop.send(
            str(item.meta.get("mail_from", "")), [str(r) for r in item.meta["rcpt_tos"]], data
        )
        if result.ok:
            self.quarantine.set_status(item_id, "released", actor=actor, note=note)
            self.holds.remove(item_id)
        return result

    # -- helpers ----------------------------------------------------------------------------

    def _quarantine(
        self,
        mail_from: str,
        rcpt_tos: list[str],
        data: bytes,
        parsed: ParsedMessage,
        verdict: Verdict,
        peer: str,
        tenant: str | None,
        *,
        status: str = "quarantined",
    ) -> str:
        item = self.quarantine.put(
            data,
            kind="mail",
            name=parsed.subject,
            tenant=tenant,
            verdict=verdict,
            status=status,
            actor="mamori:mail",
            meta={
                "mail_from": mail_from,
                "rcpt_tos": list(rcpt_tos),
                "subject": parsed.subject,
                "message_id": parsed.message_id,
                "peer": peer,
            },
        )
        return item.id

    def _notify(
        self,
        kind: str,
        rcpt_tos: Sequence[str],
        item_id: str,
        parsed: ParsedMessage,
        mail_from: str,
        verdict: Verdict,
        *,
        expires: str = "",
    ) -> None:
        recipients = list(rcpt_tos) if self.config.notify_recipients else []
        recipients += [a for a in self.config.admin_addresses if a not in recipients]
        try:
            self.notifier.notify(
                kind,
                recipients=recipients,
                item_id=item_id,
                subject=parsed.subject,
                sender=mail_from,
                verdict=verdict,
                expires=expires,
            )
        except Exception:  # the message is safe in quarantine; a notice is best effort
            log.exception("notification %s for %s failed", kind, item_id)

    def _stamp(self, data: bytes, verdict: Verdict) -> bytes:
        header = f"X-Mamori-Scan: {verdict.outcome.value}; engine={self.engine.version()}\r\n"
        return header.encode("ascii") + data

    def _emit(self, verdict: Verdict, context: dict[str, Any], action: str) -> None:
        if self.on_event is None:
            return
        fields = {k: v for k, v in context.items() if k != "tenant"}
        event = verdict_event(
            verdict,
            source="scan:mail",
            tenant=context.get("tenant", self.config.tenant),
            host=self.config.hostname,
            context={**fields, "mail.action": action},
        )
        try:
            self.on_event(event)
        except Exception:  # a sink failure must not change the SMTP answer
            log.exception("verdict event sink failed")


def _candidates(text: str, policy: Policy) -> list[str]:
    from mamori.scan.mail.ppap import candidate_passwords

    return candidate_passwords(text, policy.ppap.max_candidates)


def _action(result: RelayResult) -> str:
    if result.ok:
        return "relayed"
    return "deferred" if result.temporary else "bounced"


def _ascii(text: str) -> str:
    """Safe for an SMTP reply line: ASCII only, no control characters (no CRLF injection)."""
    printable = "".join(c if " " <= c < "\x7f" else "?" for c in text)
    return printable[:300]


__all__ = ["MailGateway", "MailGatewayConfig"]
