"""Shared helper of the actions that send a command to the endpoint agent."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from mamori.respond.actions.base import ActionContext, ActionResult
from mamori.respond.commands import CommandKind, CommandStatus, EndpointCommand
from mamori.respond.errors import ActionError


def send_command(
    ctx: ActionContext,
    kind: CommandKind,
    host: str,
    args: dict[str, Any],
    params: Mapping[str, Any],
) -> ActionResult:
    """Enqueue; with ``wait: <seconds>`` also wait for the agent's answer.

    Without ``wait`` the action succeeds once the command is queued (the agent reports
    later on the command). With it, a failed command raises and no answer in time raises
    too, so the runner records a failure rather than an optimistic success.
    """
    queue = ctx.deps.need_commands()
    ttl = timedelta(seconds=float(params.get("ttl", 86400)))
    cmd = queue.enqueue(
        EndpointCommand.new(
            tenant=ctx.tenant,
            host=host,
            kind=kind,
            args=args,
            created_by=ctx.actor.name,
            now=ctx.now,
            ttl=ttl,
            incident_id=ctx.incident.id,
        )
    )
    wait = params.get("wait")
    if not wait:
        return ActionResult(
            ok=True,
            message=f"{kind.value} queued for {host}",
            detail={"command_id": cmd.id},
        )
    deadline = time.monotonic() + float(wait)
    while time.monotonic() < deadline:
        current = queue.get(cmd.id)
        if current.status is CommandStatus.SUCCEEDED:
            return ActionResult(
                ok=True,
                message=f"{kind.value} done on {host}",
                detail={"command_id": cmd.id, "result": current.result},
            )
        if current.status.finished:
            raise ActionError(
                f"{kind.value} on {host} {current.status.value}: {current.result.get('error', '')}"
            )
        time.sleep(0.05)
    raise ActionError(f"{kind.value} on {host}: no answer from the agent within {wait} s")
