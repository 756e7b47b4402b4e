"""Running playbooks: triggers select them, steps run in order, approvals pause them.

A playbook runs at most once per incident. ``wait_for_approval`` steps and actions that
need manual approval pause the run; :meth:`PlaybookEngine.approve` (for the former) and the
action runner's ``on_finished`` callback (for the latter) resume it. A failed action stops
the run as ``failed`` (visible on the incident); a failed notification is recorded and the
run goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from mamori.errors import MamoriError, NotFoundError, PermissionDeniedError, ValidationError
from mamori.hooks import Dispatcher
from mamori.respond.clock import Clock, system_clock
from mamori.respond.events import AlertGrouped, IncidentOpened
from mamori.respond.incidents import IncidentService
from mamori.respond.models import Actor, Incident, ObservableKind, new_id
from mamori.respond.playbooks.loader import resolve
from mamori.respond.playbooks.model import Playbook, TriggerEvent
from mamori.respond.runner import ActionRecord, ActionRunner, ActionStatus

log = logging.getLogger(__name__)

RunStatus = Literal["running", "waiting_approval", "waiting_action", "completed", "failed"]
Notify = Callable[[Incident, dict[str, Any]], Any]


@dataclass(slots=True)
class PlaybookRun:
    id: str
    playbook: str
    incident_id: str
    tenant: str
    started_at: datetime
    status: RunStatus = "running"
    step_index: int = 0
    finished_at: datetime | None = None
    log: list[str] = field(default_factory=list)


class PlaybookRunRepo(Protocol):
    def add(self, run: PlaybookRun) -> None: ...

    def get(self, run_id: str) -> PlaybookRun: ...

    def save(self, run: PlaybookRun) -> None: ...

    def find(self, incident_id: str, playbook: str) -> PlaybookRun | None: ...

    def list(self, *, incident_id: str | None = None) -> list[PlaybookRun]: ...


class MemoryPlaybookRunRepo:
    def __init__(self) -> None:
        self._items: dict[str, PlaybookRun] = {}
        self._lock = threading.Lock()

    def add(self, run: PlaybookRun) -> None:
        with self._lock:
            self._items[run.id] = replace(run, log=list(run.log))

    def get(self, run_id: str) -> PlaybookRun:
        with self._lock:
            try:
                run = self._items[run_id]
            except KeyError:
                raise NotFoundError(f"playbook run {run_id} not found") from None
            return replace(run, log=list(run.log))

    def save(self, run: PlaybookRun) -> None:
        self.add(run)

    def find(self, incident_id: str, playbook: str) -> PlaybookRun | None:
        with self._lock:
            for run in self._items.values():
                if run.incident_id == incident_id and run.playbook == playbook:
                    return replace(run, log=list(run.log))
        return None

    def list(self, *, incident_id: str | None = None) -> list[PlaybookRun]:
        with self._lock:
            return [
                replace(r, log=list(r.log))
                for r in self._items.values()
                if incident_id in (None, r.incident_id)
            ]


def references(incident: Incident) -> dict[str, Any]:
    refs: dict[str, Any] = {
        "@host": incident.hosts[0] if incident.hosts else None,
        "@hosts": list(incident.hosts),
        "@user": incident.users[0] if incident.users else None,
        "@users": list(incident.users),
    }
    for kind in ObservableKind:
        refs[f"@observables.{kind.value}"] = incident.observables_of(kind)
    return refs


class PlaybookEngine:
    def __init__(
        self,
        *,
        playbooks: Iterable[Playbook],
        service: IncidentService,
        runner: ActionRunner,
        notify: Notify | None = None,
        runs: PlaybookRunRepo | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.playbooks = [p for p in playbooks if p.enabled]
        self.service = service
        self.runner = runner
        self.notify = notify
        self.runs = runs or MemoryPlaybookRunRepo()
        self.clock = clock
        runner.on_finished = self.on_action_finished
        self._lock = threading.RLock()

    def subscribe(self, dispatcher: Dispatcher) -> None:
        def opened(hook: IncidentOpened) -> None:
            self.trigger(hook.incident, "opened")

        def grouped(hook: AlertGrouped) -> None:
            self.trigger(hook.incident, "grouped")

        dispatcher.subscribe(IncidentOpened, opened)
        dispatcher.subscribe(AlertGrouped, grouped)

    def select(self, incident: Incident, event: TriggerEvent) -> list[Playbook]:
        """Matching playbooks; a tenant's playbook replaces a global one of the same name."""
        chosen: dict[str, Playbook] = {}
        for pb in self.playbooks:
            if pb.tenant not in (None, incident.tenant):
                continue
            if pb.name in chosen and chosen[pb.name].tenant is not None:
                continue
            chosen[pb.name] = pb
        return [pb for pb in chosen.values() if pb.trigger.matches(incident, event)]

    def trigger(self, incident: Incident, event: TriggerEvent) -> list[PlaybookRun]:
        started = []
        for pb in self.select(incident, event):
            with self._lock:
                if self.runs.find(incident.id, pb.name) is not None:
                    continue
                run = PlaybookRun(
                    id=new_id("run"),
                    playbook=pb.name,
                    incident_id=incident.id,
                    tenant=incident.tenant,
                    started_at=self.clock(),
                )
                self.runs.add(run)
            self.service.record_event(
                incident.id,
                "playbook",
                f"プレイブック開始: {pb.title}",
                self._actor(pb),
                run_id=run.id,
                playbook=pb.name,
            )
            started.append(self._advance(run.id))
        return started

    def _playbook(self, run: PlaybookRun) -> Playbook:
        candidates = [p for p in self.playbooks if p.name == run.playbook]
        tenant_own = [p for p in candidates if p.tenant == run.tenant]
        if not candidates:
            raise NotFoundError(f"playbook {run.playbook} is no longer loaded")
        return (tenant_own or candidates)[0]

    @staticmethod
    def _actor(pb: Playbook) -> Actor:
        return Actor(name=f"playbook:{pb.name}", role="system")

    def _advance(self, run_id: str) -> PlaybookRun:
        """Run steps until the playbook ends or waits; an unexpected error fails the run."""
        with self._lock:
            try:
                return self._steps(run_id)
            except MamoriError as exc:
                run = self.runs.get(run_id)
                step = run.step_index + 1
                return self._fail(run, f"step {step}: {type(exc).__name__}: {exc}")

    def _steps(self, run_id: str) -> PlaybookRun:
        run = self.runs.get(run_id)
        pb = self._playbook(run)
        actor = self._actor(pb)
        run.status = "running"
        while run.step_index < len(pb.steps):
            step = pb.steps[run.step_index]
            incident = self.service.incidents.get(run.incident_id)
            params = resolve(step.params, references(incident))
            if step.kind == "wait_for_approval":
                run.status = "waiting_approval"
                run.log.append(f"{step.name}: waiting for approval")
                self.runs.save(run)
                self.service.record_event(
                    run.incident_id,
                    "playbook",
                    f"承認待ち: {params.get('message') or pb.title}",
                    actor,
                    run_id=run.id,
                    step=run.step_index,
                )
                return run
            if step.kind == "task":
                self.service.add_task(
                    run.incident_id,
                    str(params["title"]),
                    actor,
                    assignee=params.get("assignee"),
                )
                run.log.append(f"{step.name}: task created")
            elif step.kind == "notify":
                run.log.append(f"{step.name}: {self._notify(incident, params)}")
            else:
                assert step.action is not None  # noqa: S101 - validated by the loader
                run.status = "waiting_action"
                self.runs.save(run)
                record = self.runner.request(
                    run.incident_id,
                    step.action,
                    params,
                    actor,
                    approval=step.approval,
                    timeout=step.timeout,
                    playbook=pb.name,
                    run_id=run.id,
                    step=run.step_index,
                )
                run = self.runs.get(run_id)
                if record.status is ActionStatus.PENDING_APPROVAL:
                    run.log.append(f"{step.name}: {step.action} waiting for approval")
                    self.runs.save(run)
                    return run
                if record.status is not ActionStatus.SUCCEEDED:
                    return self._fail(
                        run,
                        f"{step.name}: {step.action} {record.status.value}: {record.message}",
                    )
                run.status = "running"
                run.log.append(f"{step.name}: {step.action} succeeded")
            run.step_index += 1
            self.runs.save(run)
        run.status = "completed"
        run.finished_at = self.clock()
        self.runs.save(run)
        self.service.record_event(
            run.incident_id,
            "playbook",
            f"プレイブック完了: {pb.title}",
            actor,
            run_id=run.id,
        )
        return run

    def _notify(self, incident: Incident, params: dict[str, Any]) -> str:
        if self.notify is None:
            return "no notification channel configured"
        try:
            outcome = self.notify(incident, params)
        except Exception as exc:  # recorded, the run goes on
            log.exception("playbook notification failed")
            return f"notification failed: {exc}"
        return f"notification {getattr(outcome, 'status', 'sent')}"

    def _fail(self, run: PlaybookRun, message: str) -> PlaybookRun:
        run.status = "failed"
        run.finished_at = self.clock()
        run.log.append(message)
        self.runs.save(run)
        log.warning("playbook run %s (%s) failed: %s", run.id, run.playbook, message)
        try:
            self.service.record_event(
                run.incident_id,
                "playbook",
                f"プレイブック失敗: {message}",
                Actor(name=f"playbook:{run.playbook}", role="system"),
                run_id=run.id,
            )
        except MamoriError:  # e.g. the incident was merged away; the run record keeps it
            log.exception("could not record the failure of playbook run %s", run.id)
        return run

    def approve(self, run_id: str, actor: Actor) -> PlaybookRun:
        """Let a run waiting at a ``wait_for_approval`` step go on."""
        run = self.runs.get(run_id)
        self.service.get(run.incident_id, actor)  # tenant check
        if run.status != "waiting_approval":
            raise ValidationError(
                f"playbook run {run_id} is {run.status}, not waiting for approval"
            )
        if actor.role == "system":
            raise PermissionDeniedError("a playbook step needs a person's approval")
        run.log.append(f"approved by {actor.name}")
        run.step_index += 1
        self.runs.save(run)
        self.service.record_event(
            run.incident_id,
            "playbook",
            f"プレイブック承認: {run.playbook}",
            actor,
            run_id=run.id,
        )
        return self._advance(run_id)

    def on_action_finished(self, record: ActionRecord) -> None:
        """Resume a run whose manual-approval action has now finished."""
        if not record.run_id:
            return
        with self._lock:
            run = self.runs.get(record.run_id)
            if run.status != "waiting_action" or run.step_index != record.step:
                return  # the run itself is executing this action right now
            if record.status is ActionStatus.SUCCEEDED:
                run.step_index += 1
                run.log.append(f"step {record.step}: {record.action} succeeded")
                self.runs.save(run)
                self._advance(run.id)
            else:
                self._fail(
                    run,
                    f"step {record.step}: {record.action} {record.status.value}: {record.message}",
                )


__all__ = [
    "MemoryPlaybookRunRepo",
    "PlaybookEngine",
    "PlaybookRun",
    "PlaybookRunRepo",
    "references",
]
