"""Give an isolated host its network back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mamori.respond.actions._endpoint import send_command
from mamori.respond.actions.base import Action, ActionContext, ActionResult, actions, host_param
from mamori.respond.commands import CommandKind


@actions.register
class ReleaseHostAction(Action):
    NAME = "release_host"
    DESCRIPTION = "隔離した端末のネットワーク接続を戻す"
    PARAMS = {"host": False, "wait": False, "ttl": False}
    REVERSIBLE = True

    def run(self, ctx: ActionContext, params: Mapping[str, Any]) -> ActionResult:
        host = host_param(ctx, params)
        result = send_command(ctx, CommandKind.RELEASE_HOST, host, {}, params)
        return ActionResult(result.ok, result.message, result.detail, rollback={"host": host})

    def rollback(self, ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
        return send_command(ctx, CommandKind.ISOLATE_HOST, str(data["host"]), {}, {})
