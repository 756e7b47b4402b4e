"""Response glue for the web app: the shared :class:`Respond`, who acts, and the operations.

Routers stay thin: they resolve a :class:`RespondContext` (the caller as a response
:class:`~mamori.respond.models.Actor` with its tenants as slugs) and call :func:`operate`
or the view helpers here. Tenant checks happen in the response services (an incident of
another tenant is "not found"); customer viewers and API keys are read-only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select

from mamori.errors import NotFoundError, PermissionDeniedError, ValidationError
from mamori.respond.actions import actions
from mamori.respond.breach import CHECKLIST, BreachTrack, due_items
from mamori.respond.models import Actor, Incident
from mamori.respond.serialize import alert_record_to_dict, incident_to_dict
from mamori.respond.sla import clocks, monthly_metrics
from mamori.respond.wiring import Respond
from mamori.store.repos.respond import RespondStore, to_doc
from mamori.store.tables import Role, Tenant
from mamori.web.deps import SessionDep, TenantScope, TenantScopeDep

_LOCK = threading.Lock()

#: roles that may change incidents (customer admins: comments, attachments, approvals)
WRITERS = (Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN)


def get_respond(request: Request) -> tuple[Respond, RespondStore]:
    """The app's response services (built once, on first use)."""
    state = request.app.state
    with _LOCK:
        built = getattr(state, "respond", None)
        if built is None:
            from mamori.cli.wiring.respond import build_respond

            store = RespondStore(state.db)
            built = (build_respond(state.settings, state.db, store=store), store)
            state.respond = built
    result: tuple[Respond, RespondStore] = built
    return result


@dataclass(frozen=True, slots=True)
class RespondContext:
    respond: Respond
    store: RespondStore
    actor: Actor
    scope: TenantScope
    slugs: dict[int, str]

    @property
    def ids(self) -> dict[str, int]:
        return {slug: i for i, slug in self.slugs.items()}

    def writable(self) -> None:
        """Raises PermissionDeniedError for read-only callers (viewers, API keys)."""
        principal = self.scope.principal
        if principal.is_api_key or principal.role not in WRITERS:
            raise PermissionDeniedError("your role may only read incidents")

    def tenant_filter(self, tenant: str | None) -> str | None:
        """A requested tenant slug (checked), else the UI's current tenant, else all."""
        if tenant:
            tid = self.ids.get(tenant)
            self.scope.check(tid, "tenant")
            return tenant
        if self.scope.current is not None:
            return self.slugs.get(self.scope.current)
        return None

    def visible_tenants(self) -> list[str]:
        return sorted(s for i, s in self.slugs.items() if self.scope.allows(i))

    def incident(self, incident_id: str) -> Incident:
        return self.respond.service.get(incident_id, self.actor)


def respond_context(request: Request, session: SessionDep, scope: TenantScopeDep) -> RespondContext:
    respond, store = get_respond(request)
    slugs = {int(i): str(s) for i, s in session.execute(select(Tenant.id, Tenant.slug)).all()}
    # the response store writes through its own connections: end this request's
    # transaction (e.g. an API key's last-used stamp) so it holds no SQLite write lock
    session.commit()
    principal = scope.principal
    tenants = (
        None
        if principal.tenant_ids is None
        else frozenset(slugs[i] for i in principal.tenant_ids if i in slugs)
    )
    customer = principal.role.is_customer or principal.is_api_key
    actor = Actor(name=principal.name, tenants=tenants, role="customer" if customer else "analyst")
    return RespondContext(respond=respond, store=store, actor=actor, scope=scope, slugs=slugs)


RespondDep = Annotated[RespondContext, Depends(respond_context)]


# -- views -------------------------------------------------------------------------------------
def _clock_dicts(ctx: RespondContext, incident: Incident, now: datetime) -> list[dict[str, Any]]:
    contract = ctx.respond.contracts.get(incident.tenant)
    if contract is None:
        return []
    return [
        {
            "kind": c.kind,
            "state": c.state,
            "target_seconds": c.target.total_seconds(),
            "deadline": c.deadline.isoformat(),
            "remaining_seconds": c.remaining_seconds,
            "elapsed_seconds": c.elapsed_seconds,
        }
        for c in clocks(incident, contract, now)
    ]


