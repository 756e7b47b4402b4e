"""The response area in the running product: SQL repositories, notifiers from the settings,
the audit trail, the alert consumer (durable ``respond`` on ``mamori.alerts.>``) and the
periodic :meth:`~mamori.respond.wiring.Respond.tick`.

Every incident change the response services make is an :class:`~mamori.hooks.AuditRecorded`
hook; :class:`AuditWriter` appends it to the foundation audit log (hash chain), so the
MTTA/MTTR figures can be traced to the audit trail as well as to each incident's timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mamori.bus.base import Bus, Delivery, Subscription
from mamori.bus.dedup import Deduplicator as SeenIds
from mamori.bus.subjects import ALERTS_ALL
from mamori.config import Settings
from mamori.errors import ConfigError
from mamori.hooks import AuditRecorded
from mamori.respond.actions import ActionDeps
from mamori.respond.channels import SmtpRelay
from mamori.respond.clock import Clock, system_clock
from mamori.respond.events import AlertGrouped, IncidentOpened
from mamori.respond.intake import IntakeResult
from mamori.respond.models import RejectedAlert
from mamori.respond.notify import Notifier
from mamori.respond.notify.chat import ChatWebhookNotifier
from mamori.respond.notify.email import EmailNotifier
from mamori.respond.notify.webhook import WebhookNotifier
from mamori.respond.oncall import Rota
from mamori.respond.sla import SlaContract, load_contracts
from mamori.respond.wiring import Respond, TenantChannels
from mamori.store.db import Database
from mamori.store.repos import audit
from mamori.store.repos.respond import RespondStore
from mamori.store.repos.respond_channels import SqlChannelRepo
from mamori.store.repos.respond_hosts import SqlHostInventory
from mamori.store.tables import Tenant

if TYPE_CHECKING:  # runtime imports this module for SERVICE_FACTORIES
    from mamori.cli.runtime import BackgroundService, ServiceContext

log = logging.getLogger(__name__)

DURABLE = "respond"
MAX_DELIVERIES = 5


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def soc_notifiers(settings: Settings, *, to: tuple[str, ...] | None = None) -> list[Notifier]:
    """The MSSP's channels from the settings (none unless configured).

    Raises:
        ConfigError: webhooks without a signing secret, or a bad chat style.
    """
    out: list[Notifier] = []
    recipients = to if to is not None else tuple(_split(settings.respond_soc_emails))
    if settings.respond_smtp_host and recipients:
        out.append(
            EmailNotifier(
                host=settings.respond_smtp_host,
                port=settings.respond_smtp_port,
                sender=settings.respond_smtp_from,
                to=recipients,
                starttls=settings.respond_smtp_starttls,
                username=settings.respond_smtp_username or None,
                password=settings.respond_smtp_password or None,
            )
        )
    if to is not None:
        return out
    urls = _split(settings.respond_webhook_urls)
    if urls and not settings.respond_webhook_secret:
        raise ConfigError("MAMORI_RESPOND_WEBHOOK_URLS needs MAMORI_RESPOND_WEBHOOK_SECRET")
    out.extend(WebhookNotifier(url=u, secret=settings.respond_webhook_secret) for u in urls)
    if settings.respond_chat_webhook_url:
        style = settings.respond_chat_style
        if style not in ("slack", "teams"):
            raise ConfigError(f"MAMORI_RESPOND_CHAT_STYLE must be slack or teams, not {style!r}")
        out.append(
            ChatWebhookNotifier(
                url=settings.respond_chat_webhook_url,
                style="slack" if style == "slack" else "teams",
            )
        )
    return out


def smtp_relay(settings: Settings) -> SmtpRelay | None:
    """The SMTP relay the tenants' e-mail channels use (None when not configured)."""
    return SmtpRelay.from_settings(settings)


def _backoff(settings: Settings) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in _split(settings.respond_notify_backoff))
    except ValueError:
        value = settings.respond_notify_backoff
        raise ConfigError(f"MAMORI_RESPOND_NOTIFY_BACKOFF must be numbers, not {value!r}") from None


def _contracts(settings: Settings) -> dict[str, SlaContract]:
    return load_contracts(settings.respond_sla_file) if settings.respond_sla_file else {}


