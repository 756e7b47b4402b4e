"""Running response actions: approval policy, timeouts, records, rollback.

Every request becomes an :class:`ActionRecord` (who asked, when, with what), on the
incident's timeline too. Auto-approved actions run at once; manual ones wait for
:meth:`ActionRunner.approve`. A run that raises, answers not-ok or exceeds its timeout ends
``failed`` / ``timed_out`` with the reason — never silently.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from mamori.errors import NotFoundError, PermissionDeniedError, ValidationError
from mamori.respond.actions import Action, ActionContext, ActionDeps, ActionResult, actions
from mamori.respond.clock import Clock, system_clock
from mamori.respond.incidents import IncidentService
from mamori.respond.models import Actor, new_id

log = logging.getLogger(__name__)


class ActionStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"


@dataclass(slots=True)
class ActionRecord:
    id: str
    incident_id: str
    tenant: str
    action: str
    params: dict[str, Any]
    requested_by: str
    requested_at: datetime
    approval: str
    timeout: float
    status: ActionStatus = ActionStatus.PENDING_APPROVAL
    approved_by: str | None = None
    approved_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    rollback_data: dict[str, Any] | None = None
    rolled_back_by: str | None = None
    rolled_back_at: datetime | None = None
    playbook: str | None = None
    run_id: str | None = None
    step: int | None = None


class ActionRepo(Protocol):
    def add(self, record: ActionRecord) -> None: ...

    def get(self, record_id: str) -> ActionRecord: ...

    def save(self, record: ActionRecord) -> None: ...

    def list(
        self, *, incident_id: str | None = None, status: str | None = None
    ) -> list[ActionRecord]: ...


class MemoryActionRepo:
    def __init__(self) -> None:
        self._items: dict[str, ActionRecord] = {}
        self._lock = threading.Lock()

    def add(self, record: ActionRecord) -> None:
        with self._lock:
            self._items[record.id] = replace(record)

    def get(self, record_id: str) -> ActionRecord:
        with self._lock:
            try:
                return replace(self._items[record_id])
            except KeyError:
                raise NotFoundError(f"action {record_id} not found") from None

    def save(self, record: ActionRecord) -> None:
        with self._lock:
            self._items[record.id] = replace(record)

    def list(
        self, *, incident_id: str | None = None, status: str | None = None
    ) -> list[ActionRecord]:
        with self._lock:
            out = [
                replace(r)
                for r in self._items.values()
                if incident_id in (None, r.incident_id) and status in (None, r.status)
            ]
        return sorted(out, key=lambda r: r.requested_at)


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """``manual`` wins: an action runs unapproved only when nobody asked for approval.

    ``tenants`` maps tenant -> action name -> ``auto``/``manual``. When neither the tenant
    nor the request says anything, the action's ``DEFAULT_APPROVAL`` applies.
    """

    tenants: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def decide(self, tenant: str, action: type[Action], requested: str | None) -> str:
        said = [v for v in (self.tenants.get(tenant, {}).get(action.NAME), requested) if v]
        for value in said:
            if value not in ("auto", "manual"):
                raise ValidationError(f"approval must be 'auto' or 'manual', not {value!r}")
        if said:
            return "manual" if "manual" in said else "auto"
        return action.DEFAULT_APPROVAL


class ActionRunner:
    def __init__(
        self,
        *,
        service: IncidentService,
        deps: ActionDeps,
        repo: ActionRepo | None = None,
        policy: ApprovalPolicy | None = None,
        timeout: float = 30.0,
        clock: Clock = system_clock,
        on_finished: Callable[[ActionRecord], None] | None = None,
        workers: int = 4,
    ) -> None:
        self.service = service
        self.deps = deps
        self.repo = repo or MemoryActionRepo()
        self.policy = policy or ApprovalPolicy()
        self.timeout = timeout
        self.clock = clock
        self.on_finished = on_finished
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="action")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def request(
        self,
        incident_id: str,
        action: str,
        params: Mapping[str, Any],
        actor: Actor,
        *,
        approval: str | None = None,
        timeout: float | None = None,
        playbook: str | None = None,
        run_id: str | None = None,
        step: int | None = None,
    ) -> ActionRecord:
        """Record the request; run it now when approval is automatic."""
        incident = self.service.get(incident_id, actor)
        if actor.role == "customer":
            raise PermissionDeniedError(f"{actor.name} may not run response actions")
        cls = actions.get(action)
        problems = cls().check_params(params)
        if problems:
            raise ValidationError("; ".join(problems))
        mode = self.policy.decide(incident.tenant, cls, approval)
        record = ActionRecord(
            id=new_id("act"),
            incident_id=incident_id,
            tenant=incident.tenant,
            action=action,
            params=dict(params),
            requested_by=actor.name,
            requested_at=self.clock(),
            approval=mode,
            timeout=timeout or self.timeout,
            playbook=playbook,
            run_id=run_id,
            step=step,
        )
        self.repo.add(record)
        self.service.record_event(
            incident_id,
            "action_requested",
            f"対応アクション要求: {action}" + ("（承認待ち）" if mode == "manual" else ""),
            actor,
            action_id=record.id,
            action=action,
            approval=mode,
        )
        if mode == "auto":
            record.approved_by, record.approved_at = "policy", record.requested_at
            return self._execute(record, actor)
        return record

    def approve(self, record_id: str, actor: Actor) -> ActionRecord:
        """Approve a waiting action (staff, or the tenant's own customer user) and run it."""
        record = self.repo.get(record_id)
        self.service.get(record.incident_id, actor)  # tenant check
        if record.status is not ActionStatus.PENDING_APPROVAL:
            raise ValidationError(f"action {record_id} is {record.status.value}, not waiting")
        record.approved_by, record.approved_at = actor.name, self.clock()
        return self._execute(record, actor)

    def reject(self, record_id: str, actor: Actor, reason: str = "") -> ActionRecord:
        record = self.repo.get(record_id)
        self.service.get(record.incident_id, actor)
        if record.status is not ActionStatus.PENDING_APPROVAL:
            raise ValidationError(f"action {record_id} is {record.status.value}, not waiting")
        record.status = ActionStatus.REJECTED
        record.finished_at = self.clock()
        record.message = reason or "rejected"
        record.approved_by = actor.name
        self.repo.save(record)
        self.service.record_event(
            record.incident_id,
            "action",
            f"対応アクション却下: {record.action}",
            actor,
            action_id=record.id,
            status=record.status.value,
            reason=reason,
        )
        self._finished(record)
        return record

    def _call(
        self, fn: Callable[..., ActionResult], timeout: float, *args: Any
    ) -> tuple[ActionStatus, ActionResult | None, str]:
        future = self._pool.submit(fn, *args)
        try:
            result = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return ActionStatus.TIMED_OUT, None, f"timed out after {timeout:g} s"
        except Exception as exc:
            return ActionStatus.FAILED, None, f"{type(exc).__name__}: {exc}"
        if not result.ok:
            return ActionStatus.FAILED, result, result.message or "action reported failure"
        return ActionStatus.SUCCEEDED, result, result.message

    def _execute(self, record: ActionRecord, actor: Actor) -> ActionRecord:
        incident = self.service.incidents.get(record.incident_id)
        record.status = ActionStatus.RUNNING
        record.started_at = self.clock()
        self.repo.save(record)
        ctx = ActionContext(
            incident=incident,
            actor=actor,
            now=record.started_at,
            deps=self.deps,
            action_id=record.id,
        )
        action = actions.get(record.action)()
        status, result, message = self._call(action.run, record.timeout, ctx, record.params)
        record.status, record.message = status, message
        record.finished_at = self.clock()
        if result is not None:
            record.detail = dict(result.detail)
            record.rollback_data = result.rollback if status is ActionStatus.SUCCEEDED else None
        self.repo.save(record)
        if status is not ActionStatus.SUCCEEDED:
            log.warning("action %s (%s) %s: %s", record.id, record.action, status.value, message)
        label = {"succeeded": "成功", "failed": "失敗", "timed_out": "タイムアウト"}[status.value]
        self.service.record_event(
            record.incident_id,
            "action",
            f"対応アクション {record.action}: {label} — {message}",
            actor,
            action_id=record.id,
            action=record.action,
            status=status.value,
            approved_by=record.approved_by,
            message=message,
        )
        self._finished(record)
        return record

    def rollback(self, record_id: str, actor: Actor) -> ActionRecord:
        record = self.repo.get(record_id)
        incident = self.service.get(record.incident_id, actor)
        if actor.role == "customer":
            raise PermissionDeniedError(f"{actor.name} may not roll back actions")
        cls = actions.get(record.action)
        if not cls.REVERSIBLE:
            raise ValidationError(f"{record.action} cannot be rolled back")
        if record.status is not ActionStatus.SUCCEEDED or record.rollback_data is None:
            raise ValidationError(
                f"action {record_id} is {record.status.value}; "
                "only a succeeded action can be rolled back"
            )
        ctx = ActionContext(
            incident=incident, actor=actor, now=self.clock(), deps=self.deps, action_id=record.id
        )
        status, _result, message = self._call(
            cls().rollback, record.timeout, ctx, record.rollback_data
        )
        ok = status is ActionStatus.SUCCEEDED
        record.status = (
            ActionStatus.ROLLED_BACK
            if status is ActionStatus.SUCCEEDED
            else ActionStatus.ROLLBACK_FAILED
        )
        record.rolled_back_by, record.rolled_back_at = actor.name, self.clock()
        record.message = message
        self.repo.save(record)
        self.service.record_event(
            record.incident_id,
            "action_rollback",
            f"対応アクション取消 {record.action}: {'成功' if ok else '失敗'} — {message}",
            actor,
            action_id=record.id,
            status=record.status.value,
        )
        return record

    def _finished(self, record: ActionRecord) -> None:
        if self.on_finished is None:
            return
        try:
            self.on_finished(record)
        except Exception:
            log.exception("on_finished callback failed for action %s", record.id)


__all__ = [
    "ActionRecord",
    "ActionRepo",
    "ActionRunner",
    "ActionStatus",
    "ApprovalPolicy",
    "MemoryActionRepo",
]