def incident_rows(
    ctx: RespondContext,
    *,
    tenant: str | None = None,
    status: str | None = None,
    severity: str | None = None,
    open_only: bool = False,
) -> list[dict[str, Any]]:
    """The incident list with running SLA clocks and breach flags, most urgent first."""
    now = ctx.respond.clock()
    items = ctx.respond.service.list(
        ctx.actor, tenant=ctx.tenant_filter(tenant), open_only=open_only
    )
    rows = []
    for inc in items:
        if status and inc.status.value != status:
            continue
        if severity and inc.severity.value != severity:
            continue
        cl = _clock_dicts(ctx, inc, now)
        running = [c for c in cl if c["state"] == "running"]
        rows.append(
            {
                "id": inc.id,
                "tenant": inc.tenant,
                "title": inc.title,
                "severity": inc.severity.value,
                "status": inc.status.value,
                "status_ja": inc.status.label_ja,
                "assignee": inc.assignee,
                "created_at": inc.created_at,
                "updated_at": inc.updated_at,
                "alert_count": inc.alert_count,
                "version": inc.version,
                "merged_into": inc.merged_into,
                "clocks": cl,
                "breached": any(c["state"] == "breached" for c in cl) or bool(inc.sla_breaches),
                "next_deadline": min((c["deadline"] for c in running), default=None),
            }
        )
    rows.sort(key=lambda r: (not r["breached"], r["next_deadline"] or "9999", r["id"]))
    return rows


def breach_view(track: BreachTrack | None, now: datetime) -> dict[str, Any] | None:
    if track is None:
        return None
    return {
        **to_doc(track),
        "due": [to_doc(item) for item in due_items(track, now)],
        "checklist_labels": dict(CHECKLIST),
    }


def incident_detail(ctx: RespondContext, incident_id: str) -> dict[str, Any]:
    inc = ctx.incident(incident_id)
    now = ctx.respond.clock()
    try:
        track: BreachTrack | None = ctx.respond.breach.repo.get(inc.id)
    except NotFoundError:
        track = None
    alerts = []
    for aid in inc.alert_ids:
        try:
            alerts.append(alert_record_to_dict(ctx.respond.intake.alerts.get(aid)))
        except NotFoundError:
            continue
    return {
        "incident": incident_to_dict(inc),
        "clocks": _clock_dicts(ctx, inc, now),
        "alerts": alerts,
        "actions": [to_doc(a) for a in ctx.respond.runner.repo.list(incident_id=inc.id)],
        "playbook_runs": [to_doc(r) for r in ctx.respond.playbooks.runs.list(incident_id=inc.id)],
        "notifications": [to_doc(d) for d in ctx.store.deliveries.list(incident_id=inc.id)],
        "commands": [to_doc(c) for c in ctx.store.commands.list(incident_id=inc.id)],
        "breach": breach_view(track, now),
    }


def metrics(
    ctx: RespondContext, *, tenant: str | None, year: int, month: int
) -> list[dict[str, Any]]:
    """MTTA/MTTR/SLA per visible tenant for the month (one tenant when asked)."""
    chosen = [ctx.tenant_filter(tenant)] if tenant else ctx.visible_tenants()
    out = []
    now = ctx.respond.clock()
    for slug in chosen:
        if slug is None:
            continue
        items = ctx.respond.service.list(ctx.actor, tenant=slug)
        m = monthly_metrics(
            items,
            tenant=slug,
            year=year,
            month=month,
            contract=ctx.respond.contracts.get(slug),
            now=now,
        )
        out.append(m.to_dict())
    return out


# -- operations ----------------------------------------------------------------------------------
def _text(data: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(f"{key} is required")
        return ""
    return str(value).strip()


def _version(data: dict[str, Any]) -> int | None:
    value = data.get("version")
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"version must be a number, not {value!r}") from None


def _list(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.replace(",", " ").split() if v.strip()]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise ValidationError(f"{key} must be a list")


