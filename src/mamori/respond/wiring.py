"""The response area wired together: intake → incidents → playbooks, paging, SLA, notifications.

:class:`Respond` is what ``mamori up`` / ``mamori worker`` (and the web app) hold: one
dispatcher and every service sharing it. Repositories default to the in-memory ones; the
store passes its SQL implementations of the same protocols. :meth:`Respond.tick` is the
periodic job (SLA breaches, page escalation, breach-report reminders, command expiry).
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from mamori.hooks import Dispatcher, Hook
from mamori.model import Severity
from mamori.respond.actions import ActionDeps
from mamori.respond.blocklist import MemoryBlocklist
from mamori.respond.breach import (
    BreachDueItem,
    BreachRepo,
    BreachService,
    BreachTrack,
    MemoryBreachRepo,
)
from mamori.respond.channels import ChannelRepo, CustomerChannel, SmtpRelay, notifier_for
from mamori.respond.clock import Clock, system_clock
from mamori.respond.commands import MemoryCommandQueue
from mamori.respond.dedup import Deduplicator
from mamori.respond.events import AlertGrouped, IncidentChanged, IncidentOpened
from mamori.respond.grouping import Grouper
from mamori.respond.hosts import HostInventory
from mamori.respond.incidents import BlobStore, IncidentService
from mamori.respond.intake import AlertIntake
from mamori.respond.models import SYSTEM, Incident
from mamori.respond.notify import Deliverer, DeliveryRecord, MemoryDeliveryRepo, Notifier
from mamori.respond.notify.delivery import DeliveryRepo
from mamori.respond.notify.templates import notification
from mamori.respond.oncall import Page, Pager, PageRepo, Rota
from mamori.respond.playbooks import Playbook, default_playbooks
from mamori.respond.playbooks.engine import PlaybookEngine, PlaybookRunRepo
from mamori.respond.repos import (
    AlertRepo,
    IncidentRepo,
    MemoryAlertRepo,
    MemoryIncidentRepo,
    TenantDirectory,
)
from mamori.respond.runner import ActionRepo, ActionRunner, ApprovalPolicy
from mamori.respond.sla import SlaClock, SlaContract
from mamori.respond.slamonitor import SlaMonitor

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TenantChannels:
    """Where a tenant's notifications go: channel name -> notifiers, and the language."""

    lang: str = "ja"
    channels: dict[str, list[Notifier]] = field(default_factory=dict)
    display_name: str = ""


