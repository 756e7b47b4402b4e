"""Cut a host off the network (the agent keeps its link to mamori)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mamori.respond.actions._endpoint import send_command
from mamori.respond.actions.base import Action, ActionContext, ActionResult, actions, host_param
from mamori.respond.commands import CommandKind


@actions.register
class IsolateHostAction(Action):
    NAME = "isolate_host"
    DESCRIPTION = "端末をネットワークから隔離する（管理通信は維持）"
    PARAMS = {"host": False, "wait": False, "ttl": False}
    REVERSIBLE = True

    def run(self, ctx: ActionContext, params: Mapping[str, Any]) -> ActionResult:
        host = host_param(ctx, params)
        result = send_command(ctx, CommandKind.ISOLATE_HOST, host, {}, params)
        return ActionResult(result.ok, result.message, result.detail, rollback={"host": host})

    def rollback(self, ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
        return send_command(ctx, CommandKind.RELEASE_HOST, str(data["host"]), {}, {})
