"""Move a file on a host into the agent's quarantine (restorable)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mamori.errors import ValidationError
from mamori.respond.actions._endpoint import send_command
from mamori.respond.actions.base import Action, ActionContext, ActionResult, actions, host_param
from mamori.respond.blocklist import IndicatorKind, normalise_indicator
from mamori.respond.commands import CommandKind
from mamori.respond.errors import ActionError


@actions.register
class QuarantineFileAction(Action):
    NAME = "quarantine_file"
    DESCRIPTION = "端末上のファイルを隔離する（復元可能）"
    PARAMS = {"host": False, "path": True, "sha256": False, "wait": False, "ttl": False}
    REVERSIBLE = True

    def run(self, ctx: ActionContext, params: Mapping[str, Any]) -> ActionResult:
        host = host_param(ctx, params)
        path = str(params.get("path") or "").strip()
        if not path:
            raise ActionError("quarantine_file needs a path")
        args: dict[str, Any] = {"path": path}
        if params.get("sha256"):
            try:
                args["sha256"] = normalise_indicator(IndicatorKind.HASH, str(params["sha256"]))[1]
            except ValidationError as exc:
                raise ActionError(str(exc)) from None
        result = send_command(ctx, CommandKind.QUARANTINE_FILE, host, args, params)
        return ActionResult(
            result.ok, result.message, result.detail, rollback={"host": host, **args}
        )

    def rollback(self, ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
        args = {k: v for k, v in data.items() if k != "host"}
        return send_command(ctx, CommandKind.RESTORE_FILE, str(data["host"]), args, {})