class Respond:
    def __init__(
        self,
        *,
        directory: TenantDirectory,
        incidents: IncidentRepo | None = None,
        alerts: AlertRepo | None = None,
        blobs: BlobStore | None = None,
        breach_repo: BreachRepo | None = None,
        action_repo: ActionRepo | None = None,
        run_repo: PlaybookRunRepo | None = None,
        delivery_repo: DeliveryRepo | None = None,
        page_repo: PageRepo | None = None,
        contracts: Mapping[str, SlaContract] | None = None,
        tenants: Mapping[str, TenantChannels] | None = None,
        soc: TenantChannels | None = None,
        rota: Rota | None = None,
        analyst_channels: Mapping[str, Sequence[Notifier]] | None = None,
        playbooks: Iterable[Playbook] | None = None,
        deps: ActionDeps | None = None,
        policy: ApprovalPolicy | None = None,
        dedup: Deduplicator | None = None,
        grouper: Grouper | None = None,
        backoff: Sequence[float] = (1.0, 2.0, 4.0),
        page_severities: Iterable[Severity] = (Severity.CRITICAL,),
        escalate_after: timedelta = timedelta(minutes=10),
        base_url: str = "",
        background: bool = True,
        clock: Clock = system_clock,
        channel_repo: ChannelRepo | None = None,
        smtp: SmtpRelay | None = None,
        inventory: HostInventory | None = None,
    ) -> None:
        self.clock = clock
        #: the tenants' own notification channels (``customer``), looked up per notification
        self.channel_repo = channel_repo
        self.smtp = smtp
        self.dispatcher = Dispatcher()
        # with ``background`` the reactions (playbooks, paging) run on one worker thread in
        # hook order, so a slow mail server never holds up the alert intake
        self.reactions = Dispatcher() if background else self.dispatcher
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        if background:
            self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="respond")
            for hook_type in (IncidentOpened, AlertGrouped, IncidentChanged):
                self.dispatcher.subscribe(hook_type, self._hand_over)
        self.contracts = dict(contracts or {})
        self.tenants = dict(tenants or {})
        self.soc = soc or TenantChannels()
        self.analyst_channels = dict(analyst_channels or {})
        self.base_url = base_url.rstrip("/")
        incidents = incidents or MemoryIncidentRepo()
        alerts = alerts or MemoryAlertRepo()
        self.intake = AlertIntake(
            alerts=alerts,
            incidents=incidents,
            directory=directory,
            dedup=dedup,
            grouper=grouper,
            dispatcher=self.dispatcher,
            clock=clock,
            inventory=inventory,
        )
        self.service = IncidentService(
            incidents=incidents,
            alerts=alerts,
            blobs=blobs,
            grouper=self.intake.grouper,
            dispatcher=self.dispatcher,
            clock=clock,
        )
        self.deliverer = Deliverer(
            repo=delivery_repo or MemoryDeliveryRepo(),
            backoff=backoff,
            clock=clock,
            on_result=self._delivered,
        )
        self.deps = deps or ActionDeps(commands=MemoryCommandQueue(), blocklist=MemoryBlocklist())
        if self.deps.notify is None:
            self.deps.notify = self.notify
        self.runner = ActionRunner(
            service=self.service, deps=self.deps, repo=action_repo, policy=policy, clock=clock
        )
        self.playbooks = PlaybookEngine(
            playbooks=default_playbooks() if playbooks is None else playbooks,
            service=self.service,
            runner=self.runner,
            notify=self.notify,
            runs=run_repo,
            clock=clock,
        )
        self.playbooks.subscribe(self.reactions)
        self.pager: Pager | None = None
        if rota is not None:
            self.pager = Pager(
                rota=rota,
                service=self.service,
                deliver=self._page,
                repo=page_repo,
                clock=clock,
                escalate_after=escalate_after,
                severities=page_severities,
            )
            self.pager.subscribe(self.reactions)
        self.sla = SlaMonitor(
            service=self.service, contracts=self.contracts, escalate=self._escalate, clock=clock
        )
        self.breach = BreachService(
            repo=breach_repo or MemoryBreachRepo(), incidents=self.service, clock=clock
        )

    def _hand_over(self, hook: Hook) -> None:
        assert self._pool is not None  # noqa: S101 - subscribed only with a pool
        self._pool.submit(self.reactions.emit, hook)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every reaction handed over so far has run (background mode)."""
        if self._pool is not None:
            self._pool.submit(lambda: None).result(timeout=timeout)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.runner.close()

    # -- notifications ---------------------------------------------------------------
    def _channels(self, tenant: str) -> TenantChannels:
        return self.tenants.get(tenant, TenantChannels())

    def _delivered(self, record: DeliveryRecord) -> None:
        if not record.incident_id:
            return
        ok = record.status == "delivered"
        summary = f"通知 {record.channel} → {record.target}: " + (
            "送信済"
            if ok
            else f"送信失敗（{record.attempts} 回試行）— {(record.errors or [''])[-1]}"
        )
        self.service.record_event(
            record.incident_id,
            "notification",
            summary,
            SYSTEM,
            delivery_id=record.id,
            status=record.status,
            attempts=record.attempts,
        )

    def send(
        self,
        notifiers: Sequence[Notifier],
        kind: str,
        *,
        tenant: str,
        lang: str,
        context: dict[str, Any],
        incident_id: str | None = None,
        to: tuple[str, ...] = (),
    ) -> DeliveryRecord | None:
        """Render once, deliver through each notifier; returns the first failure, else the last."""
        if not notifiers:
            log.warning("no notifier configured for %s (%s)", kind, tenant)
            return None
        message = notification(
            kind,
            lang,
            tenant=tenant,
            context=context,
            to=to,
            incident_id=incident_id,
            payload={k: v for k, v in context.items() if isinstance(v, str | int | float)},
        )
        records = [self.deliverer.deliver(n, message) for n in notifiers]
        failed = [r for r in records if r.status != "delivered"]
        return failed[0] if failed else records[-1]

    def customer_channels(self, tenant: str, severity: Severity) -> list[CustomerChannel]:
        """The tenant's own channels that want an incident of ``severity``."""
        if self.channel_repo is None:
            return []
        return [c for c in self.channel_repo.list(tenant=tenant) if c.wants(severity)]

    def _send_customer(
        self,
        channels: Sequence[CustomerChannel],
        kind: str,
        *,
        tenant: str,
        context: dict[str, Any],
        incident_id: str | None,
    ) -> DeliveryRecord | None:
        """Render once per language and deliver to each channel in its own language."""
        records: list[DeliveryRecord] = []
        for lang in sorted({c.lang for c in channels}):
            notifiers = [notifier_for(c, smtp=self.smtp) for c in channels if c.lang == lang]
            record = self.send(
                notifiers, kind, tenant=tenant, lang=lang, context=context, incident_id=incident_id
            )
            if record is not None:
                records.append(record)
        failed = [r for r in records if r.status != "delivered"]
        return failed[0] if failed else (records[-1] if records else None)

    def test_channel(self, channel: CustomerChannel, actor: str) -> DeliveryRecord:
        """Send a test message to one customer channel (with the usual retries); the
        outcome is kept with the other deliveries."""
        tenant_name = self._channels(channel.tenant).display_name or channel.tenant
        message = notification(
            "channel_test",
            channel.lang,
            tenant=channel.tenant,
            context={
                "tenant": tenant_name,
                "channel": channel.name,
                "kind": channel.kind,
                "min_severity": channel.min_severity.value,
                "sent_at": self.clock(),
                "actor": actor,
            },
            payload={"channel_id": channel.id, "test": True},
        )
        return self.deliverer.deliver(notifier_for(channel, smtp=self.smtp), message)

    def notify(self, incident: Incident, params: dict[str, Any]) -> DeliveryRecord | None:
        """A playbook ``notify`` step: channel ``soc`` (the MSSP) or a tenant channel.

        ``customer`` goes to the tenant's own channels (:mod:`mamori.respond.channels`) that
        want the incident's severity, each in the channel's language.
        """
        channel = str(params.get("channel") or "soc")
        tenant_name = self._channels(incident.tenant).display_name or incident.tenant
        if channel == "customer" and self.channel_repo is not None:
            wanted = self.customer_channels(incident.tenant, incident.severity)
            if not wanted:
                log.info(
                    "tenant %s has no customer channel for a %s incident",
                    incident.tenant,
                    incident.severity.value,
                )
            return self._send_customer(
                wanted,
                str(params.get("template") or "incident_opened"),
                tenant=incident.tenant,
                context={"incident": incident, "url": self._url(incident), "tenant": tenant_name},
                incident_id=incident.id,
            )
        target = self.soc if channel == "soc" else self._channels(incident.tenant)
        notifiers = target.channels.get(channel if channel != "soc" else "soc", [])
        lang = str(params.get("lang") or target.lang)
        to = tuple(params.get("to") or ())
        return self.send(
            notifiers,
            str(params.get("template") or "incident_opened"),
            tenant=incident.tenant,
            lang=lang,
            context={"incident": incident, "url": self._url(incident), "tenant": tenant_name},
            incident_id=incident.id,
            to=to,
        )

    def _url(self, incident: Incident) -> str | None:
        return f"{self.base_url}/incidents/{incident.id}" if self.base_url else None

    def _page(self, page: Page, incident: Incident) -> bool:
        notifiers = list(self.analyst_channels.get(page.analyst, ()))
        if not notifiers:
            raise LookupError(f"analyst {page.analyst} has no paging channel")
        assert self.pager is not None  # noqa: S101 - only called by the pager
        record = self.send(
            notifiers,
            "page",
            tenant=incident.tenant,
            lang=self.soc.lang,
            incident_id=incident.id,
            context={
                "incident": incident,
                "analyst": page.analyst,
                "level": page.level,
                "escalate_minutes": int(self.pager.escalate_after.total_seconds() // 60),
            },
        )
        return record is not None and record.status == "delivered"

    def _escalate(self, incident: Incident, clock: SlaClock, contract: SlaContract) -> None:
        record = self.send(
            self.soc.channels.get("escalation") or self.soc.channels.get("soc", []),
            "sla_breach",
            tenant=incident.tenant,
            lang=self.soc.lang,
            incident_id=incident.id,
            context={"incident": incident, "clock": clock},
            to=contract.escalate_to,
        )
        if record is None or record.status != "delivered":
            raise RuntimeError("SLA escalation could not be delivered")

    def _breach_reminder(self, track: BreachTrack, item: BreachDueItem) -> None:
        target = self._channels(track.tenant)
        context = {"item": item, "incident_id": track.incident_id}
        if self.channel_repo is not None:
            self.send(
                self.soc.channels.get("soc", []),
                "breach_reminder",
                tenant=track.tenant,
                lang=self.soc.lang,
                incident_id=track.incident_id,
                context=context,
            )
            # the legal deadlines concern every channel the tenant keeps, whatever its level
            wanted = self.customer_channels(track.tenant, Severity.CRITICAL)
            self._send_customer(
                wanted,
                "breach_reminder",
                tenant=track.tenant,
                context=context,
                incident_id=track.incident_id,
            )
            return
        notifiers = self.soc.channels.get("soc", []) + target.channels.get("customer", [])
        self.send(
            notifiers,
            "breach_reminder",
            tenant=track.tenant,
            lang=target.lang,
            incident_id=track.incident_id,
            context=context,
        )

    # -- periodic ----------------------------------------------------------------------
    def tick(self) -> dict[str, int]:
        """The periodic job; returns what it did (for logs and metrics)."""
        breaches = self.sla.check()
        pages = self.pager.tick() if self.pager else []
        reminders = self.breach.reminders(self.clock(), send=self._breach_reminder)
        expired = self.deps.commands.expire(self.clock()) if self.deps.commands else []
        return {
            "sla_breaches": len(breaches),
            "pages_escalated": len(pages),
            "breach_reminders": len(reminders),
            "commands_expired": len(expired),
        }


__all__ = ["Respond", "TenantChannels"]
