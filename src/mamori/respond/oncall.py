"""On-call rota, paging and escalation of unacknowledged pages.

The rota is an ordered list of analysts handing over every ``period_days`` at
``handover`` (local time); overrides replace the primary for a time span. A new incident of
a paging severity pages the primary; a page not acknowledged within ``escalate_after``
(or whose delivery failed) pages the next analyst in the chain. When the chain is exhausted
the incident's timeline says so — nobody is silently left unpaged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from mamori.errors import NotFoundError, ValidationError
from mamori.hooks import Dispatcher
from mamori.model import Severity, utc
from mamori.respond.clock import Clock, system_clock
from mamori.respond.events import IncidentChanged, IncidentOpened
from mamori.respond.incidents import IncidentService
from mamori.respond.models import SYSTEM, Actor, Incident, new_id
from mamori.respond.sla import JST


@dataclass(frozen=True, slots=True)
class Override:
    start: datetime
    end: datetime
    analyst: str


class Rota:
    def __init__(
        self,
        analysts: Sequence[str],
        *,
        period_days: int = 7,
        handover: time = time(9, 0),
        epoch: date = date(2026, 1, 5),
        tz: ZoneInfo = JST,
        overrides: Iterable[Override] = (),
    ) -> None:
        if not analysts:
            raise ValidationError("an on-call rota needs at least one analyst")
        if len(set(analysts)) != len(analysts):
            raise ValidationError("an analyst appears twice in the rota")
        if period_days < 1:
            raise ValidationError("period_days must be at least 1")
        self.analysts = list(analysts)
        self.period_days = period_days
        self.handover = handover
        self.epoch = epoch
        self.tz = tz
        self.overrides = list(overrides)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rota:
        try:
            overrides = [
                Override(
                    start=datetime.fromisoformat(str(o["start"])),
                    end=datetime.fromisoformat(str(o["end"])),
                    analyst=str(o["analyst"]),
                )
                for o in data.get("overrides") or []
            ]
            return cls(
                [str(a) for a in data.get("analysts") or []],
                period_days=int(data.get("period_days", 7)),
                handover=time.fromisoformat(str(data.get("handover", "09:00"))),
                epoch=date.fromisoformat(str(data.get("epoch", "2026-01-05"))),
                overrides=overrides,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValidationError(f"bad on-call rota: {exc}") from None

    def _index(self, now: datetime) -> int:
        local = utc(now).astimezone(self.tz)
        shift_day = local.date() - timedelta(days=1 if local.time() < self.handover else 0)
        return ((shift_day - self.epoch).days // self.period_days) % len(self.analysts)

    def primary(self, now: datetime) -> str:
        for o in self.overrides:
            if utc(o.start) <= utc(now) < utc(o.end):
                return o.analyst
        return self.analysts[self._index(now)]

    def chain(self, now: datetime) -> list[str]:
        """Who gets paged, in order: the primary, then the rota from the primary on."""
        i = self._index(now)
        ordered = self.analysts[i:] + self.analysts[:i]
        first = self.primary(now)
        return [first] + [a for a in ordered if a != first]


PageStatus = Literal["open", "acknowledged", "escalated", "exhausted", "closed"]


@dataclass(slots=True)
class Page:
    id: str
    incident_id: str
    tenant: str
    analyst: str
    level: int
    chain: tuple[str, ...]
    sent_at: datetime
    delivered: bool
    status: PageStatus = "open"
    acked_at: datetime | None = None
    error: str = ""


class PageRepo(Protocol):
    def add(self, page: Page) -> None: ...

    def save(self, page: Page) -> None: ...

    def get(self, page_id: str) -> Page: ...

    def list(self, *, incident_id: str | None = None, status: str | None = None) -> list[Page]: ...


class MemoryPageRepo:
    def __init__(self) -> None:
        self._items: dict[str, Page] = {}
        self._lock = threading.Lock()

    def add(self, page: Page) -> None:
        with self._lock:
            self._items[page.id] = replace(page)

    save = add

    def get(self, page_id: str) -> Page:
        with self._lock:
            try:
                return replace(self._items[page_id])
            except KeyError:
                raise NotFoundError(f"page {page_id} not found") from None

    def list(self, *, incident_id: str | None = None, status: str | None = None) -> list[Page]:
        with self._lock:
            out = [
                replace(p)
                for p in self._items.values()
                if incident_id in (None, p.incident_id) and status in (None, p.status)
            ]
        return sorted(out, key=lambda p: p.sent_at)


#: delivers one page; returns True when it went out, False (or raises) when not
Deliver = Callable[[Page, Incident], bool]


class Pager:
    def __init__(
        self,
        *,
        rota: Rota,
        service: IncidentService,
        deliver: Deliver,
        repo: PageRepo | None = None,
        escalate_after: timedelta = timedelta(minutes=10),
        severities: Iterable[Severity] = (Severity.CRITICAL,),
        clock: Clock = system_clock,
    ) -> None:
        self.rota = rota
        self.service = service
        self.deliver = deliver
        self.repo = repo or MemoryPageRepo()
        self.escalate_after = escalate_after
        self.severities = frozenset(severities)
        self.clock = clock
        self._lock = threading.RLock()

    def subscribe(self, dispatcher: Dispatcher) -> None:
        dispatcher.subscribe(IncidentOpened, self.on_opened)
        dispatcher.subscribe(IncidentChanged, self.on_changed)

    def on_opened(self, hook: IncidentOpened) -> None:
        if hook.incident.severity in self.severities:
            self.page(hook.incident)

    def on_changed(self, hook: IncidentChanged) -> None:
        """An acknowledged (or closed) incident needs no more paging."""
        if hook.incident.status.is_acknowledged:
            self.close(hook.incident.id, hook.actor)
        elif (
            hook.kind == "severity"
            and hook.incident.severity in self.severities
            and not self.repo.list(incident_id=hook.incident.id)
        ):
            self.page(hook.incident)

    def page(
        self, incident: Incident, *, level: int = 0, chain: Sequence[str] | None = None
    ) -> Page:
        with self._lock:
            now = self.clock()
            chain = tuple(chain or self.rota.chain(now))
            page = Page(
                id=new_id("pg"),
                incident_id=incident.id,
                tenant=incident.tenant,
                analyst=chain[level],
                level=level,
                chain=chain,
                sent_at=now,
                delivered=False,
            )
            try:
                page.delivered = bool(self.deliver(page, incident))
                if not page.delivered:
                    page.error = "delivery failed"
            except Exception as exc:  # recorded, and escalated below
                page.error = f"{type(exc).__name__}: {exc}"
            self.repo.add(page)
            self.service.record_event(
                incident.id,
                "page",
                f"オンコール呼出 {page.analyst}（レベル{level}）"
                + ("" if page.delivered else f" — 送信失敗: {page.error}"),
                SYSTEM,
                page_id=page.id,
                analyst=page.analyst,
                level=level,
                delivered=page.delivered,
            )
            if not page.delivered:
                return self._escalate(page, incident)
            return page

    def _escalate(self, page: Page, incident: Incident) -> Page:
        nxt = page.level + 1
        if nxt >= len(page.chain):
            page.status = "exhausted"
            self.repo.save(page)
            self.service.record_event(
                incident.id,
                "page_exhausted",
                "オンコール全員に呼出済みで未受付です（至急確認が必要）",
                SYSTEM,
                page_id=page.id,
            )
            return page
        page.status = "escalated"
        self.repo.save(page)
        return self.page(incident, level=nxt, chain=page.chain)

    def acknowledge(self, page_id: str, analyst: str) -> Page:
        with self._lock:
            page = self.repo.get(page_id)
            if page.status != "open":
                raise ValidationError(f"page {page_id} is {page.status}")
            page.status, page.acked_at = "acknowledged", self.clock()
            self.repo.save(page)
            self.service.record_event(
                page.incident_id,
                "page_ack",
                f"呼出受付: {analyst}",
                Actor(name=analyst),
                page_id=page.id,
            )
            return page

    def close(self, incident_id: str, by: str) -> None:
        with self._lock:
            for page in self.repo.list(incident_id=incident_id, status="open"):
                page.status, page.acked_at = "closed", self.clock()
                page.error = page.error or f"incident acknowledged by {by}"
                self.repo.save(page)

    def tick(self) -> list[Page]:
        """Escalate open pages older than ``escalate_after``; returns the new pages."""
        now = self.clock()
        out = []
        with self._lock:
            for page in self.repo.list(status="open"):
                if now - page.sent_at < self.escalate_after:
                    continue
                incident = self.service.incidents.get(page.incident_id)
                if incident.status.is_acknowledged:
                    self.close(incident.id, incident.assignee or "someone")
                    continue
                out.append(self._escalate(page, incident))
        return out


__all__ = ["MemoryPageRepo", "Override", "Page", "PageRepo", "Pager", "Rota"]