def _bool(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    return value in (True, "1", "true", "on", "yes")


OPERATIONS = (
    "status",
    "assign",
    "severity",
    "comment",
    "task",
    "task_done",
    "merge",
    "split",
    "link",
    "personal_data",
    "breach_mark",
    "breach_check",
    "breach_submitted",
    "action",
    "action_approve",
    "action_reject",
    "action_rollback",
    "playbook_approve",
)


def operate(ctx: RespondContext, incident_id: str, op: str, data: dict[str, Any]) -> Any:
    """Run one operation on an incident the caller may see.

    Raises:
        NotFoundError: the incident is not visible to the caller.
        PermissionDeniedError: the caller's role may not do this.
        ValidationError, ConflictError, InvalidTransitionError: the change is refused.
    """
    inc = ctx.incident(incident_id)  # the tenant check comes first
    ctx.writable()
    svc, actor, r = ctx.respond.service, ctx.actor, ctx.respond
    version = _version(data)
    if op == "status":
        return svc.transition(
            inc.id,
            _text(data, "status"),
            actor,
            expected_version=version,
            note=_text(data, "note", required=False),
        )
    if op == "assign":
        assignee = _text(data, "assignee", required=False) or None
        return svc.assign(inc.id, assignee, actor, expected_version=version)
    if op == "severity":
        return svc.set_severity(
            inc.id,
            _text(data, "severity"),
            actor,
            reason=_text(data, "reason", required=False),
            expected_version=version,
        )
    if op == "comment":
        return svc.comment(inc.id, _text(data, "text"), actor, expected_version=version)
    if op == "task":
        return svc.add_task(
            inc.id,
            _text(data, "title"),
            actor,
            assignee=_text(data, "assignee", required=False) or None,
            expected_version=version,
        )[0]
    if op == "task_done":
        return svc.complete_task(inc.id, _text(data, "task_id"), actor, expected_version=version)
    if op == "merge":
        sources = _list(data, "sources")
        if not sources:
            raise ValidationError("sources is required")
        return svc.merge(inc.id, sources, actor, expected_version=version)
    if op == "split":
        ids = _list(data, "alert_ids")
        if not ids:
            raise ValidationError("alert_ids is required")
        old, new = svc.split(
            inc.id,
            ids,
            actor,
            title=_text(data, "title", required=False) or None,
            expected_version=version,
        )
        return new
    if op == "link":
        return svc.link(inc.id, _text(data, "other"), actor)[0]
    if op == "personal_data":
        return svc.set_personal_data(inc.id, _bool(data, "flag"), actor)
    if op == "breach_mark":
        count = data.get("affected_count")
        aware = _text(data, "aware_at", required=False)
        return r.breach.mark(
            inc.id,
            actor,
            aware_at=datetime.fromisoformat(aware) if aware else None,
            wrongful_intent=_bool(data, "wrongful_intent"),
            categories=_list(data, "categories"),
            affected_count=int(count) if count not in (None, "") else None,
        )
    if op == "breach_check":
        return r.breach.check(
            inc.id, _text(data, "item"), actor, done=data.get("done") in (None, True, "1", "on")
        )
    if op == "breach_submitted":
        return r.breach.submitted(inc.id, _text(data, "what"), actor)
    if op == "action":
        params = data.get("params") or {}
        if not isinstance(params, dict):
            raise ValidationError("params must be an object")
        name = _text(data, "action")
        if name not in actions.names():
            raise ValidationError(f"unknown action {name!r} (known: {', '.join(actions.names())})")
        for key in actions.get(name).PARAMS:  # flat form fields
            if key in data and key not in params and data[key] not in (None, ""):
                params[key] = data[key]
        return r.runner.request(
            inc.id,
            name,
            params,
            actor,
            approval=_text(data, "approval", required=False) or None,
        )
    if op in ("action_approve", "action_reject", "action_rollback"):
        action_id = _text(data, "action_id")
        record = r.runner.repo.get(action_id)
        if record.incident_id != inc.id:
            raise NotFoundError(f"action {action_id} not found")
        if op == "action_approve":
            return r.runner.approve(action_id, actor)
        if op == "action_reject":
            return r.runner.reject(action_id, actor, _text(data, "reason", required=False))
        return r.runner.rollback(action_id, actor)
    if op == "playbook_approve":
        run_id = _text(data, "run_id")
        if r.playbooks.runs.get(run_id).incident_id != inc.id:
            raise NotFoundError(f"playbook run {run_id} not found")
        return r.playbooks.approve(run_id, actor)
    raise ValidationError(f"unknown operation {op!r} (known: {', '.join(OPERATIONS)})")


def now_utc() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "OPERATIONS",
    "RespondContext",
    "RespondDep",
    "get_respond",
    "incident_detail",
    "incident_rows",
    "metrics",
    "operate",
    "respond_context",
]