def _rota(settings: Settings) -> tuple[Rota | None, dict[str, list[Notifier]]]:
    """The rota file: ``analysts``, ``period_days``... plus ``contacts: {name: email}``."""
    path = settings.respond_oncall_file
    if path is None:
        return None, {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read on-call rota {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the rota must be a mapping")
    rota = Rota.from_dict(data)
    contacts = data.get("contacts") or {}
    channels = {
        str(name): soc_notifiers(settings, to=(str(addr),)) for name, addr in contacts.items()
    }
    return rota, channels


class AuditWriter:
    """Appends the response area's audit hooks to the foundation audit log."""

    def __init__(self, db: Database, store: RespondStore) -> None:
        self.db = db
        self.store = store

    def __call__(self, hook: AuditRecorded) -> None:
        tenant_id = self.store.directory.tenant_id(hook.tenant) if hook.tenant else None
        incident = hook.detail.get("incident_id")
        with self.db.session() as session:
            audit.record(
                session,
                action=hook.action,
                actor=hook.actor or "system",
                tenant_id=tenant_id,
                target=f"incident:{incident}" if incident else "",
                detail=hook.detail,
            )

    def opened(self, hook: IncidentOpened) -> None:
        inc = hook.incident
        self(
            AuditRecorded(
                action="incident.opened",
                actor="system",
                tenant=inc.tenant,
                detail={
                    "incident_id": inc.id,
                    "version": inc.version,
                    "severity": inc.severity.value,
                    "alert_id": hook.alert.id,
                    "summary": inc.title,
                },
            )
        )


def warm_up(respond: Respond, store: RespondStore) -> tuple[int, int]:
    """Rebuild the in-memory dedup window and grouping index from the store, so a restarted
    process folds and groups alerts as the one before it did; records a stopped worker
    claimed but never grouped (no incident) are grouped now. Returns (records, incidents).

    The grouping index is rebuilt before orphans are adopted, so they join open incidents.
    """
    dedup = respond.intake.dedup
    since = datetime.now(UTC) - dedup.window
    records = store.alerts.since(since)
    open_incidents = store.incidents.list(open_only=True)
    for incident in open_incidents:
        respond.intake.grouper.remember_incident(incident)
    for record in records:
        if record.incident_id is None:
            # claimed by a worker that stopped before grouping it: group it now
            log.warning("alert %s has no incident; grouping it now", record.id)
            respond.intake.adopt(record)
        dedup.remember(record.dedup_key, record.id, record.first_seen)
    return len(records), len(open_incidents)


def _grouped_hook(hook: AlertGrouped) -> AuditRecorded:
    inc = hook.incident
    return AuditRecorded(
        action="incident.alert",
        actor="system",
        tenant=inc.tenant,
        detail={
            "incident_id": inc.id,
            "version": inc.version,
            "alert_id": hook.alert.id,
            "summary": hook.alert.rule_title,
        },
    )


def build_respond(
    settings: Settings,
    db: Database,
    *,
    background: bool = True,
    clock: Clock = system_clock,
    soc: list[Notifier] | None = None,
    store: RespondStore | None = None,
) -> Respond:
    """The response services over the SQL store, with notifiers from the settings.

    Raises:
        ConfigError: a bad SLA, rota or notification setting.
    """
    store = store or RespondStore(db)
    with db.session() as session:
        names = {t.slug: t.name for t in session.query(Tenant).all()}
    channels = soc_notifiers(settings) if soc is None else soc
    rota, analyst_channels = _rota(settings)
    respond = Respond(
        directory=store.directory,
        incidents=store.incidents,
        alerts=store.alerts,
        blobs=store.blobs,
        breach_repo=store.breaches,
        action_repo=store.actions,
        run_repo=store.runs,
        delivery_repo=store.deliveries,
        page_repo=store.pages,
        contracts=_contracts(settings),
        tenants={slug: TenantChannels(display_name=name) for slug, name in names.items()},
        soc=TenantChannels(lang=settings.default_language, channels={"soc": channels}),
        rota=rota,
        analyst_channels=analyst_channels,
        deps=ActionDeps(commands=store.commands, blocklist=store.blocklist),
        backoff=_backoff(settings),
        base_url=settings.respond_base_url,
        background=background,
        clock=clock,
        channel_repo=SqlChannelRepo(db, secret_key=settings.ensure_secret_key()),
        smtp=smtp_relay(settings),
        inventory=SqlHostInventory(db),
    )
    writer = AuditWriter(db, store)
    respond.dispatcher.subscribe(AuditRecorded, writer)
    respond.dispatcher.subscribe(IncidentOpened, writer.opened)
    respond.dispatcher.subscribe(AlertGrouped, lambda hook: writer(_grouped_hook(hook)))
    warm_up(respond, store)
    return respond


class RespondService:
    """Consumes alerts from the bus into incidents; runs the periodic tick.

    A message is acked only after the intake has committed it; a replay of a handled
    message id is acked without a second intake. A payload that fails ``MAX_DELIVERIES``
    times is kept as a rejected alert (with the error) and acked: visible, never lost.
    """

    name = "respond"

    def __init__(
        self,
        *,
        respond: Respond,
        bus: Bus,
        tick_seconds: float = 30.0,
        seen_path: Path | None = None,
        on_result: Callable[[IntakeResult], None] | None = None,
    ) -> None:
        self.respond = respond
        self.bus = bus
        self.tick_seconds = tick_seconds
        self.seen = SeenIds(capacity=200_000, path=seen_path)
        self.on_result = on_result
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        self._sub = await self.bus.subscribe(ALERTS_ALL, DURABLE, ack_wait=60.0)
        self._tasks = [
            asyncio.create_task(self._consume(), name="respond-consume"),
            asyncio.create_task(self._ticker(), name="respond-tick"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._sub is not None:
            await self._sub.close()
        self.seen.flush(fsync=True)
        await asyncio.to_thread(self.respond.close)

    async def _consume(self) -> None:
        assert self._sub is not None  # noqa: S101 - set by start()
        while not self._stopping:
            try:
                batch = await self._sub.fetch(100, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fetching alerts failed; retrying")
                await asyncio.sleep(1.0)
                continue
            for delivery in batch:
                await self.handle(delivery)

    async def handle(self, delivery: Delivery) -> None:
        msg = delivery.message
        if msg.msg_id in self.seen:
            await delivery.ack()
            return
        try:
            result = await asyncio.to_thread(self._submit, msg.data, delivery.num_delivered)
        except Exception:
            log.exception("alert %s could not be taken in; handing it back", msg.msg_id)
            await delivery.nak()
            return
        self.seen.add(msg.msg_id)
        await delivery.ack()
        if self.on_result is not None:
            self.on_result(result)

    def _submit(self, data: bytes, attempt: int) -> IntakeResult:
        intake = self.respond.intake
        try:
            payload = json.loads(data)
            if not isinstance(payload, dict):
                raise ValueError("an alert must be a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            text = data[:4096].decode("utf-8", "replace")
            return self._reject({"raw": text}, f"malformed alert: {exc}")
        try:
            return intake.submit_dict(payload)
        except Exception as exc:
            if attempt < MAX_DELIVERIES:
                raise
            return self._reject(payload, f"failed {attempt} times: {type(exc).__name__}: {exc}")

    def _reject(self, payload: dict[str, Any], reason: str) -> IntakeResult:
        intake = self.respond.intake
        intake.stats.rejected += 1
        intake.alerts.reject(
            RejectedAlert(payload=payload, reason=reason, received_at=datetime.now(UTC))
        )
        return IntakeResult(status="rejected", reason=reason)

    async def _ticker(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.tick_seconds)
            try:
                done = await asyncio.to_thread(self.respond.tick)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("response tick failed")
                continue
            if any(done.values()):
                log.info("response tick: %s", done)


def make_respond(ctx: ServiceContext) -> BackgroundService | None:
    """The alert consumer (both roles); None when switched off or without a bus."""
    settings = ctx.settings
    if not settings.respond_enabled or ctx.bus is None:
        return None
    respond = build_respond(settings, ctx.db)
    seen = settings.ensure_data_dir() / "respond" / f"seen-alerts-{ctx.role}.journal"
    return RespondService(
        respond=respond,
        bus=ctx.bus,
        tick_seconds=settings.respond_tick_seconds,
        seen_path=seen,
    )


__all__ = [
    "AuditWriter",
    "RespondService",
    "build_respond",
    "make_respond",
    "smtp_relay",
    "soc_notifiers",
    "warm_up",
]
