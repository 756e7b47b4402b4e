"""The personal-information breach track (個人情報の漏えい等, APPI).

When an incident may involve personal data, the analyst marks it. mamori then tracks the
duties towards the Personal Information Protection Commission (個人情報保護委員会, PPC):

* **preliminary report (速報)** — "promptly" after becoming aware, in practice about
  3–5 days; the due date is ``aware + preliminary_days`` (default 5, configurable);
* **final report (確報)** — within 30 days of becoming aware, or 60 days when the breach
  was caused by an act with a wrongful purpose (不正の目的をもって行われたおそれ, e.g.
  unauthorised access);
* **notification of the affected people (本人への通知)** — promptly; tracked with the
  preliminary due date as its target;

with a checklist, reminders, the cyber-insurance claim contact and the OEM contact.
Due dates are the end of the day (JST) ``N`` days after the day of awareness.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Protocol

from mamori.errors import DuplicateError, NotFoundError, PermissionDeniedError, ValidationError
from mamori.model import utc
from mamori.respond.clock import Clock, system_clock
from mamori.respond.incidents import IncidentService
from mamori.respond.models import Actor
from mamori.respond.sla import JST

DEFAULT_PRELIMINARY_DAYS = 5
FINAL_DAYS = 30
FINAL_DAYS_WRONGFUL = 60

CHECKLIST: tuple[tuple[str, str], ...] = (
    ("facts", "漏えい等の事実関係・原因の確認"),
    ("scope", "影響を受ける本人の数・個人データの項目の特定"),
    ("containment", "二次被害の防止・拡大防止措置"),
    ("preliminary", "個人情報保護委員会への速報（概ね3〜5日以内）"),
    ("persons", "本人への通知（困難な場合は公表等の代替措置）"),
    ("final", "個人情報保護委員会への確報（30日以内／不正目的の場合60日以内）"),
    ("prevention", "再発防止策の策定"),
    ("insurance", "サイバー保険会社への事故連絡"),
    ("oem", "取引先（OEM）への報告"),
)
REPORTABLE_CATEGORIES: dict[str, str] = {
    "sensitive": "要配慮個人情報が含まれる",
    "financial": "財産的被害が生じるおそれ",
    "wrongful": "不正の目的をもって行われたおそれ",
    "over_1000": "本人の数が1,000人を超える",
}


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    organisation: str = ""
    phone: str = ""
    email: str = ""
    reference: str = ""  # policy number, supplier code...


@dataclass(slots=True)
class BreachTrack:
    incident_id: str
    tenant: str
    aware_at: datetime
    marked_by: str
    wrongful_intent: bool = False
    categories: list[str] = field(default_factory=list)
    affected_count: int | None = None
    preliminary_days: int = DEFAULT_PRELIMINARY_DAYS
    preliminary_submitted_at: datetime | None = None
    final_submitted_at: datetime | None = None
    persons_notified_at: datetime | None = None
    checklist: dict[str, bool] = field(default_factory=lambda: {k: False for k, _ in CHECKLIST})
    insurance_contact: Contact | None = None
    oem_contact: Contact | None = None
    reminders_sent: list[str] = field(default_factory=list)

    @property
    def final_days(self) -> int:
        return FINAL_DAYS_WRONGFUL if self.wrongful_intent else FINAL_DAYS

    def _due(self, days: int) -> datetime:
        day = utc(self.aware_at).astimezone(JST).date() + timedelta(days=days)
        return datetime.combine(day, time(23, 59, 59), JST)

    @property
    def preliminary_due(self) -> datetime:
        return self._due(self.preliminary_days)

    @property
    def final_due(self) -> datetime:
        return self._due(self.final_days)

    @property
    def persons_due(self) -> datetime:
        return self.preliminary_due


@dataclass(frozen=True, slots=True)
class BreachDueItem:
    key: str
    label: str
    label_en: str
    due: datetime
    days_left: int
    overdue: bool
    done: bool


def due_items(track: BreachTrack, now: datetime) -> list[BreachDueItem]:
    """The three dated duties with their state at ``now``."""
    out = []
    for key, label, label_en, due, done_at in (
        (
            "preliminary",
            "個人情報保護委員会への速報（速やかに・概ね3〜5日以内）",
            "Preliminary report to the PPC (promptly, about 3-5 days)",
            track.preliminary_due,
            track.preliminary_submitted_at,
        ),
        (
            "persons",
            "本人への通知（速やかに）",
            "Notify the affected people (promptly)",
            track.persons_due,
            track.persons_notified_at,
        ),
        (
            "final",
            f"個人情報保護委員会への確報（{track.final_days}日以内）",
            f"Final report to the PPC (within {track.final_days} days)",
            track.final_due,
            track.final_submitted_at,
        ),
    ):
        left = due - utc(now)
        out.append(
            BreachDueItem(
                key=key,
                label=label,
                label_en=label_en,
                due=due,
                days_left=max(0, math.ceil(left.total_seconds() / 86400)),
                overdue=done_at is None and utc(now) > due,
                done=done_at is not None,
            )
        )
    return out


class BreachRepo(Protocol):
    def get(self, incident_id: str) -> BreachTrack:
        """Raises NotFoundError."""

    def put(self, track: BreachTrack) -> None: ...

    def list(self, *, tenant: str | None = None) -> list[BreachTrack]: ...


class MemoryBreachRepo:
    def __init__(self) -> None:
        self._items: dict[str, BreachTrack] = {}
        self._lock = threading.Lock()

    def get(self, incident_id: str) -> BreachTrack:
        with self._lock:
            try:
                return replace(self._items[incident_id])
            except KeyError:
                raise NotFoundError(f"incident {incident_id} has no breach track") from None

    def put(self, track: BreachTrack) -> None:
        with self._lock:
            self._items[track.incident_id] = replace(track)

    def list(self, *, tenant: str | None = None) -> list[BreachTrack]:
        with self._lock:
            return [replace(t) for t in self._items.values() if tenant in (None, t.tenant)]


SUBMISSIONS = {
    "preliminary": ("preliminary_submitted_at", "速報を提出", "preliminary"),
    "final": ("final_submitted_at", "確報を提出", "final"),
    "persons": ("persons_notified_at", "本人へ通知", "persons"),
}


class BreachService:
    """Marks incidents, records submissions and checklist items, sends reminders."""

    def __init__(
        self,
        *,
        repo: BreachRepo,
        incidents: IncidentService,
        preliminary_days: int = DEFAULT_PRELIMINARY_DAYS,
        clock: Clock = system_clock,
    ) -> None:
        if not 1 <= preliminary_days <= 30:
            raise ValidationError("preliminary_days must be between 1 and 30")
        self.repo = repo
        self.incidents = incidents
        self.preliminary_days = preliminary_days
        self.clock = clock

    def _track(self, incident_id: str, actor: Actor) -> BreachTrack:
        self.incidents.get(incident_id, actor)  # tenant check
        return self.repo.get(incident_id)

    def mark(
        self,
        incident_id: str,
        actor: Actor,
        *,
        aware_at: datetime | None = None,
        wrongful_intent: bool = False,
        categories: Iterable[str] = (),
        affected_count: int | None = None,
    ) -> BreachTrack:
        incident = self.incidents.get(incident_id, actor)
        if actor.role == "customer":
            raise PermissionDeniedError(f"{actor.name} may not mark incidents")
        try:
            self.repo.get(incident_id)
        except NotFoundError:
            pass
        else:
            raise DuplicateError(f"incident {incident_id} is already on the breach track")
        cats = list(dict.fromkeys(categories))
        unknown = [c for c in cats if c not in REPORTABLE_CATEGORIES]
        if unknown:
            raise ValidationError(
                f"unknown breach category {', '.join(unknown)} "
                f"(known: {', '.join(REPORTABLE_CATEGORIES)})"
            )
        if affected_count is not None and affected_count < 0:
            raise ValidationError("affected_count must not be negative")
        if wrongful_intent and "wrongful" not in cats:
            cats.append("wrongful")
        aware = utc(aware_at or self.clock())
        track = BreachTrack(
            incident_id=incident.id,
            tenant=incident.tenant,
            aware_at=aware,
            marked_by=actor.name,
            wrongful_intent=wrongful_intent or "wrongful" in cats,
            categories=cats,
            affected_count=affected_count,
            preliminary_days=self.preliminary_days,
        )
        self.repo.put(track)
        self.incidents.record_event(
            incident_id,
            "breach_marked",
            f"個人情報漏えい等のおそれ: 速報期限 {track.preliminary_due:%Y-%m-%d}、"
            f"確報期限 {track.final_due:%Y-%m-%d}",
            actor,
            aware_at=aware.isoformat(),
            wrongful_intent=track.wrongful_intent,
        )
        self.incidents.set_personal_data(incident_id, True, actor)
        return track

    def submitted(
        self, incident_id: str, what: str, actor: Actor, *, at: datetime | None = None
    ) -> BreachTrack:
        """Record that the preliminary/final report was filed or the people notified."""
        if what not in SUBMISSIONS:
            raise ValidationError(f"unknown breach duty {what!r} (use {', '.join(SUBMISSIONS)})")
        attr, summary, checklist_key = SUBMISSIONS[what]
        track = self._track(incident_id, actor)
        when = utc(at or self.clock())
        if when < track.aware_at:
            raise ValidationError("a submission cannot predate awareness of the breach")
        setattr(track, attr, when)
        track.checklist[checklist_key] = True
        self.repo.put(track)
        self.incidents.record_event(
            incident_id, f"breach_{what}", summary, actor, at=when.isoformat()
        )
        return track

    def check(self, incident_id: str, item: str, actor: Actor, *, done: bool = True) -> BreachTrack:
        track = self._track(incident_id, actor)
        if item not in track.checklist:
            raise ValidationError(
                f"unknown checklist item {item!r} (known: {', '.join(track.checklist)})"
            )
        track.checklist[item] = done
        self.repo.put(track)
        label = dict(CHECKLIST)[item]
        self.incidents.record_event(
            incident_id,
            "breach_checklist",
            f"チェックリスト: {label} {'完了' if done else '未了'}",
            actor,
            item=item,
            done=done,
        )
        return track

    def set_contacts(
        self,
        incident_id: str,
        actor: Actor,
        *,
        insurance: Contact | None = None,
        oem: Contact | None = None,
    ) -> BreachTrack:
        track = self._track(incident_id, actor)
        if insurance is not None:
            track.insurance_contact = insurance
        if oem is not None:
            track.oem_contact = oem
        self.repo.put(track)
        return track

    def reminders(
        self,
        now: datetime | None = None,
        *,
        remind_days: tuple[int, ...] = (3, 1, 0),
        send: Callable[[BreachTrack, BreachDueItem], None] | None = None,
    ) -> list[tuple[str, BreachDueItem]]:
        """Due items that need a reminder now (each threshold once), optionally sending them.

        A reminder fires when an open item has ``<= d`` days left for a threshold ``d`` not
        yet reminded, and once more when it becomes overdue.
        """
        now = now or self.clock()
        out = []
        for track in self.repo.list():
            changed = False
            for item in due_items(track, now):
                if item.done:
                    continue
                tag = None
                if item.overdue:
                    tag = f"{item.key}:overdue"
                else:
                    for d in sorted(remind_days):
                        if item.days_left <= d:
                            tag = f"{item.key}:{d}"
                            break
                if tag is None or tag in track.reminders_sent:
                    continue
                if send is not None:
                    send(track, item)
                track.reminders_sent.append(tag)
                changed = True
                out.append((track.incident_id, item))
            if changed:
                self.repo.put(track)
        return out


__all__ = [
    "CHECKLIST",
    "REPORTABLE_CATEGORIES",
    "BreachDueItem",
    "BreachRepo",
    "BreachService",
    "BreachTrack",
    "Contact",
    "MemoryBreachRepo",
    "due_items",
]
