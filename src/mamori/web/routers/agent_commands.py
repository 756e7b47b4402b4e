"""The endpoint command queue for agents: ``/api/v1/agent/commands`` (``agent`` API keys).

An agent polls with its host name and receives the queued commands of its tenant for that
host (each delivered once); it reports each result back. Commands of other tenants do not
exist for it (404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from mamori.errors import NotFoundError
from mamori.store.repos.respond import to_doc
from mamori.store.tables import Tenant
from mamori.web.deps import Principal, SessionDep, require_key
from mamori.web.respond_web import get_respond

router = APIRouter(tags=["agent"])

AgentKey = Annotated[Principal, Depends(require_key("agent"))]


class CommandResult(BaseModel):
    command_id: str = Field(min_length=1, max_length=64)
    ok: bool
    result: dict[str, Any] = Field(default_factory=dict)


def _slug(session: Session, principal: Principal) -> str:
    tenant = session.get(Tenant, principal.home_tenant_id)
    if tenant is None:
        raise NotFoundError("tenant not found")
    slug = tenant.slug
    # the queue writes through its own connection: end this request's transaction (the
    # key's last-used stamp) first, so it holds no SQLite write lock meanwhile
    session.commit()
    return slug


@router.get("/api/v1/agent/commands")
def fetch_commands(
    request: Request,
    session: SessionDep,
    principal: AgentKey,
    host: Annotated[str, Query(min_length=1, max_length=255)],
) -> list[dict[str, Any]]:
    """Pending commands for ``host`` of the key's tenant (marked delivered)."""
    respond, store = get_respond(request)
    now = respond.clock()
    pending = store.commands.pending(_slug(session, principal), host, now)
    return [dict(to_doc(c)) for c in pending]


@router.post("/api/v1/agent/commands/result")
def report_result(
    request: Request,
    session: SessionDep,
    principal: AgentKey,
    body: CommandResult,
) -> dict[str, Any]:
    """Report what the agent did; the action waiting for it on the incident is updated."""
    respond, store = get_respond(request)
    command_id = body.command_id
    command = store.commands.get(command_id)
    if command.tenant != _slug(session, principal):
        raise NotFoundError(f"command {command_id} not found")
    done = store.commands.complete(command_id, ok=body.ok, result=body.result, now=respond.clock())
    if done.incident_id:
        respond.service.record_event(
            done.incident_id,
            "command",
            f"端末コマンド {done.kind.value} ({done.host}): " + ("成功" if body.ok else "失敗"),
            _agent_actor(principal),
            command_id=done.id,
            status=done.status.value,
        )
    answer: dict[str, Any] = to_doc(done)
    return answer


def _agent_actor(principal: Principal) -> Any:
    from mamori.respond.models import SYSTEM, Actor

    return Actor(name=f"agent:{principal.name}", role=SYSTEM.role)


__all__ = ["router"]
